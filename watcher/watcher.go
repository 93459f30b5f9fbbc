package watcher

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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
	pollMu   sync.Mutex // one poll at a time
	ready    atomic.Bool
	stopping atomic.Bool // set on shutdown: finish the action in flight, start no other
	created  time.Time

	mu          sync.Mutex // guards everything below
	states      map[string]GroupState
	since       map[string]time.Time
	standbyFrom map[string]time.Time
	nodes       map[string]agent.NodeInfo
	nodeStates  map[string]agent.State
	version     string
	session     string
	lastStart   time.Time
	lastSuccess time.Time
	lastErr     string
	failStreak  int
	transitions []Transition
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
		nodeStates: map[string]agent.State{}, dryRunSeen: map[string]string{},
	}
	w.created = o.Now()
	for _, g := range o.Groups {
		w.states[g.Name()] = GroupState{Phase: PhaseUnknown}
		w.roles[g.Primary] = role{group: g.Name(), primary: true}
		for _, s := range g.Standbys {
			w.roles[s] = role{group: g.Name()}
		}
	}
	return w
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
	w.mu.Lock()
	w.failStreak++
	changed := err.Error() != w.lastErr
	streak := w.failStreak
	w.lastErr = err.Error()
	w.mu.Unlock()
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
	w.failStreak, w.lastErr, w.lastSuccess = 0, "", now
	if w.session != "" && snap.Session != "" && snap.Session != w.session {
		w.m.controllerStart.Inc()
		w.log.Info("Jenkins controller restarted; agents get time to reconnect before a primary counts as down",
			"version", snap.Version, "grace_polls", w.params.FailoverAfter)
		for name, st := range w.states {
			st.Grace, st.PrimaryDownPolls = w.params.FailoverAfter, 0
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
		w.m.state.setNode(name, st)
	}
	w.mu.Unlock()
	w.ready.Store(true)
	w.m.jenkinsUp.Set(1)
	w.m.lastSuccess.Set(float64(now.UnixNano()) / 1e9)
	w.m.polls.WithLabelValues("ok").Inc()
}

func (w *Watcher) pollGroup(ctx context.Context, g config.Group, snap agent.Snapshot) {
	w.mu.Lock()
	prev := w.states[g.Name()]
	w.mu.Unlock()

	d := Decide(g, prev, snap.Nodes, w.params)
	committed := true
	failbackDone := false
	if len(d.Actions) > 0 {
		results := w.act(ctx, g, d.Actions)
		for i, a := range d.Actions {
			if a.Commits && !results[i].achieved {
				committed = false
			}
			if d.Failback && a.Commits && results[i].result == ResultOK {
				failbackDone = true
			}
		}
	}
	next := d.Next
	if !committed {
		next = d.OnFailure
	}
	if w.dryRun && len(d.Actions) > 0 {
		// Nothing was sent: remember no attempt, so the same decision
		// stands on the next poll instead of walking the standbys.
		next = d.OnFailure
		next.Candidate, next.CandidatePolls, next.Tried = prev.Candidate, prev.CandidatePolls, prev.Tried
	}
	if d.Failover {
		w.m.failovers.WithLabelValues(g.Name()).Inc()
		w.log.Info("failover complete", "group", g.Name(), "active", next.Active)
	}
	if d.Failback && committed && failbackDone {
		w.m.failbacks.WithLabelValues(g.Name()).Inc()
		w.log.Info("failback complete", "group", g.Name(), "parked", prev.Active)
	}
	w.commit(g, prev, next)
}

func (w *Watcher) commit(g config.Group, prev, next GroupState) {
	now := w.now()
	name := g.Name()
	w.mu.Lock()
	defer w.mu.Unlock()
	w.states[name] = next
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
	w.m.state.setGroup(name, groupView{phase: next.Phase, active: next.Active, since: w.since[name], standbySince: w.standbyFrom[name]})
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

// act carries out a group's actions in order. Every toggle is preceded by
// a fresh read that confirms it is still wanted and followed by a read
// that confirms it took; no node is changed twice in one poll.
func (w *Watcher) act(ctx context.Context, g config.Group, actions []Action) []actionResult {
	results := make([]actionResult, len(actions))
	failed := map[string]bool{}
	reads := map[string]agent.NodeInfo{} // node -> its read after a toggle in this poll
	count := w.logDryRun(g, actions)
	for i, a := range actions {
		log := w.log.With("group", g.Name(), "node", a.Node, "action", string(a.Kind), "why", a.Why)
		var r actionResult
		switch {
		case w.stopping.Load():
			r = actionResult{result: ResultSkipped}
		case w.refuse(g, a) != nil:
			log.Error("refusing action", "error", w.refuse(g, a))
			r = actionResult{result: ResultError}
		case w.dryRun:
			r = actionResult{result: ResultDryRun}
		case failed[a.Node]:
			// An earlier change to this node failed in this poll.
			r = actionResult{result: ResultSkipped}
		default:
			r = w.do(ctx, log, a, reads)
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

func (w *Watcher) do(ctx context.Context, log *slog.Logger, a Action, reads map[string]agent.NodeInfo) actionResult {
	fail := func(msg string, err error) actionResult {
		log.Error(msg, "error", err, "kind", errorKind(err))
		if k := errorKind(err); k != "" {
			w.m.jenkinsErrors.WithLabelValues(k).Inc()
		}
		return actionResult{result: ResultError}
	}
	switch a.Kind {
	case ActionOnline:
		if _, done := reads[a.Node]; done {
			return actionResult{result: ResultSkipped}
		}
		fresh, err := w.j.Computer(ctx, a.Node)
		if err != nil {
			return fail("fresh read before toggle failed; not toggling", err)
		}
		if st := agent.Classify(fresh, true); st != agent.Parked {
			log.Warn("not toggling: a fresh read shows the node is no longer parked", "state", st, "reason", fresh.CauseReason)
			return actionResult{result: ResultSkipped, achieved: st == agent.Online}
		}
		reads[a.Node] = fresh
		if err := w.j.BringOnline(ctx, a.Node); err != nil {
			return fail("toggleOffline failed", err)
		}
		after, err := w.j.Computer(ctx, a.Node)
		if err != nil {
			return fail("read after toggle failed; the next poll will tell", err)
		}
		reads[a.Node] = after
		if after.TemporarilyOffline {
			return fail("toggle did not take effect", errors.New("node still temporarily offline"))
		}
		log.Info("standby brought online", "connected", after.Connected)
		return actionResult{result: ResultOK, achieved: true}
	case ActionPark:
		fresh, err := w.j.Computer(ctx, a.Node)
		if err != nil {
			return fail("fresh read before park failed; not parking", err)
		}
		switch agent.Classify(fresh, true) {
		case agent.Held:
			log.Warn("not parking: someone else holds the node", "reason", fresh.CauseReason)
			return actionResult{result: ResultSkipped}
		case agent.Parked:
			if !a.Retag {
				return actionResult{result: ResultSkipped, achieved: true}
			}
		}
		if err := w.j.Park(ctx, a.Node, agent.ParkMessage(a.Why)); err != nil {
			return fail("park failed", err)
		}
		log.Info("standby parked; running builds go on")
		return actionResult{result: ResultOK, achieved: true}
	case ActionLaunch:
		fresh, ok := reads[a.Node]
		if !ok {
			var err error
			if fresh, err = w.j.Computer(ctx, a.Node); err != nil {
				return fail("fresh read before launch failed; not launching", err)
			}
			if st := agent.Classify(fresh, true); st == agent.Held {
				log.Warn("not launching: someone else holds the node", "reason", fresh.CauseReason)
				return actionResult{result: ResultSkipped}
			}
		}
		if fresh.Connected {
			return actionResult{result: ResultSkipped, achieved: true}
		}
		if err := w.j.Launch(ctx, a.Node); err != nil {
			return fail("launch failed", err)
		}
		log.Info("launch requested")
		return actionResult{result: ResultOK, achieved: true}
	}
	return actionResult{result: ResultError}
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
