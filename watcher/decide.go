package watcher

import (
	"maps"

	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/config"
)

// Phase is a group's state, as shown in /status and metrics.
type Phase string

const (
	PhaseUnknown        Phase = "unknown"         // no successful poll yet
	PhaseNormal         Phase = "normal"          // primary online, every standby parked
	PhaseSuspect        Phase = "suspect"         // primary offline, fewer than FAILOVER_AFTER polls
	PhaseFailingOver    Phase = "failing_over"    // a standby was asked to come online and is not online yet
	PhaseFailedOver     Phase = "failed_over"     // primary down, a standby carries
	PhaseMaintenance    Phase = "maintenance"     // primary held by a person, a standby carries
	PhaseFailingBack    Phase = "failing_back"    // primary back, standby carries until FAILBACK_AFTER polls
	PhaseManualFailback Phase = "manual_failback" // primary back, standby carries until an operator parks it
	PhaseDown           Phase = "down"            // primary down and no standby can carry
)

// Phases lists every phase, for metrics.
var Phases = []Phase{PhaseNormal, PhaseSuspect, PhaseFailingOver, PhaseFailedOver, PhaseMaintenance,
	PhaseFailingBack, PhaseManualFailback, PhaseDown, PhaseUnknown}

// StandbyCarries reports whether a standby is carrying the group.
func (p Phase) StandbyCarries() bool {
	switch p {
	case PhaseFailedOver, PhaseMaintenance, PhaseFailingBack, PhaseManualFailback:
		return true
	}
	return false
}

// Params are the knobs of the decision.
type Params struct {
	FailoverAfter int
	FailbackAfter int
	StandbyWait   int
	Failback      config.FailbackMode
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
	// Candidate is the standby asked to come online during this failover,
	// and CandidatePolls the polls it has had to get there.
	Candidate      string
	CandidatePolls int
	// Tried holds the standbys given up on during this failover; the value
	// says whether the node's channel was up when it was given up. A
	// standby given up while disconnected is tried again once its channel
	// is back.
	Tried map[string]bool
}

// ActionKind is a change the watchdog asks of Jenkins.
type ActionKind string

const (
	ActionOnline ActionKind = "online" // toggleOffline a parked standby
	ActionPark   ActionKind = "park"   // changeOfflineCause with the watchdog's tag
	ActionLaunch ActionKind = "launch" // launchSlaveAgent
)

// Action is one change to one node.
type Action struct {
	Kind ActionKind
	Node string
	Why  string
	// Commits marks the actions the new state depends on: bringing up the
	// candidate, parking the carrier on failback. Next is kept only when
	// all of them succeed.
	Commits bool
}

// Decision is the outcome of Decide for one group.
type Decision struct {
	// Next is the state to keep when every action succeeded.
	Next GroupState
	// OnFailure is the state to keep when an action failed or was not
	// sent (dry run): nothing that depends on the change is committed.
	OnFailure GroupState
	Actions   []Action
	// Failover is true when this poll saw the standby the watchdog asked
	// for come online: the failover is complete.
	Failover bool
	// Failback is true when the actions return the carrying standby to
	// standby; it counts only if they succeed.
	Failback bool
}

const counterCap = 1 << 30

// Decide is the whole policy: from the previous state of a group and a
// fresh reading of its nodes, the next state and the changes to ask for.
// It never emits an action on the primary or on a held or missing node.
func Decide(g config.Group, prev GroupState, nodes map[string]NodeInfo, p Params) Decision {
	state := func(name string) NodeState {
		n, ok := nodes[name]
		return Classify(n, ok)
	}
	next := prev
	next.Tried = maps.Clone(prev.Tried)

	primaryUp := state(g.Primary) == NodeOnline
	if primaryUp {
		next.PrimaryUpPolls = min(prev.PrimaryUpPolls+1, counterCap)
		next.PrimaryDownPolls = 0
	} else {
		next.PrimaryDownPolls = min(prev.PrimaryDownPolls+1, counterCap)
		next.PrimaryUpPolls = 0
	}

	var onlineStandbys []string
	for _, s := range g.Standbys {
		if state(s) == NodeOnline {
			onlineStandbys = append(onlineStandbys, s)
		}
	}
	// The carrier is the standby already carrying if it still is, so that
	// two online standbys never swap roles; else the first by priority.
	carrier := ""
	for _, s := range onlineStandbys {
		if s == prev.Active {
			carrier = s
		}
	}
	if carrier == "" && len(onlineStandbys) > 0 {
		carrier = onlineStandbys[0]
	}

	var d Decision
	park := func(node, why string) {
		for _, a := range d.Actions {
			if a.Node == node {
				return // one change per node per poll
			}
		}
		d.Actions = append(d.Actions, Action{Kind: ActionPark, Node: node, Why: why})
	}
	for _, s := range onlineStandbys {
		if s != carrier {
			park(s, "another standby already carries the group")
		}
	}
	// A disconnected standby that is not temporarily offline would take
	// builds as soon as it reconnects: park it unless it is the carrier
	// or the standby being brought up.
	parkStrays := func(except string) {
		for _, s := range g.Standbys {
			if s != except && state(s) == NodeDisconnected {
				park(s, "standby must stay parked while another node carries the group")
			}
		}
	}

	if primaryUp {
		next.Candidate, next.CandidatePolls, next.Tried = "", 0, nil
		if carrier == "" {
			next.Phase, next.Active = PhaseNormal, g.Primary
			parkStrays("")
			d.Next, d.OnFailure = next, next
			return d
		}
		next.Active = carrier
		if p.Failback == config.FailbackManual {
			next.Phase = PhaseManualFailback
			parkStrays(carrier)
			d.Next, d.OnFailure = next, next
			return d
		}
		if next.PrimaryUpPolls < p.FailbackAfter {
			next.Phase = PhaseFailingBack
			parkStrays(carrier)
			d.Next, d.OnFailure = next, next
			return d
		}
		d.OnFailure = next
		d.OnFailure.Phase = PhaseFailingBack
		d.Actions = append(d.Actions, Action{Kind: ActionPark, Node: carrier, Why: "primary " + g.Primary + " is back", Commits: true})
		d.Failback = true
		parkStrays("")
		next.Phase, next.Active = PhaseNormal, g.Primary
		d.Next = next
		return d
	}

	if carrier != "" {
		d.Failover = prev.Candidate == carrier
		next.Candidate, next.CandidatePolls = "", 0
		next.Active = carrier
		next.Phase = PhaseFailedOver
		if state(g.Primary) == NodeHeld {
			next.Phase = PhaseMaintenance
		}
		parkStrays(carrier)
		d.Next, d.OnFailure = next, next
		return d
	}

	next.Active = ""
	if next.PrimaryDownPolls < p.FailoverAfter {
		next.Phase = PhaseSuspect
		d.Next, d.OnFailure = next, next
		return d
	}

	if c := prev.Candidate; c != "" {
		cs := state(c)
		switch {
		case cs == NodeHeld || cs == NodeMissing:
			// Someone took the standby for themselves, or deleted it.
			next.Tried = withTried(next.Tried, c, false)
			next.Candidate, next.CandidatePolls = "", 0
		case prev.CandidatePolls+1 >= p.StandbyWait:
			// It had its chance. Park it so it does not take builds the
			// moment it connects while the next standby carries.
			park(c, "did not come online in time")
			next.Tried = withTried(next.Tried, c, nodes[c].Connected)
			next.Candidate, next.CandidatePolls = "", 0
		default:
			next.CandidatePolls = prev.CandidatePolls + 1
			next.Phase = PhaseFailingOver
			parkStrays(c)
			d.Next, d.OnFailure = next, next
			return d
		}
	}

	// Pick the first standby by priority that can be brought up.
	d.OnFailure = next
	d.OnFailure.Phase = PhaseFailingOver
	for _, s := range g.Standbys {
		n := nodes[s]
		if wasConnected, tried := next.Tried[s]; tried && (wasConnected || !n.Connected) {
			continue
		}
		var acts []Action
		switch state(s) {
		case NodeParked:
			acts = append(acts, Action{Kind: ActionOnline, Node: s, Why: "primary " + g.Primary + " is down", Commits: true})
			if !n.Connected && n.Launchable {
				acts = append(acts, Action{Kind: ActionLaunch, Node: s, Why: "standby is disconnected", Commits: true})
			}
		case NodeDisconnected:
			if n.Launchable {
				acts = append(acts, Action{Kind: ActionLaunch, Node: s, Why: "primary " + g.Primary + " is down", Commits: true})
			}
			// An inbound agent can only be waited for.
		default:
			continue
		}
		delete(next.Tried, s)
		d.Actions = append(d.Actions, acts...)
		next.Candidate, next.CandidatePolls = s, 0
		next.Phase = PhaseFailingOver
		parkStrays(s)
		d.Next = next
		return d
	}
	// Nothing can be brought up. A tried standby that reconnects by itself
	// is left alone: it will carry, which beats nothing carrying.
	next.Phase = PhaseDown
	d.Next = next
	d.OnFailure = next
	return d
}

func withTried(tried map[string]bool, node string, connected bool) map[string]bool {
	if tried == nil {
		tried = map[string]bool{}
	}
	tried[node] = connected
	return tried
}
