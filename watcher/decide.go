package watcher

import (
	"maps"
	"time"

	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/agent"
	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/config"
)

// Phase is a group's state, as shown in /status and metrics.
type Phase string

const (
	PhaseUnknown         Phase = "unknown"          // no successful poll yet
	PhaseNormal          Phase = "normal"           // primary online, every standby parked
	PhaseSuspect         Phase = "suspect"          // primary offline, not long enough to fail over
	PhaseFailingOver     Phase = "failing_over"     // a standby was asked to come online and is not online yet
	PhaseFailedOver      Phase = "failed_over"      // primary down, a standby carries
	PhaseMaintenance     Phase = "maintenance"      // primary held by a person, a standby carries
	PhaseFailingBack     Phase = "failing_back"     // primary back, standby carries until FAILBACK_AFTER polls
	PhaseFailbackPending Phase = "failback_pending" // primary back and stable, failback waits for its window
	PhaseManualFailback  Phase = "manual_failback"  // primary back, standby carries until an operator parks it
	PhaseDown            Phase = "down"             // primary down and no standby can carry
)

// Phases lists every phase, for metrics.
var Phases = []Phase{PhaseNormal, PhaseSuspect, PhaseFailingOver, PhaseFailedOver, PhaseMaintenance,
	PhaseFailingBack, PhaseFailbackPending, PhaseManualFailback, PhaseDown, PhaseUnknown}

// StandbyCarries reports whether a standby is carrying the group.
func (p Phase) StandbyCarries() bool {
	switch p {
	case PhaseFailedOver, PhaseMaintenance, PhaseFailingBack, PhaseFailbackPending, PhaseManualFailback:
		return true
	}
	return false
}

// Window is when automatic failback may happen; nil means any time.
type Window interface{ Contains(time.Time) bool }

// Params are the knobs of the decision.
type Params struct {
	FailoverAfter int
	FailbackAfter int
	StandbyWait   int
	// StartupPatience is the number of polls a primary that has not
	// connected since the controller started gets before it counts as
	// down (Jenkins launches agents in the background after a start).
	StartupPatience int
	Failback        config.FailbackMode
	FailbackWindow  Window
	// Instance names this watchdog in the claims it writes on standbys,
	// so that several instances never toggle the same standby.
	Instance string
	DryRun   bool
	// KeepWarm is how often, at most, a parked launchable standby that
	// stays disconnected is launched while the primary carries; 0 never.
	KeepWarm time.Duration
}

// Input is one poll's reading, with what the decision may not take from
// the world itself: the time, and a random number of polls to back off
// after a collision with another instance.
type Input struct {
	Nodes  map[string]agent.NodeInfo
	Now    time.Time
	Jitter int
}

// GroupState is what the watchdog remembers of a group between polls. All
// of it can be rebuilt from Jenkins: a restarted watchdog starts from the
// zero value and reaches the same decisions, only later.
type GroupState struct {
	Phase Phase
	// Active is the node carrying the group ("" when none).
	Active           string
	PrimaryDownPolls int
	PrimaryUpPolls   int
	// Settled is set once the primary has been seen online, or offline
	// with a cause, since the controller started (as far as this watchdog
	// knows: a new watchdog and a controller restart clear it). Until
	// then a primary offline with no cause is still being launched and
	// gets the start-up patience. Jenkins also clears the cause while it
	// relaunches a dead agent; that is no start-up.
	Settled bool
	// Grace is a number of polls during which a primary reading offline
	// is not counted: set when the controller restarted.
	Grace int
	// Attempt is the failover in progress (attempt.go).
	Attempt
}

// ActionKind is a change the watchdog asks of Jenkins.
type ActionKind string

const (
	ActionClaim  ActionKind = "claim"  // changeOfflineCause with this instance's claim, before bringing a standby online
	ActionOnline ActionKind = "online" // toggleOffline a parked standby that carries this instance's claim
	ActionPark   ActionKind = "park"   // changeOfflineCause with the watchdog's tag
	ActionLaunch ActionKind = "launch" // launchSlaveAgent
)

// Action is one change to one node.
type Action struct {
	Kind ActionKind
	Node string
	Why  string
	// Message is the offline message a park or claim writes.
	Message string
	// Commits marks the actions the new state depends on: parking the
	// carrier on failback. Next is kept only when all of them succeed.
	Commits bool
	// Retag parks even a node already parked, to rewrite the message.
	Retag bool
	// OnlyIfOffline parks only a node that is not online: a standby
	// given up on must not be parked if it came online meanwhile.
	OnlyIfOffline bool
	// Replaces is another instance's claim that a claim may overwrite,
	// because it stood too long.
	Replaces string
}

// Decision is the outcome of Decide for one group.
type Decision struct {
	// Next is the state to keep when every action succeeded.
	Next GroupState
	// OnFailure is the state to keep when an action failed or was not
	// sent (dry run): nothing that depends on the change is committed.
	OnFailure GroupState
	Actions   []Action
	// Failover is true when this poll saw the standby being brought up
	// come online: the failover is complete.
	Failover bool
	// Failback is true when the actions return the carrying standby to
	// standby; it counts only if they succeed.
	Failback bool
	// FailbackSeen is true when the carrying standby was found parked
	// with the primary back: a failback done by someone else (another
	// instance, or a person in manual mode).
	FailbackSeen bool
	// Unparked lists standbys found online with no failover in progress
	// (Jenkins dropped their temporarily-offline mark) and parked again.
	Unparked []string
	// WaitsForPeer is true when another instance's claim on the standby
	// is being waited for.
	WaitsForPeer bool
	// ClaimTakenOver names the instance whose claim stood too long and
	// was taken over this poll; ClaimAbandoned the one whose claimed
	// standby was given up, not online within AttemptBound polls.
	ClaimTakenOver, ClaimAbandoned string
}

const counterCap = 1 << 30

// Decide is the whole policy: from the previous state of a group and a
// fresh reading of its nodes, the next state and the changes to ask for.
// It never emits an action on the primary or on a held or missing node, and
// at most one action per node except claim, online and launch in a row.
// Each situation of the README's state table is one method below.
func Decide(g config.Group, prev GroupState, in Input, p Params) Decision {
	s := newSituation(g, prev, in, p) // on the stack: one Decide per group per poll
	switch {
	case s.primaryUp && s.carrier == "" && s.carrierReconnecting():
		// No failback for a blip: the failback goes on as if the carrier
		// were online (a manual one waits, an automatic one parks it
		// after FAILBACK_AFTER polls inside the window).
		s.carrier = s.prev.Active
		s.failingBack()
	case s.primaryUp && s.carrier == "":
		s.normal()
	case s.carrier != "" && s.unparkedByJenkins() && (s.primaryUp || s.startingUp && s.waiting() && s.sawItParked()):
		s.unparked()
	case s.primaryUp:
		s.failingBack()
	case s.carrier != "":
		s.carried()
	case s.waiting():
		s.suspect()
	default:
		s.failingOver()
	}
	return s.done()
}

// situation is one group's decision in the making.
type situation struct {
	g    config.Group
	prev GroupState
	in   Input
	p    Params
	next GroupState
	d    Decision

	primaryUp bool
	// startingUp: the primary has not connected since the controller
	// started (offline with no cause at all).
	startingUp bool
	threshold  int
	carrier    string
	online     []string // standbys online, in priority order
}

func newSituation(g config.Group, prev GroupState, in Input, p Params) situation {
	s := situation{g: g, prev: prev, in: in, p: p, next: prev, threshold: p.FailoverAfter}
	s.next.Tried = maps.Clone(prev.Tried)
	primary, present := in.Nodes[g.Primary]
	s.primaryUp = s.state(g.Primary) == agent.Online
	s.startingUp = present && primary.NeverConnected() && !prev.Settled
	s.next.Settled = prev.Settled || (present && !primary.NeverConnected())
	if s.startingUp {
		s.threshold = max(p.FailoverAfter, p.StartupPatience)
	}
	switch {
	case s.primaryUp:
		s.next.PrimaryUpPolls = min(prev.PrimaryUpPolls+1, counterCap)
		s.next.PrimaryDownPolls, s.next.Grace = 0, 0
	case prev.Grace > 0:
		// The controller just restarted: every agent reads disconnected
		// until it reconnects. Give them time before counting.
		s.next.Grace = prev.Grace - 1
		s.next.PrimaryUpPolls = 0
	default:
		s.next.PrimaryDownPolls = min(prev.PrimaryDownPolls+1, counterCap)
		s.next.PrimaryUpPolls = 0
	}
	for _, sb := range g.Standbys {
		if s.state(sb) == agent.Online {
			s.online = append(s.online, sb)
		}
	}
	s.carrier = chooseCarrier(s.online, prev.Active, in.Nodes)
	return s
}

func (s *situation) state(name string) agent.State {
	n, ok := s.in.Nodes[name]
	return agent.Classify(n, ok)
}

// waiting: the primary is offline, but not for long enough to fail over.
func (s *situation) waiting() bool {
	return !s.primaryUp && s.next.PrimaryDownPolls < s.threshold
}

// broughtUp: the online carrier is one a watchdog brought up or found
// carrying, not one Jenkins put online by itself.
func (s *situation) broughtUp() bool {
	c := s.carrier
	return (c == s.prev.Active && s.prev.Phase.StandbyCarries()) || c == s.prev.Candidate || c == s.prev.Claimed
}

// unparkedByJenkins: the online carrier came up with no failover in
// progress. A watchdog with history knows; a new one (a restart, a new
// peer) cannot tell a standby Jenkins unparked from one carrying a
// failover it did not see, and judges by work: an idle standby is parked
// (that aborts nothing and costs nothing), a busy one is taken as
// carrying.
func (s *situation) unparkedByJenkins() bool {
	if s.broughtUp() {
		return false
	}
	if s.prev.Phase == PhaseUnknown || s.prev.Phase == "" {
		return s.in.Nodes[s.carrier].Idle
	}
	return true
}

// sawItParked: this watchdog saw the group with no standby online on its
// last poll (normal or suspect), so a standby online now while the primary
// is still starting was put online by Jenkins. A watchdog without that
// history (restarted, or a peer that just joined) takes the standby for
// carrying a failover it did not see: Jenkins also shows a dead agent it
// relaunches with no cause.
func (s *situation) sawItParked() bool {
	return s.prev.Phase == PhaseNormal || s.prev.Phase == PhaseSuspect
}

// carrierReconnecting: the standby that carried reads disconnected, not
// parked: its channel dropped (an agent restart, a controller restart)
// and it is reconnecting. That is no failback.
func (s *situation) carrierReconnecting() bool {
	a := s.prev.Active
	return s.prev.Phase.StandbyCarries() && a != "" && a != s.g.Primary && s.state(a) == agent.Disconnected
}

// normal: the primary carries. Standbys that would take builds on
// reconnecting are parked, and messages of a finished failover (give-ups,
// claims) are rewritten, so that the next failover starts afresh.
func (s *situation) normal() {
	// The standby that carried is parked: by another instance, or by a
	// person in manual mode. The failback happened; this poll sees it.
	s.d.FailbackSeen = s.prev.Phase.StandbyCarries() && s.prev.Active != s.g.Primary && s.prev.Active != ""
	s.next.Attempt.reset()
	s.next.Phase, s.next.Active = PhaseNormal, s.g.Primary
	s.parkStrays("")
	for _, sb := range s.g.Standbys {
		n := s.in.Nodes[sb]
		if tried, _ := triedByTag(n); (tried || agent.ClaimOwner(n) != "") && s.state(sb) == agent.Parked {
			s.add(Action{Kind: ActionPark, Node: sb, Why: agent.ParkStandby, Retag: true})
		}
	}
}

// unparked: a standby is online while no failover is in progress (Jenkins
// 2.482 to 2.555.2 drop the temporarily-offline mark of agents configured
// as code on every start and reload). It is parked again at once; it is
// no failback.
func (s *situation) unparked() {
	for _, sb := range s.online {
		s.add(Action{Kind: ActionPark, Node: sb, Why: agent.ParkUnexpected})
		s.d.Unparked = append(s.d.Unparked, sb)
	}
	s.parkStrays("")
	if s.primaryUp {
		s.next.Attempt.reset()
		s.next.Phase, s.next.Active = PhaseNormal, s.g.Primary
		return
	}
	s.next.Phase, s.next.Active = PhaseSuspect, ""
}

// failingBack: the primary is back while a standby carries. The standby is
// parked once the primary has been stable for FAILBACK_AFTER polls, inside
// the failback window, unless failback is manual.
func (s *situation) failingBack() {
	s.next.Attempt.reset()
	s.next.Active = s.carrier
	s.parkOthers()
	switch {
	case s.p.Failback == config.FailbackManual:
		s.next.Phase = PhaseManualFailback
		s.parkStrays(s.carrier)
	case s.next.PrimaryUpPolls < s.p.FailbackAfter:
		s.next.Phase = PhaseFailingBack
		s.parkStrays(s.carrier)
	case s.p.FailbackWindow != nil && !s.p.FailbackWindow.Contains(s.in.Now):
		s.next.Phase = PhaseFailbackPending
		s.parkStrays(s.carrier)
	default:
		s.d.OnFailure = s.next
		s.d.OnFailure.Phase = PhaseFailingBack
		s.add(Action{Kind: ActionPark, Node: s.carrier, Why: agent.ParkPrimaryBack(s.g.Primary), Commits: true})
		s.d.Failback = true
		s.parkStrays("")
		s.next.Phase, s.next.Active = PhaseNormal, s.g.Primary
	}
}

// carried: the primary is offline and a standby is online: it carries.
func (s *situation) carried() {
	// The failover is complete on the first poll that sees the standby
	// this instance, or a peer it saw claim it, brought up carry.
	inProgress := s.prev.Phase == PhaseFailingOver || s.prev.Phase == PhaseDown
	s.d.Failover = !s.prev.Phase.StandbyCarries() && (inProgress || s.prev.Candidate == s.carrier || s.prev.Claimed == s.carrier)
	s.next.Attempt.carried(s.carrier)
	s.next.Active = s.carrier
	s.next.Phase = PhaseFailedOver
	if s.state(s.g.Primary) == agent.Held {
		s.next.Phase = PhaseMaintenance
	}
	s.parkOthers()
	s.parkStrays(s.carrier)
}

// suspect: the primary is offline, not for long enough. On the last poll
// before failing over, the first usable standby is claimed, so that when
// several instances poll in step, the claim of only one stands by the time
// any of them toggles.
func (s *situation) suspect() {
	s.next.Phase, s.next.Active = PhaseSuspect, ""
	if s.next.Grace > 0 || s.next.PrimaryDownPolls+1 < s.threshold || s.prev.Candidate != "" {
		return
	}
	sb := s.pick()
	if sb == "" || s.state(sb) != agent.Parked {
		return
	}
	// A claim already there, this instance's or another's, stands.
	s.next.Claimed = sb
	if agent.ClaimOwner(s.in.Nodes[sb]) == "" {
		s.claim(sb, "")
	}
}

// failingOver: the primary has been offline long enough and no standby is
// online. The candidate is followed, given up on after STANDBY_WAIT polls,
// or the next standby by priority is brought up.
func (s *situation) failingOver() {
	s.next.Active = ""
	if c := s.prev.Candidate; c != "" && s.followCandidate(c) {
		return
	}
	if sb := s.pick(); sb != "" {
		s.next.Attempt.start(sb)
		s.next.Phase = PhaseFailingOver
		s.bringUp(sb)
		s.parkStrays(sb)
		return
	}
	// Nothing can be brought up. Tried standbys whose channel is down are
	// launched (they stay parked: no build lands on them) so that they
	// can be tried again once connected. A tried standby that reconnects
	// by itself is left alone: it will carry, which beats nothing carrying.
	s.next.Phase = PhaseDown
	// Parked, a standby hides whether Jenkins is launching it, and a launch
	// forces a reconnect: launch on entering down, then every STANDBY_WAIT
	// polls, so that a slow launch gets time to finish.
	relaunch := s.prev.Phase != PhaseDown || s.next.PrimaryDownPolls%max(s.p.StandbyWait, 1) == 0
	for _, sb := range s.g.Standbys {
		if n := s.in.Nodes[sb]; relaunch && s.state(sb) == agent.Parked && !n.Connected && n.Launchable {
			s.add(Action{Kind: ActionLaunch, Node: sb, Why: "tried standby is disconnected; connected, it can be tried again"})
		}
	}
}

// parkOthers parks every online standby but the carrier.
func (s *situation) parkOthers() {
	for _, sb := range s.online {
		if sb != s.carrier {
			s.add(Action{Kind: ActionPark, Node: sb, Why: agent.ParkOtherCarries})
		}
	}
}

// parkStrays parks disconnected standbys that are not temporarily offline:
// they would take builds as soon as they reconnect. except is the carrier
// or the standby being brought up.
func (s *situation) parkStrays(except string) {
	for _, sb := range s.g.Standbys {
		if sb != except && s.state(sb) == agent.Disconnected {
			s.add(Action{Kind: ActionPark, Node: sb, Why: agent.ParkStray})
		}
	}
}

// add appends an action: one change per node per poll, except that a
// claim may be followed by the toggle and the toggle by a launch.
func (s *situation) add(a Action) {
	if a.Kind == ActionPark && a.Message == "" {
		a.Message = agent.ParkMessage(a.Why)
	}
	var last *Action
	for i := range s.d.Actions {
		if s.d.Actions[i].Node == a.Node {
			last = &s.d.Actions[i]
		}
	}
	if last != nil && !(last.Kind == ActionClaim && a.Kind == ActionOnline) && !(last.Kind == ActionOnline && a.Kind == ActionLaunch) {
		return
	}
	s.d.Actions = append(s.d.Actions, a)
}

func (s *situation) done() Decision {
	s.d.Next = s.next
	if s.d.OnFailure.Phase == "" {
		s.d.OnFailure = s.next
	}
	if s.p.DryRun && len(s.d.Actions) > 0 {
		// Nothing is sent: remember no attempt, so that the same
		// decision stands on the next poll instead of walking the
		// standbys.
		st := s.d.OnFailure
		st.Attempt = s.prev.Attempt
		s.d.Next, s.d.OnFailure = st, st
	}
	return s.d
}

// chooseCarrier picks the standby that carries among those online: the
// one already carrying, so two online standbys never swap roles; else one
// running builds, so that parking the other aborts nothing; else the first
// by priority. A restarted watchdog reaches the same choice from Jenkins.
func chooseCarrier(online []string, active string, nodes map[string]agent.NodeInfo) string {
	for _, sb := range online {
		if sb == active {
			return sb
		}
	}
	for _, sb := range online {
		if !nodes[sb].Idle {
			return sb
		}
	}
	if len(online) > 0 {
		return online[0]
	}
	return ""
}
