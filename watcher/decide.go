package watcher

import (
	"maps"

	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/agent"
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
	// Grace is a number of polls during which a primary reading offline
	// is not counted: set when the controller restarted.
	Grace int
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
	// Commits marks the actions the new state depends on: parking the
	// carrier on failback. Next is kept only when all of them succeed.
	Commits bool
	// Retag parks even a node already parked, to rewrite the message.
	Retag bool
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
// It never emits an action on the primary or on a held or missing node, and
// at most one action per node except online followed by launch.
func Decide(g config.Group, prev GroupState, nodes map[string]agent.NodeInfo, p Params) Decision {
	state := func(name string) agent.State {
		n, ok := nodes[name]
		return agent.Classify(n, ok)
	}
	next := prev
	next.Tried = maps.Clone(prev.Tried)

	primaryUp := state(g.Primary) == agent.Online
	switch {
	case primaryUp:
		next.PrimaryUpPolls = min(prev.PrimaryUpPolls+1, counterCap)
		next.PrimaryDownPolls, next.Grace = 0, 0
	case prev.Grace > 0:
		// The controller just restarted: every agent reads disconnected
		// until it reconnects. Give them time before counting.
		next.Grace = prev.Grace - 1
		next.PrimaryUpPolls = 0
	default:
		next.PrimaryDownPolls = min(prev.PrimaryDownPolls+1, counterCap)
		next.PrimaryUpPolls = 0
	}

	var onlineStandbys []string
	for _, s := range g.Standbys {
		if state(s) == agent.Online {
			onlineStandbys = append(onlineStandbys, s)
		}
	}
	carrier := chooseCarrier(onlineStandbys, prev.Active, nodes)

	var d Decision
	has := func(node string) bool {
		for _, a := range d.Actions {
			if a.Node == node {
				return true
			}
		}
		return false
	}
	add := func(a Action) {
		// One change per node per poll; a launch may follow the toggle
		// of a standby whose channel is down.
		last := len(d.Actions) - 1
		followsToggle := a.Kind == ActionLaunch && last >= 0 &&
			d.Actions[last].Kind == ActionOnline && d.Actions[last].Node == a.Node
		if !has(a.Node) || followsToggle {
			d.Actions = append(d.Actions, a)
		}
	}
	park := func(node, why string) { add(Action{Kind: ActionPark, Node: node, Why: why}) }
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
			if s != except && state(s) == agent.Disconnected {
				park(s, "standby must stay parked while another node carries the group")
			}
		}
	}
	done := func() Decision {
		d.Next = next
		if d.OnFailure.Phase == "" {
			d.OnFailure = next
		}
		return d
	}

	if primaryUp {
		next.Candidate, next.CandidatePolls, next.Tried = "", 0, nil
		if carrier == "" {
			next.Phase, next.Active = PhaseNormal, g.Primary
			parkStrays("")
			// A standby left with the give-up message of a finished
			// failover would be skipped by the next one after a restart.
			for _, s := range g.Standbys {
				if tried, _ := triedByTag(nodes[s]); tried && state(s) == agent.Parked {
					add(Action{Kind: ActionPark, Node: s, Why: "standby", Retag: true})
				}
			}
			return done()
		}
		next.Active = carrier
		switch {
		case p.Failback == config.FailbackManual:
			next.Phase = PhaseManualFailback
			parkStrays(carrier)
		case next.PrimaryUpPolls < p.FailbackAfter:
			next.Phase = PhaseFailingBack
			parkStrays(carrier)
		default:
			d.OnFailure = next
			d.OnFailure.Phase = PhaseFailingBack
			add(Action{Kind: ActionPark, Node: carrier, Why: "primary " + g.Primary + " is back", Commits: true})
			d.Failback = true
			parkStrays("")
			next.Phase, next.Active = PhaseNormal, g.Primary
		}
		return done()
	}

	if carrier != "" {
		d.Failover = prev.Candidate == carrier
		next.Candidate, next.CandidatePolls = "", 0
		next.Active = carrier
		next.Phase = PhaseFailedOver
		if state(g.Primary) == agent.Held {
			next.Phase = PhaseMaintenance
		}
		parkStrays(carrier)
		return done()
	}

	next.Active = ""
	if next.PrimaryDownPolls < p.FailoverAfter {
		next.Phase = PhaseSuspect
		return done()
	}

	bringUp := func(s string) []Action {
		n := nodes[s]
		why := "primary " + g.Primary + " is down"
		switch state(s) {
		case agent.Parked:
			acts := []Action{{Kind: ActionOnline, Node: s, Why: why}}
			if !n.Connected && n.Launchable {
				acts = append(acts, Action{Kind: ActionLaunch, Node: s, Why: "standby is disconnected"})
			}
			return acts
		case agent.Disconnected:
			if n.Launchable {
				return []Action{{Kind: ActionLaunch, Node: s, Why: why}}
			}
			// An inbound agent can only be waited for.
			return []Action{}
		}
		return nil
	}

	if c := prev.Candidate; c != "" {
		cs := state(c)
		switch {
		case cs == agent.Held || cs == agent.Missing:
			// Someone took the standby for themselves, or deleted it.
			next.Tried = withTried(next.Tried, c, false)
			next.Candidate, next.CandidatePolls = "", 0
		case prev.CandidatePolls+1 >= p.StandbyWait:
			// It had its chance. Park it, saying so in Jenkins, so that
			// it takes no build the moment it connects while the next
			// standby carries, and so a restarted watchdog skips it too.
			connected := nodes[c].Connected
			add(Action{Kind: ActionPark, Node: c, Why: giveUpMessage(connected), Retag: true})
			next.Tried = withTried(next.Tried, c, connected)
			next.Candidate, next.CandidatePolls = "", 0
		default:
			next.CandidatePolls = prev.CandidatePolls + 1
			next.Phase = PhaseFailingOver
			if cs == agent.Parked {
				// The last attempt did not take (a failed request, or
				// someone parked it again): try once more this poll.
				for _, a := range bringUp(c) {
					add(a)
				}
			}
			parkStrays(c)
			return done()
		}
	}

	// Pick the first standby by priority that can be brought up. The pick
	// is kept even if the request fails: the candidate gets StandbyWait
	// polls, one attempt each, before the next standby is tried.
	for _, s := range g.Standbys {
		n := nodes[s]
		if wasConnected, tried := next.Tried[s]; tried && (wasConnected || !n.Connected) {
			continue
		}
		if tagged, wasConnected := triedByTag(n); tagged && (wasConnected || !n.Connected) {
			if _, mem := next.Tried[s]; !mem {
				continue
			}
		}
		acts := bringUp(s)
		if acts == nil {
			continue
		}
		delete(next.Tried, s)
		for _, a := range acts {
			add(a)
		}
		next.Candidate, next.CandidatePolls = s, 0
		next.Phase = PhaseFailingOver
		parkStrays(s)
		return done()
	}
	// Nothing can be brought up. A tried standby that reconnects by itself
	// is left alone: it will carry, which beats nothing carrying.
	next.Phase = PhaseDown
	return done()
}

// chooseCarrier picks the standby that carries among those online: the
// one already carrying, so two online standbys never swap roles; else one
// running builds, so that parking the other aborts nothing; else the first
// by priority. A restarted watchdog reaches the same choice from Jenkins.
func chooseCarrier(online []string, active string, nodes map[string]agent.NodeInfo) string {
	for _, s := range online {
		if s == active {
			return s
		}
	}
	for _, s := range online {
		if !nodes[s].Idle {
			return s
		}
	}
	if len(online) > 0 {
		return online[0]
	}
	return ""
}

func withTried(tried map[string]bool, node string, connected bool) map[string]bool {
	if tried == nil {
		tried = map[string]bool{}
	}
	tried[node] = connected
	return tried
}
