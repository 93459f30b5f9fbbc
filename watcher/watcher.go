package watcher

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/agent"
	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/config"
)

// Options configure a Watcher.
type Options struct {
	Jenkins    Jenkins
	Groups     []config.Group
	Params     Params
	DryRun     bool
	Logger     *slog.Logger
	Metrics    *Metrics
	Now        func() time.Time // default time.Now
	JenkinsURL string           // shown in /status; carries no credentials
	// StallAfter is how long without a poll starting, or with one poll
	// running, before the loop is reported not live.
	StallAfter time.Duration
}

// Watcher runs poll cycles and keeps what they learned.
type Watcher struct {
	j        Jenkins
	groups   []config.Group
	params   Params
	dryRun   bool
	log      *slog.Logger
	m        *Metrics
	now      func() time.Time
	url      string
	stall    time.Duration
	roles    map[string]role
	me       string     // this instance, as its claims name it
	pollMu   sync.Mutex // one poll at a time
	ready    atomic.Bool
	stopping atomic.Bool // set on shutdown: finish the action in flight, start no other
	created  time.Time
	// holds are the people's holds seen on watched nodes (holds.go), and
	// released the nodes this watchdog brought online in the last poll;
	// both are the poll's own, under pollMu.
	holds    map[string]hold
	released map[string]bool
	// gen moves on after every change Status would show, so that a
	// reader can keep what it made of one Status until gen moves.
	gen atomic.Uint64

	mu          sync.Mutex // guards everything below
	states      map[string]GroupState
	since       map[string]time.Time
	standbyFrom map[string]time.Time
	nodes       map[string]agent.NodeInfo
	nodeStates  map[string]agent.State
	standbys    map[string]*standbyWatch
	version     string
	session     string
	lastStart   time.Time
	lastSuccess time.Time
	lastErr     string
	lastErrKind string
	failStreak  int
	transitions []Transition
	timelines   map[string]*timeline // per group, timeline.go
	dryRunSeen  map[string]string
}

type role struct {
	group   string
	primary bool
}

// Transition is a change of a group's state.
type Transition struct {
	Time   time.Time `json:"time"`
	Group  string    `json:"group"`
	From   Phase     `json:"from"`
	To     Phase     `json:"to"`
	Active string    `json:"active"`
}

const keepTransitions = 50

// New builds a Watcher. It makes no request.
func New(o Options) *Watcher {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Metrics == nil {
		o.Metrics = NewMetrics(prometheus.NewRegistry(), o.Groups, nil)
	}
	w := &Watcher{
		j: o.Jenkins, groups: o.Groups, params: o.Params, dryRun: o.DryRun, log: o.Logger,
		m: o.Metrics, now: o.Now, url: o.JenkinsURL, stall: o.StallAfter,
		roles:  map[string]role{},
		states: map[string]GroupState{}, since: map[string]time.Time{}, standbyFrom: map[string]time.Time{},
		nodeStates: map[string]agent.State{}, dryRunSeen: map[string]string{}, standbys: map[string]*standbyWatch{},
		holds: map[string]hold{}, released: map[string]bool{}, timelines: map[string]*timeline{},
	}
	w.me = agent.SanitizeInstance(o.Params.Instance)
	w.params.Instance = w.me
	w.params.DryRun = o.DryRun
	w.created = o.Now()
	o.Metrics.state.bind(w)
	for _, g := range o.Groups {
		w.states[g.Name()] = GroupState{Phase: PhaseUnknown}
		// The picture of the day starts with the watchdog: unknown until
		// the first poll.
		w.recordLocked(g.Name(), Segment{Start: w.created, State: PhaseUnknown})
		w.roles[g.Primary] = role{group: g.Name(), primary: true}
		for _, s := range g.Standbys {
			w.roles[s] = role{group: g.Name()}
		}
	}
	return w
}

// eachState hands the metrics collector the state it renders, under the
// watcher's lock: every node's reading and every group's view.
func (w *Watcher) eachState(node func(string, agent.State, bool), group func(string, groupView)) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for name, st := range w.nodeStates {
		n, ok := w.nodes[name]
		node(name, st, agent.Judge(n, ok).Ready)
	}
	for _, g := range w.groups {
		name := g.Name()
		st := w.states[name]
		group(name, groupView{phase: st.Phase, active: st.Active, since: w.since[name], standbySince: w.standbyFrom[name]})
	}
}

// Ready reports whether the last poll of Jenkins succeeded.
func (w *Watcher) Ready() bool { return w.ready.Load() }

// Live reports whether the loop is turning: a poll started recently and
// none has been stuck for longer than StallAfter.
func (w *Watcher) Live() bool {
	if w.stall <= 0 {
		return true
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	now := w.now()
	last := w.lastStart
	if last.IsZero() {
		last = w.created
	}
	return now.Sub(last) <= w.stall
}

// Poll runs one cycle: read every node once, decide for every group, act,
// record. A failed read changes nothing in Jenkins. A panic is recovered
// and counted; the next poll runs as usual.
func (w *Watcher) Poll(ctx context.Context) (err error) {
	if !w.pollMu.TryLock() {
		return errors.New("a poll is already running")
	}
	defer w.pollMu.Unlock()
	start := w.now()
	w.mu.Lock()
	w.lastStart = start
	w.mu.Unlock()
	w.gen.Add(1)
	defer func() {
		if r := recover(); r != nil {
			w.m.panics.Inc()
			w.log.Error("poll panicked; recovered", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			err = fmt.Errorf("poll panicked: %v", r)
			w.pollFailed(err, "")
		}
		w.m.pollDuration.Observe(w.now().Sub(start).Seconds())
	}()

	snap, err := w.j.Computers(ctx)
	if err != nil {
		w.pollFailed(err, errorKind(err))
		return err
	}
	w.restoreHolds(ctx, snap)
	w.pollSucceeded(snap)
	for _, g := range w.groups {
		if w.stopping.Load() {
			// Shutting down: the action in flight was finished; start
			// no new group.
			break
		}
		w.pollGroup(ctx, g, snap)
	}
	return nil
}

func (w *Watcher) pollFailed(err error, kind string) {
	w.ready.Store(false)
	w.m.jenkinsUp.Set(0)
	w.m.polls.WithLabelValues("error").Inc()
	if kind != "" {
		w.m.jenkinsErrors.WithLabelValues(kind).Inc()
	}
	now := w.now()
	w.mu.Lock()
	w.recordPollFailedLocked(now)
	w.failStreak++
	changed := err.Error() != w.lastErr
	streak := w.failStreak
	w.lastErr, w.lastErrKind = err.Error(), kind
	w.mu.Unlock()
	w.gen.Add(1)
	// Log when the failure starts or changes, then every 30 polls, so a
	// long outage is visible without flooding the log.
	if changed || streak%30 == 0 {
		w.log.Error("poll of Jenkins failed; nothing changed in Jenkins", "error", err, "kind", kind, "consecutive_failures", streak)
	}
}

func (w *Watcher) pollSucceeded(snap agent.Snapshot) {
	now := w.now()
	w.mu.Lock()
	if w.failStreak > 0 {
		w.log.Info("Jenkins answers again", "after_failures", w.failStreak)
	}
	w.failStreak, w.lastErr, w.lastErrKind, w.lastSuccess = 0, "", "", now
	if w.session != "" && snap.Session != "" && snap.Session != w.session {
		w.m.controllerStart.Inc()
		w.log.Info("Jenkins controller restarted; agents get time to reconnect before a primary counts as down",
			"version", snap.Version, "grace_polls", w.params.FailoverAfter)
		for name, st := range w.states {
			st.Grace, st.PrimaryDownPolls = w.params.FailoverAfter, 0
			// A group with no failover under way starts afresh, and its
			// primary gets the start-up patience; one failing over or
			// carried keeps its course.
			if !st.Phase.StandbyCarries() && st.Phase != PhaseFailingOver && st.Phase != PhaseDown {
				st.Settled = false
			}
			w.states[name] = st
		}
	}
	w.version, w.session, w.nodes = snap.Version, snap.Session, snap.Nodes
	for name := range w.roles {
		n, ok := snap.Nodes[name]
		st := agent.Classify(n, ok)
		if old := w.nodeStates[name]; old != st && old != "" {
			w.log.Info("node state changed", "node", name, "from", old, "to", st, "reason", n.CauseReason)
		}
		w.nodeStates[name] = st
	}
	w.watchStandbysLocked(snap.Nodes, now)
	w.mu.Unlock()
	w.ready.Store(true)
	w.gen.Add(1)
	w.m.jenkinsUp.Set(1)
	w.m.lastSuccess.Set(float64(now.UnixNano()) / 1e9)
	w.m.polls.WithLabelValues("ok").Inc()
}

func (w *Watcher) pollGroup(ctx context.Context, g config.Group, snap agent.Snapshot) {
	w.mu.Lock()
	prev := w.states[g.Name()]
	w.mu.Unlock()

	d := Decide(g, prev, Input{Nodes: snap.Nodes, Now: w.now(), Jitter: w.jitter()}, w.params)
	committed := true
	parked := map[string]bool{} // nodes a park of this poll left parked
	if len(d.Actions) > 0 {
		results := w.act(ctx, g, d.Actions)
		for i, a := range d.Actions {
			if a.Commits && !results[i].achieved {
				committed = false
			}
			if a.Kind == ActionPark && results[i].achieved && results[i].result != ResultDryRun {
				parked[a.Node] = true
			}
		}
	}
	next := d.Next
	if !committed {
		next = d.OnFailure
	}
	for _, n := range d.Unparked {
		if !parked[n] {
			continue // counted once the park takes
		}
		w.m.unparked.WithLabelValues(g.Name()).Inc()
		w.log.Warn("standby came online with no failover in progress; parked it again (Jenkins 2.482 to 2.555.2 drop the temporarily-offline mark of agents configured as code on restart and reload)",
			"group", g.Name(), "node", n)
	}
	if d.WaitsForPeer && prev.PeerClaim != next.PeerClaim {
		w.log.Info("another watchdog instance claimed the standby; waiting for it", "group", g.Name(),
			"node", next.Claimed, "instance", next.PeerClaim)
	}
	if d.ClaimTakenOver != "" {
		w.m.peerClaims.WithLabelValues(g.Name(), claimTakenOver).Inc()
		w.log.Warn("another instance's claim stood too long; taking the standby over", "group", g.Name(), "node", next.Claimed, "instance", d.ClaimTakenOver)
	}
	if d.ClaimAbandoned != "" {
		w.m.peerClaims.WithLabelValues(g.Name(), claimAbandoned).Inc()
		w.log.Warn("a claimed standby did not come online within the attempt bound; counted as tried, the next standby is used",
			"group", g.Name(), "instance", d.ClaimAbandoned, "bound_polls", AttemptBound(w.params.StandbyWait))
	}
	if d.Failover {
		w.m.failovers.WithLabelValues(g.Name()).Inc()
		w.log.Info("failover complete", "group", g.Name(), "active", next.Active)
	}
	// A failback done by another instance a moment earlier counts here
	// too: every instance reports the group's history, not its own hand.
	if (d.Failback && committed && !w.dryRun) || d.FailbackSeen {
		w.m.failbacks.WithLabelValues(g.Name()).Inc()
		w.log.Info("failback complete", "group", g.Name(), "parked", prev.Active)
	}
	w.commit(g, prev, next)
	w.keepWarm(ctx, g, next.Phase, snap.Nodes)
}

// jitter is a random number of polls, up to STANDBY_WAIT, that spreads
// the moment instances take over a claim that stood too long.
func (w *Watcher) jitter() int {
	return rand.IntN(max(w.params.StandbyWait, 1) + 1)
}

func (w *Watcher) commit(g config.Group, prev, next GroupState) {
	now := w.now()
	name := g.Name()
	w.mu.Lock()
	defer w.mu.Unlock()
	defer w.gen.Add(1)
	w.states[name] = next
	w.recordLocked(name, Segment{Start: now, State: next.Phase, Active: next.Active})
	if prev.Phase != next.Phase || w.since[name].IsZero() {
		w.since[name] = now
		w.transitions = append(w.transitions, Transition{Time: now, Group: name, From: prev.Phase, To: next.Phase, Active: next.Active})
		if len(w.transitions) > keepTransitions {
			w.transitions = w.transitions[len(w.transitions)-keepTransitions:]
		}
		attrs := []any{"group", name, "from", prev.Phase, "to", next.Phase, "active", next.Active}
		if next.Phase == PhaseDown {
			w.log.Error("group is down: primary offline and no standby can carry it", attrs...)
		} else {
			w.log.Info("group state changed", attrs...)
		}
	}
	standby := next.Phase.StandbyCarries() && next.Active != "" && next.Active != g.Primary
	switch {
	case standby && w.standbyFrom[name].IsZero():
		w.standbyFrom[name] = now
	case !standby:
		delete(w.standbyFrom, name)
	}
}

func unixSeconds(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixNano()) / 1e9
}

type actionResult struct {
	result   string
	achieved bool // the node is now as the action wanted
}

// act carries out a group's actions in order. Each is one intent of the
// Jenkins adapter (fresh read, guard, change, confirming read); after a
// node's change fails or is declined, nothing else is asked of that node
// in this poll.
func (w *Watcher) act(ctx context.Context, g config.Group, actions []Action) []actionResult {
	results := make([]actionResult, len(actions))
	failed := map[string]bool{}
	count := w.logDryRun(g, actions)
	for i, a := range actions {
		log := w.log.With("group", g.Name(), "node", a.Node, "action", string(a.Kind), "why", a.Why)
		var r actionResult
		// On shutdown the change in flight is finished: a claim with its
		// toggle and launch, which are one change of one node.
		continues := i > 0 && actions[i-1].Node == a.Node && results[i-1].achieved
		switch {
		case w.stopping.Load() && !continues:
			r = actionResult{result: ResultSkipped}
		case w.refuse(g, a) != nil:
			log.Error("refusing action", "error", w.refuse(g, a))
			r = actionResult{result: ResultError}
		case w.dryRun:
			r = actionResult{result: ResultDryRun}
		case failed[a.Node]:
			r = actionResult{result: ResultSkipped}
		default:
			r = w.do(ctx, log, g, a)
		}
		if !r.achieved {
			failed[a.Node] = true
		}
		if count {
			w.m.state.countAction(a.Node, a.Kind, r.result)
		}
		results[i] = r
	}
	return results
}

// logDryRun logs a dry run's decision once, not on every poll it repeats,
// and reports whether to count it. Outside dry runs it always counts.
func (w *Watcher) logDryRun(g config.Group, actions []Action) bool {
	if !w.dryRun {
		return true
	}
	var key strings.Builder
	for _, a := range actions {
		fmt.Fprintf(&key, "%s %s;", a.Kind, a.Node)
	}
	if w.dryRunSeen[g.Name()] == key.String() {
		return false
	}
	w.dryRunSeen[g.Name()] = key.String()
	for _, a := range actions {
		w.log.Info("dry run: would act", "group", g.Name(), "node", a.Node, "action", string(a.Kind), "why", a.Why)
	}
	return true
}

// refuse is the last guard before any request that changes Jenkins.
func (w *Watcher) refuse(g config.Group, a Action) error {
	r, ok := w.roles[a.Node]
	switch {
	case !ok || r.group != g.Name():
		return fmt.Errorf("node %q is not a standby of group %q", a.Node, g.Name())
	case r.primary:
		return fmt.Errorf("node %q is the primary; the watchdog never changes a primary", a.Node)
	}
	return nil
}

// errAlreadyParked declines a park that a fresh read shows is not needed.
var errAlreadyParked = errors.New("already parked")

func (w *Watcher) do(ctx context.Context, log *slog.Logger, g config.Group, a Action) actionResult {
	var ch agent.Change
	var err error
	switch a.Kind {
	case ActionOnline:
		ch, err = w.j.BringOnline(ctx, a.Node, w.ownClaim)
	case ActionClaim:
		ch, err = w.j.Park(ctx, a.Node, a.Message, w.claimable(a.Replaces))
	case ActionPark:
		ch, err = w.j.Park(ctx, a.Node, a.Message, parkable(a))
	case ActionLaunch:
		ch, err = w.j.Launch(ctx, a.Node, notHeld)
	}
	if err != nil {
		kind := errorKind(err)
		log.Error(string(a.Kind)+" failed; the next poll will tell", "error", err, "kind", kind)
		if kind != "" {
			w.m.jenkinsErrors.WithLabelValues(kind).Inc()
		}
		return actionResult{result: ResultError}
	}
	switch ch.Outcome {
	case agent.Declined:
		if errors.Is(ch.Reason, errAlreadyParked) {
			return actionResult{result: ResultSkipped, achieved: true}
		}
		log.Warn("not done: a fresh read shows it is no longer wanted", "reason", ch.Reason)
		return actionResult{result: ResultSkipped}
	case agent.Already:
		return actionResult{result: ResultSkipped, achieved: true}
	}
	switch a.Kind {
	case ActionClaim:
		if owner := agent.ClaimOwner(ch.After); owner != w.me {
			// Another instance wrote its claim at the same moment; the
			// last writer wins and the others wait for it.
			w.m.claimCollisions.WithLabelValues(g.Name()).Inc()
			log.Info("another watchdog instance claimed the standby at the same time; leaving it to that instance", "instance", owner)
			return actionResult{result: ResultOK}
		}
		log.Info("standby claimed")
	case ActionOnline:
		w.released[a.Node] = true
		log.Info("standby brought online", "connected", ch.After.Connected)
	case ActionPark:
		log.Info("standby parked; running builds go on")
	case ActionLaunch:
		log.Info("launch requested")
	}
	return actionResult{result: ResultOK, achieved: true}
}

// ownClaim lets a toggle go ahead only on a parked standby that carries
// this instance's claim.
func (w *Watcher) ownClaim(n agent.NodeInfo) error {
	if st := agent.Classify(n, true); st != agent.Parked {
		return fmt.Errorf("the node is %s, not parked", st)
	}
	if owner := agent.ClaimOwner(n); owner != w.me {
		return fmt.Errorf("the standby is claimed by %q, not by this instance", owner)
	}
	return nil
}

// claimable lets a claim be written on a parked standby that no other
// instance claimed, or whose claim (replaces) stood too long.
func (w *Watcher) claimable(replaces string) agent.Guard {
	return func(n agent.NodeInfo) error {
		if st := agent.Classify(n, true); st != agent.Parked {
			return fmt.Errorf("the node is %s, not parked", st)
		}
		if owner := agent.ClaimOwner(n); owner != "" && owner != w.me && owner != replaces {
			return fmt.Errorf("another instance (%s) claimed it", owner)
		}
		return nil
	}
}

func parkable(a Action) agent.Guard {
	return func(n agent.NodeInfo) error {
		switch st := agent.Classify(n, true); {
		case st == agent.Held:
			return fmt.Errorf("someone else holds the node: %q", n.CauseReason)
		case st == agent.Online && a.OnlyIfOffline:
			return errors.New("the node came online meanwhile")
		case st == agent.Parked && !a.Retag:
			return errAlreadyParked
		}
		return nil
	}
}

func notHeld(n agent.NodeInfo) error {
	if agent.Classify(n, true) == agent.Held {
		return fmt.Errorf("someone else holds the node: %q", n.CauseReason)
	}
	return nil
}

// errorKind reads the kind of a jenkins package error without importing it.
func errorKind(err error) string {
	var k interface{ ErrorKind() string }
	if errors.As(err, &k) {
		return k.ErrorKind()
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "timeout"
	}
	return "" // not a failed request to Jenkins
}
