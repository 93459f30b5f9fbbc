package watcher

import (
	"reflect"
	"testing"
	"time"

	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/agent"
	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/config"
)

// Node readings used by the decision table.
var (
	online       = agent.NodeInfo{Connected: true, Launchable: true}
	idleOnline   = agent.NodeInfo{Connected: true, Launchable: true, Idle: true}
	parked       = agent.NodeInfo{Offline: true, TemporarilyOffline: true, CauseClass: agent.CauseUser, Connected: true, Launchable: true}
	parkedTagged = agent.NodeInfo{Offline: true, TemporarilyOffline: true, CauseClass: agent.CauseUser, CauseReason: agent.ParkMessage(agent.ParkStandby), ByWatchdog: true, Connected: true, Launchable: true}
	parkedDown   = agent.NodeInfo{Offline: true, TemporarilyOffline: true, CauseClass: agent.CauseUser, Launchable: true}
	parkedInbDn  = agent.NodeInfo{Offline: true, TemporarilyOffline: true, CauseClass: agent.CauseUser}
	held         = agent.NodeInfo{Offline: true, TemporarilyOffline: true, CauseClass: agent.CauseUser, CauseReason: "disk replacement", Connected: true, Launchable: true}
	monitorHeld  = agent.NodeInfo{Offline: true, TemporarilyOffline: true, CauseClass: "hudson.node_monitors.DiskSpaceMonitorDescriptor$DiskSpace", Connected: true, Launchable: true}
	killed       = agent.NodeInfo{Offline: true, CauseClass: agent.CauseChannelTermination, CauseReason: "Connection was broken", Launchable: true}
	killedInb    = agent.NodeInfo{Offline: true, CauseClass: agent.CauseChannelTermination}
)

var (
	starting     = agent.NodeInfo{Offline: true, Launchable: true}
	launchFailed = agent.NodeInfo{Offline: true, CauseClass: agent.CauseLaunchFailed, CauseReason: "launch failed", Launchable: true}
	parkedMine   = agent.NodeInfo{Offline: true, TemporarilyOffline: true, CauseClass: agent.CauseUser, CauseReason: agent.ClaimMessage("me", "p"), ByWatchdog: true, Connected: true, Launchable: true}
	parkedPeer   = agent.NodeInfo{Offline: true, TemporarilyOffline: true, CauseClass: agent.CauseUser, CauseReason: agent.ClaimMessage("peer", "p"), ByWatchdog: true, Connected: true, Launchable: true}
)

// closedWindow is a failback window that is never open.
type closedWindow struct{}

func (closedWindow) Contains(time.Time) bool { return false }

const absent = "absent"

func TestClassify(t *testing.T) {
	tests := []struct {
		name    string
		n       agent.NodeInfo
		present bool
		want    agent.State
	}{
		{"online", online, true, agent.Online},
		{"parked without message", parked, true, agent.Parked},
		{"parked by the watchdog", parkedTagged, true, agent.Parked},
		{"parked and disconnected", parkedDown, true, agent.Parked},
		{"operator message", held, true, agent.Held},
		{"node monitor", monitorHeld, true, agent.Held},
		{"killed agent", killed, true, agent.Disconnected},
		{"missing", agent.NodeInfo{}, false, agent.Missing},
		{"temporarily offline, channel cause shows", agent.NodeInfo{Offline: true, TemporarilyOffline: true, CauseClass: agent.CauseChannelTermination, CauseReason: "Connection was broken"}, true, agent.Parked},
		{"whitespace message is no message", agent.NodeInfo{Offline: true, TemporarilyOffline: true, CauseClass: agent.CauseUser, CauseReason: "  "}, true, agent.Parked},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := agent.Classify(tt.n, tt.present); got != tt.want {
				t.Errorf("agent.Classify = %s, want %s", got, tt.want)
			}
		})
	}
}

func nodesOf(m map[string]agent.NodeInfo) map[string]agent.NodeInfo {
	out := map[string]agent.NodeInfo{}
	for k, v := range m {
		if v.Name == absent {
			continue
		}
		v.Name = k
		out[k] = v
	}
	return out
}

var missing = agent.NodeInfo{Name: absent}

type act struct {
	kind ActionKind
	node string
}

func acts(d Decision) []act {
	var out []act
	for _, a := range d.Actions {
		out = append(out, act{a.Kind, a.Node})
	}
	return out
}

func TestDecide(t *testing.T) {
	g := config.Group{Primary: "p", Standbys: []string{"s1", "s2"}}
	auto := Params{FailoverAfter: 2, FailbackAfter: 3, StandbyWait: 3, Failback: config.FailbackAuto, Instance: "me"}
	manual := auto
	manual.Failback = config.FailbackManual
	patient := auto
	patient.StartupPatience = 5
	windowed := auto
	windowed.FailbackWindow = closedWindow{}

	tests := []struct {
		name      string
		params    Params
		prev      GroupState
		nodes     map[string]agent.NodeInfo
		want      []act
		phase     Phase
		active    string
		candidate string
		failover  bool
		failback  bool
		unparked  bool
		peerClaim string
	}{
		{name: "normal", prev: GroupState{Phase: PhaseNormal, Active: "p"},
			nodes: map[string]agent.NodeInfo{"p": online, "s1": parked, "s2": parked},
			phase: PhaseNormal, active: "p"},
		{name: "first poll normal", prev: GroupState{},
			nodes: map[string]agent.NodeInfo{"p": online, "s1": parkedTagged, "s2": parkedDown},
			phase: PhaseNormal, active: "p"},
		{name: "primary offline, below threshold: the standby is claimed a poll ahead", prev: GroupState{Phase: PhaseNormal, Active: "p"},
			nodes: map[string]agent.NodeInfo{"p": killed, "s1": parked, "s2": parked},
			want:  []act{{ActionClaim, "s1"}}, phase: PhaseSuspect},
		{name: "primary offline, two polls from the threshold: nothing yet", params: Params{FailoverAfter: 3, FailbackAfter: 3, StandbyWait: 3, Failback: config.FailbackAuto, Instance: "me"},
			prev:  GroupState{Phase: PhaseNormal, Active: "p"},
			nodes: map[string]agent.NodeInfo{"p": killed, "s1": parked, "s2": parked},
			phase: PhaseSuspect},
		{name: "failover: toggle first standby", prev: GroupState{Phase: PhaseSuspect, PrimaryDownPolls: 1},
			nodes: map[string]agent.NodeInfo{"p": killed, "s1": parked, "s2": parked},
			want:  []act{{ActionClaim, "s1"}}, phase: PhaseFailingOver, candidate: "s1"},
		{name: "failover on a missing primary", prev: GroupState{PrimaryDownPolls: 1},
			nodes: map[string]agent.NodeInfo{"p": missing, "s1": parked, "s2": parked},
			want:  []act{{ActionClaim, "s1"}}, phase: PhaseFailingOver, candidate: "s1"},
		{name: "failover skips held standby", prev: GroupState{PrimaryDownPolls: 1},
			nodes: map[string]agent.NodeInfo{"p": killed, "s1": held, "s2": parked},
			want:  []act{{ActionClaim, "s2"}}, phase: PhaseFailingOver, candidate: "s2"},
		{name: "failover skips monitor-held and missing standbys", prev: GroupState{PrimaryDownPolls: 1},
			nodes: map[string]agent.NodeInfo{"p": killed, "s1": monitorHeld, "s2": missing},
			phase: PhaseDown},
		{name: "parked disconnected SSH standby: toggle and launch", prev: GroupState{PrimaryDownPolls: 1},
			nodes: map[string]agent.NodeInfo{"p": killed, "s1": parkedDown, "s2": missing},
			want:  []act{{ActionClaim, "s1"}}, phase: PhaseFailingOver, candidate: "s1"},
		{name: "parked disconnected inbound standby: toggle only", prev: GroupState{PrimaryDownPolls: 1},
			nodes: map[string]agent.NodeInfo{"p": killed, "s1": parkedInbDn, "s2": held},
			want:  []act{{ActionClaim, "s1"}}, phase: PhaseFailingOver, candidate: "s1"},
		{name: "disconnected SSH standby: launch", prev: GroupState{PrimaryDownPolls: 1},
			nodes: map[string]agent.NodeInfo{"p": killed, "s1": killed, "s2": parkedDown},
			want:  []act{{ActionLaunch, "s1"}}, phase: PhaseFailingOver, candidate: "s1"},
		{name: "disconnected inbound standby: wait for it", prev: GroupState{PrimaryDownPolls: 1},
			nodes: map[string]agent.NodeInfo{"p": killed, "s1": killedInb, "s2": parkedInbDn},
			phase: PhaseFailingOver, candidate: "s1"},
		// The ready standby first: parked and connected (or online) beats
		// a higher-priority one whose channel is down; among standbys of
		// the same readiness, priority decides.
		{name: "ready, ready: the first", prev: GroupState{PrimaryDownPolls: 1},
			nodes: map[string]agent.NodeInfo{"p": killed, "s1": parkedTagged, "s2": parked},
			want:  []act{{ActionClaim, "s1"}}, phase: PhaseFailingOver, candidate: "s1"},
		{name: "ready, parked disconnected: the first", prev: GroupState{PrimaryDownPolls: 1},
			nodes: map[string]agent.NodeInfo{"p": killed, "s1": parked, "s2": parkedDown},
			want:  []act{{ActionClaim, "s1"}}, phase: PhaseFailingOver, candidate: "s1"},
		{name: "parked disconnected, ready: the ready second", prev: GroupState{PrimaryDownPolls: 1},
			nodes: map[string]agent.NodeInfo{"p": killed, "s1": parkedDown, "s2": parked},
			want:  []act{{ActionClaim, "s2"}}, phase: PhaseFailingOver, candidate: "s2"},
		{name: "parked inbound disconnected, ready: the ready second", prev: GroupState{PrimaryDownPolls: 1},
			nodes: map[string]agent.NodeInfo{"p": killed, "s1": parkedInbDn, "s2": parked},
			want:  []act{{ActionClaim, "s2"}}, phase: PhaseFailingOver, candidate: "s2"},
		{name: "killed, ready: the ready second, the first parked", prev: GroupState{PrimaryDownPolls: 1},
			nodes: map[string]agent.NodeInfo{"p": killed, "s1": killed, "s2": parked},
			want:  []act{{ActionClaim, "s2"}, {ActionPark, "s1"}}, phase: PhaseFailingOver, candidate: "s2"},
		{name: "launch failed, ready: the ready second", prev: GroupState{PrimaryDownPolls: 1},
			nodes: map[string]agent.NodeInfo{"p": killed, "s1": launchFailed, "s2": parked},
			want:  []act{{ActionClaim, "s2"}, {ActionPark, "s1"}}, phase: PhaseFailingOver, candidate: "s2"},
		{name: "ready, killed: the first, the second parked", prev: GroupState{PrimaryDownPolls: 1},
			nodes: map[string]agent.NodeInfo{"p": killed, "s1": parked, "s2": killed},
			want:  []act{{ActionClaim, "s1"}, {ActionPark, "s2"}}, phase: PhaseFailingOver, candidate: "s1"},
		{name: "parked disconnected, parked disconnected: the first", prev: GroupState{PrimaryDownPolls: 1},
			nodes: map[string]agent.NodeInfo{"p": killed, "s1": parkedDown, "s2": parkedDown},
			want:  []act{{ActionClaim, "s1"}}, phase: PhaseFailingOver, candidate: "s1"},
		{name: "launch failed, parked disconnected: the first", prev: GroupState{PrimaryDownPolls: 1},
			nodes: map[string]agent.NodeInfo{"p": killed, "s1": launchFailed, "s2": parkedDown},
			want:  []act{{ActionLaunch, "s1"}}, phase: PhaseFailingOver, candidate: "s1"},
		{name: "held, parked disconnected: the not-ready one, no ready one exists", prev: GroupState{PrimaryDownPolls: 1},
			nodes: map[string]agent.NodeInfo{"p": killed, "s1": held, "s2": parkedDown},
			want:  []act{{ActionClaim, "s2"}}, phase: PhaseFailingOver, candidate: "s2"},
		{name: "parked disconnected, missing: the not-ready one", prev: GroupState{PrimaryDownPolls: 1},
			nodes: map[string]agent.NodeInfo{"p": killed, "s1": parkedDown, "s2": missing},
			want:  []act{{ActionClaim, "s1"}}, phase: PhaseFailingOver, candidate: "s1"},
		{name: "suspect: the ready second is claimed a poll ahead", prev: GroupState{Phase: PhaseNormal, Active: "p"},
			nodes: map[string]agent.NodeInfo{"p": killed, "s1": parkedDown, "s2": parked},
			want:  []act{{ActionClaim, "s2"}}, phase: PhaseSuspect},
		{name: "candidate still coming up: launched again", prev: GroupState{Phase: PhaseFailingOver, PrimaryDownPolls: 3, Attempt: Attempt{Candidate: "s1", CandidatePolls: 0}},
			nodes: map[string]agent.NodeInfo{"p": killed, "s1": killed, "s2": parked},
			want:  []act{{ActionLaunch, "s1"}}, phase: PhaseFailingOver, candidate: "s1"},
		{name: "candidate still parked: the toggle did not take, try again", prev: GroupState{Phase: PhaseFailingOver, PrimaryDownPolls: 3, Attempt: Attempt{Candidate: "s1", CandidatePolls: 0}},
			nodes: map[string]agent.NodeInfo{"p": killed, "s1": parkedDown, "s2": parked},
			want:  []act{{ActionClaim, "s1"}}, phase: PhaseFailingOver, candidate: "s1"},
		{name: "operator disconnected the standby with a message: held", prev: GroupState{PrimaryDownPolls: 1},
			nodes: map[string]agent.NodeInfo{"p": killed, "s1": {Offline: true, CauseClass: agent.CauseUser, CauseReason: "replacing disk", Launchable: true}, "s2": parked},
			want:  []act{{ActionClaim, "s2"}}, phase: PhaseFailingOver, candidate: "s2"},
		{name: "operator-disconnected standby is not parked in normal state", prev: GroupState{Phase: PhaseNormal, Active: "p"},
			nodes: map[string]agent.NodeInfo{"p": online, "s1": {Offline: true, CauseClass: agent.CauseUser, CauseReason: "replacing disk", Launchable: true}, "s2": parked},
			phase: PhaseNormal, active: "p"},
		{name: "restart: standby given up with its channel up is skipped", prev: GroupState{PrimaryDownPolls: 1},
			nodes: map[string]agent.NodeInfo{"p": killed, "s1": {Offline: true, TemporarilyOffline: true, CauseClass: agent.CauseUser, CauseReason: agent.ParkMessage(agent.ParkGiveUpUp), ByWatchdog: true, Connected: true, Launchable: true}, "s2": killed},
			want:  []act{{ActionLaunch, "s2"}}, phase: PhaseFailingOver, candidate: "s2"},
		{name: "restart: standby given up while disconnected is retried once connected", prev: GroupState{PrimaryDownPolls: 1},
			nodes: map[string]agent.NodeInfo{"p": killed, "s1": {Offline: true, TemporarilyOffline: true, CauseClass: agent.CauseUser, CauseReason: agent.ParkMessage(agent.ParkGiveUpDown), ByWatchdog: true, Connected: true, Launchable: true}, "s2": parked},
			want:  []act{{ActionClaim, "s1"}}, phase: PhaseFailingOver, candidate: "s1"},
		{name: "restart: all given up, down", prev: GroupState{PrimaryDownPolls: 1},
			nodes: map[string]agent.NodeInfo{"p": killed, "s1": {Offline: true, TemporarilyOffline: true, CauseClass: agent.CauseUser, CauseReason: agent.ParkMessage(agent.ParkGiveUpDown), ByWatchdog: true, Launchable: true}, "s2": {Offline: true, TemporarilyOffline: true, CauseClass: agent.CauseUser, CauseReason: agent.ParkMessage(agent.ParkGiveUpUp), ByWatchdog: true, Connected: true}},
			want:  []act{{ActionLaunch, "s1"}}, phase: PhaseDown},
		{name: "primary back: give-up messages are rewritten", prev: GroupState{Phase: PhaseDown, PrimaryDownPolls: 9},
			nodes: map[string]agent.NodeInfo{"p": online, "s1": {Offline: true, TemporarilyOffline: true, CauseClass: agent.CauseUser, CauseReason: agent.ParkMessage(agent.ParkGiveUpDown), ByWatchdog: true, Launchable: true}, "s2": parked},
			want:  []act{{ActionPark, "s1"}}, phase: PhaseNormal, active: "p"},
		{name: "two standbys online, no carrier known: the busy one carries", prev: GroupState{},
			nodes: map[string]agent.NodeInfo{"p": killed, "s1": {Idle: true, Connected: true}, "s2": {Idle: false, Connected: true}},
			want:  []act{{ActionPark, "s1"}}, phase: PhaseFailedOver, active: "s2"},
		{name: "controller restarted: grace before counting the primary down", prev: GroupState{Phase: PhaseNormal, Active: "p", PrimaryDownPolls: 1, Grace: 2},
			nodes: map[string]agent.NodeInfo{"p": killed, "s1": parked, "s2": parked},
			phase: PhaseSuspect},
		{name: "candidate timed out: park it, try the next", prev: GroupState{Phase: PhaseFailingOver, PrimaryDownPolls: 5, Attempt: Attempt{Candidate: "s1", CandidatePolls: 2}},
			nodes: map[string]agent.NodeInfo{"p": killed, "s1": killed, "s2": parked},
			want:  []act{{ActionPark, "s1"}, {ActionClaim, "s2"}}, phase: PhaseFailingOver, candidate: "s2"},
		{name: "last candidate timed out: down", prev: GroupState{Phase: PhaseFailingOver, PrimaryDownPolls: 5, Attempt: Attempt{Candidate: "s2", CandidatePolls: 2, Tried: map[string]bool{"s1": false}}},
			nodes: map[string]agent.NodeInfo{"p": killed, "s1": parkedDown, "s2": killed},
			want:  []act{{ActionPark, "s2"}, {ActionLaunch, "s1"}}, phase: PhaseDown},
		{name: "tried standby whose channel came back is tried again", prev: GroupState{Phase: PhaseDown, PrimaryDownPolls: 9, Attempt: Attempt{Tried: map[string]bool{"s1": false, "s2": false}}},
			nodes: map[string]agent.NodeInfo{"p": killed, "s1": parkedDown, "s2": parked},
			want:  []act{{ActionClaim, "s2"}}, phase: PhaseFailingOver, candidate: "s2"},
		{name: "tried standby that was connected is not retried", prev: GroupState{Phase: PhaseDown, PrimaryDownPolls: 9, Attempt: Attempt{Tried: map[string]bool{"s1": true, "s2": true}}},
			nodes: map[string]agent.NodeInfo{"p": killed, "s1": parked, "s2": parked},
			phase: PhaseDown},
		{name: "operator holds the candidate: respected, next tried", prev: GroupState{Phase: PhaseFailingOver, PrimaryDownPolls: 3, Attempt: Attempt{Candidate: "s1"}},
			nodes: map[string]agent.NodeInfo{"p": killed, "s1": held, "s2": parked},
			want:  []act{{ActionClaim, "s2"}}, phase: PhaseFailingOver, candidate: "s2"},
		{name: "candidate online: failover complete", prev: GroupState{Phase: PhaseFailingOver, PrimaryDownPolls: 3, Attempt: Attempt{Candidate: "s1"}},
			nodes: map[string]agent.NodeInfo{"p": killed, "s1": online, "s2": parked},
			phase: PhaseFailedOver, active: "s1", failover: true},
		{name: "standby online found at start-up while primary down: keep it", prev: GroupState{},
			nodes: map[string]agent.NodeInfo{"p": killed, "s1": parked, "s2": online},
			phase: PhaseFailedOver, active: "s2"},
		{name: "two standbys online: the carrier stays, the other is parked", prev: GroupState{Phase: PhaseFailedOver, Active: "s2", PrimaryDownPolls: 9},
			nodes: map[string]agent.NodeInfo{"p": killed, "s1": online, "s2": online},
			want:  []act{{ActionPark, "s1"}}, phase: PhaseFailedOver, active: "s2"},
		{name: "two standbys online, no carrier yet: first by priority carries", prev: GroupState{},
			nodes: map[string]agent.NodeInfo{"p": killed, "s1": idleOnline, "s2": idleOnline},
			want:  []act{{ActionPark, "s2"}}, phase: PhaseFailedOver, active: "s1"},
		{name: "primary held by an operator: maintenance", prev: GroupState{Phase: PhaseFailingOver, PrimaryDownPolls: 3, Attempt: Attempt{Candidate: "s1"}},
			nodes: map[string]agent.NodeInfo{"p": held, "s1": online, "s2": parked},
			phase: PhaseMaintenance, active: "s1", failover: true},
		{name: "stray disconnected standby parked while another carries", prev: GroupState{Phase: PhaseFailedOver, Active: "s1", PrimaryDownPolls: 9},
			nodes: map[string]agent.NodeInfo{"p": killed, "s1": online, "s2": killed},
			want:  []act{{ActionPark, "s2"}}, phase: PhaseFailedOver, active: "s1"},
		{name: "primary back: wait before failback", prev: GroupState{Phase: PhaseFailedOver, Active: "s1", PrimaryDownPolls: 9},
			nodes: map[string]agent.NodeInfo{"p": online, "s1": online, "s2": parked},
			phase: PhaseFailingBack, active: "s1"},
		{name: "primary back long enough: failback", prev: GroupState{Phase: PhaseFailingBack, Active: "s1", PrimaryUpPolls: 2},
			nodes: map[string]agent.NodeInfo{"p": online, "s1": online, "s2": parked},
			want:  []act{{ActionPark, "s1"}}, phase: PhaseNormal, active: "p", failback: true},
		{name: "idle standby found online at start-up with primary up: unparked by Jenkins, parked at once", prev: GroupState{PrimaryUpPolls: 2},
			nodes: map[string]agent.NodeInfo{"p": online, "s1": parked, "s2": idleOnline},
			want:  []act{{ActionPark, "s2"}}, phase: PhaseNormal, active: "p", unparked: true},
		{name: "busy standby found online at start-up with primary up: carrying, failed back after FAILBACK_AFTER", prev: GroupState{PrimaryUpPolls: 2},
			nodes: map[string]agent.NodeInfo{"p": online, "s1": parked, "s2": online},
			want:  []act{{ActionPark, "s2"}}, phase: PhaseNormal, active: "p", failback: true},
		{name: "busy standby found online at start-up in manual mode: left to the operator", params: manual, prev: GroupState{},
			nodes: map[string]agent.NodeInfo{"p": online, "s1": parked, "s2": online},
			phase: PhaseManualFailback, active: "s2"},
		{name: "busy standby found online at a cold start: carrying, not parked", params: patient, prev: GroupState{},
			nodes: map[string]agent.NodeInfo{"p": starting, "s1": online, "s2": parked},
			phase: PhaseFailedOver, active: "s1"},
		{name: "primary relaunched by Jenkins after it died: no start-up patience", params: patient, prev: GroupState{Phase: PhaseSuspect, PrimaryDownPolls: 1, Settled: true},
			nodes: map[string]agent.NodeInfo{"p": starting, "s1": parkedMine, "s2": parked},
			want:  []act{{ActionOnline, "s1"}}, phase: PhaseFailingOver, candidate: "s1"},
		{name: "candidate disconnected after its toggle: launched again", prev: GroupState{Phase: PhaseFailingOver, PrimaryDownPolls: 5, Attempt: Attempt{Candidate: "s1", CandidatePolls: 1}},
			nodes: map[string]agent.NodeInfo{"p": killed, "s1": killed, "s2": parked},
			want:  []act{{ActionLaunch, "s1"}}, phase: PhaseFailingOver, candidate: "s1"},
		{name: "a standby carried by a peer seen claimed counts as a failover", prev: GroupState{Phase: PhaseFailingOver, PrimaryDownPolls: 5, Attempt: Attempt{Claimed: "s1", PeerClaim: "peer", PeerClaimPolls: 1, PeerClaimWait: 4}},
			nodes: map[string]agent.NodeInfo{"p": killed, "s1": online, "s2": parked},
			phase: PhaseFailedOver, active: "s1", failover: true},
		{name: "manual failback: standby stays", params: manual, prev: GroupState{Phase: PhaseFailedOver, Active: "s1", PrimaryUpPolls: 50},
			nodes: map[string]agent.NodeInfo{"p": online, "s1": online, "s2": parked},
			phase: PhaseManualFailback, active: "s1"},
		{name: "manual failback: operator parked the standby", params: manual, prev: GroupState{Phase: PhaseManualFailback, Active: "s1", PrimaryUpPolls: 50},
			nodes: map[string]agent.NodeInfo{"p": online, "s1": parked, "s2": parked},
			phase: PhaseNormal, active: "p"},
		{name: "primary back during failover: candidate that never came up is parked", prev: GroupState{Phase: PhaseFailingOver, PrimaryDownPolls: 3, Attempt: Attempt{Candidate: "s1"}},
			nodes: map[string]agent.NodeInfo{"p": online, "s1": killed, "s2": parked},
			want:  []act{{ActionPark, "s1"}}, phase: PhaseNormal, active: "p"},
		{name: "held standby is never touched even when online elsewhere", prev: GroupState{Phase: PhaseNormal, Active: "p"},
			nodes: map[string]agent.NodeInfo{"p": online, "s1": held, "s2": monitorHeld},
			phase: PhaseNormal, active: "p"},
		// Life around the steady state: cold starts, Jenkins unparking
		// standbys, several instances.
		{name: "cold start: a primary not connected yet is given patience", params: patient, prev: GroupState{PrimaryDownPolls: 2},
			nodes: map[string]agent.NodeInfo{"p": starting, "s1": parked, "s2": parked},
			phase: PhaseSuspect},
		{name: "cold start: the standby is claimed on the last poll of patience", params: patient, prev: GroupState{PrimaryDownPolls: 3},
			nodes: map[string]agent.NodeInfo{"p": starting, "s1": parked, "s2": parked},
			want:  []act{{ActionClaim, "s1"}}, phase: PhaseSuspect},
		{name: "cold start: patience ends, a dead primary fails over", params: patient, prev: GroupState{PrimaryDownPolls: 4, Attempt: Attempt{Claimed: "s1"}},
			nodes: map[string]agent.NodeInfo{"p": starting, "s1": parkedMine, "s2": parked},
			want:  []act{{ActionOnline, "s1"}}, phase: PhaseFailingOver, candidate: "s1"},
		{name: "cold start: a failed launch ends patience at once", params: patient, prev: GroupState{PrimaryDownPolls: 2},
			nodes: map[string]agent.NodeInfo{"p": launchFailed, "s1": parked, "s2": parked},
			want:  []act{{ActionClaim, "s1"}}, phase: PhaseFailingOver, candidate: "s1"},
		{name: "cold start: a broken channel ends patience at once", params: patient, prev: GroupState{PrimaryDownPolls: 2},
			nodes: map[string]agent.NodeInfo{"p": killed, "s1": parked, "s2": parked},
			want:  []act{{ActionClaim, "s1"}}, phase: PhaseFailingOver, candidate: "s1"},
		{name: "cold start: a standby Jenkins unparked is parked again while the primary connects", params: patient, prev: GroupState{Phase: PhaseSuspect, PrimaryDownPolls: 1},
			nodes: map[string]agent.NodeInfo{"p": starting, "s1": idleOnline, "s2": parked},
			want:  []act{{ActionPark, "s1"}}, phase: PhaseSuspect, unparked: true},
		{name: "a new watchdog during an outage (Jenkins relaunching the primary, no cause): the online standby carries", params: patient, prev: GroupState{},
			nodes: map[string]agent.NodeInfo{"p": starting, "s1": idleOnline, "s2": parked},
			phase: PhaseFailedOver, active: "s1"},
		{name: "manual failback: the carrier reconnecting is no failback", params: manual, prev: GroupState{Phase: PhaseManualFailback, Active: "s1", PrimaryUpPolls: 50},
			nodes: map[string]agent.NodeInfo{"p": online, "s1": killed, "s2": parked},
			phase: PhaseManualFailback, active: "s1"},
		{name: "a candidate another instance gave up on is tried, the next one claimed", prev: GroupState{Phase: PhaseFailingOver, PrimaryDownPolls: 9, Attempt: Attempt{Candidate: "s1", PeerClaim: "peer", PeerClaimPolls: 2, PeerClaimWait: 4}},
			nodes: map[string]agent.NodeInfo{"p": killed, "s1": {Offline: true, TemporarilyOffline: true, CauseClass: agent.CauseUser, CauseReason: agent.ParkMessage(agent.ParkGiveUpUp), ByWatchdog: true, Connected: true, Launchable: true}, "s2": parked},
			want:  []act{{ActionClaim, "s2"}}, phase: PhaseFailingOver, candidate: "s2"},
		{name: "a standby Jenkins is launching is left to finish", prev: GroupState{Phase: PhaseFailingOver, PrimaryDownPolls: 5, Attempt: Attempt{Candidate: "s1", CandidatePolls: 1}},
			nodes: map[string]agent.NodeInfo{"p": killed, "s1": starting, "s2": parked},
			phase: PhaseFailingOver, candidate: "s1"},
		{name: "unparked standby in manual mode is parked too", params: manual, prev: GroupState{Phase: PhaseNormal, Active: "p", PrimaryUpPolls: 40},
			nodes: map[string]agent.NodeInfo{"p": online, "s1": idleOnline, "s2": parked},
			want:  []act{{ActionPark, "s1"}}, phase: PhaseNormal, active: "p", unparked: true},
		{name: "standby brought up by a peer is no unparked standby", prev: GroupState{Phase: PhaseSuspect, PrimaryDownPolls: 1, Attempt: Attempt{Claimed: "s1", PeerClaim: "peer"}},
			nodes: map[string]agent.NodeInfo{"p": online, "s1": online, "s2": parked},
			phase: PhaseFailingBack, active: "s1"},
		{name: "failover: a peer's claim is waited for", prev: GroupState{Phase: PhaseSuspect, PrimaryDownPolls: 1, Attempt: Attempt{Claimed: "s1"}},
			nodes: map[string]agent.NodeInfo{"p": killed, "s1": parkedPeer, "s2": parked},
			phase: PhaseFailingOver, candidate: "s1", peerClaim: "peer"},
		{name: "failover: a peer's claim that stood too long is taken over", prev: GroupState{Phase: PhaseFailingOver, PrimaryDownPolls: 9, Attempt: Attempt{Candidate: "s1", PeerClaim: "peer", PeerClaimPolls: 4, PeerClaimWait: 4}},
			nodes: map[string]agent.NodeInfo{"p": killed, "s1": parkedPeer, "s2": parked},
			want:  []act{{ActionClaim, "s1"}}, phase: PhaseFailingOver, candidate: "s1"},
		{name: "failover: waiting for a peer does not use up the standby's wait", prev: GroupState{Phase: PhaseFailingOver, PrimaryDownPolls: 9, Attempt: Attempt{Candidate: "s1", CandidatePolls: 2, PeerClaim: "peer", PeerClaimPolls: 1, PeerClaimWait: 4}},
			nodes: map[string]agent.NodeInfo{"p": killed, "s1": parkedPeer, "s2": parked},
			phase: PhaseFailingOver, candidate: "s1", peerClaim: "peer"},
		{name: "failback outside its window: pending", params: windowed, prev: GroupState{Phase: PhaseFailingBack, Active: "s1", PrimaryUpPolls: 5},
			nodes: map[string]agent.NodeInfo{"p": online, "s1": online, "s2": parked},
			phase: PhaseFailbackPending, active: "s1"},
		{name: "primary back while the standby is claimed but still parked: claim rewritten", prev: GroupState{Phase: PhaseSuspect, PrimaryDownPolls: 1, Attempt: Attempt{Claimed: "s1"}},
			nodes: map[string]agent.NodeInfo{"p": online, "s1": parkedMine, "s2": parked},
			want:  []act{{ActionPark, "s1"}}, phase: PhaseNormal, active: "p"},
		{name: "everything missing", prev: GroupState{PrimaryDownPolls: 1},
			nodes: map[string]agent.NodeInfo{"p": missing, "s1": missing, "s2": missing},
			phase: PhaseDown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.params
			if p == (Params{}) {
				p = auto
			}
			d := Decide(g, tt.prev, Input{Nodes: nodesOf(tt.nodes)}, p)
			if got := acts(d); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("actions = %v, want %v", got, tt.want)
			}
			if d.Next.Phase != tt.phase {
				t.Errorf("phase = %s, want %s", d.Next.Phase, tt.phase)
			}
			if d.Next.Active != tt.active {
				t.Errorf("active = %q, want %q", d.Next.Active, tt.active)
			}
			if d.Next.Candidate != tt.candidate {
				t.Errorf("candidate = %q, want %q", d.Next.Candidate, tt.candidate)
			}
			if d.Next.PeerClaim != tt.peerClaim {
				t.Errorf("peer claim = %q, want %q", d.Next.PeerClaim, tt.peerClaim)
			}
			if (len(d.Unparked) > 0) != tt.unparked {
				t.Errorf("unparked = %v, want %t", d.Unparked, tt.unparked)
			}
			if d.Failover != tt.failover || d.Failback != tt.failback {
				t.Errorf("failover, failback = %t, %t; want %t, %t", d.Failover, d.Failback, tt.failover, tt.failback)
			}
			for _, a := range d.Actions {
				if a.Node == g.Primary {
					t.Errorf("action %v on the primary", a)
				}
				if st := agent.Classify(tt.nodes[a.Node], tt.nodes[a.Node].Name != absent); st == agent.Held || st == agent.Missing {
					t.Errorf("action %v on a %s node", a, st)
				}
			}
		})
	}
}

func TestDecideOnFailureKeepsNoUncommittedChange(t *testing.T) {
	g := config.Group{Primary: "p", Standbys: []string{"s1"}}
	p := Params{FailoverAfter: 1, FailbackAfter: 1, StandbyWait: 3, Failback: config.FailbackAuto}

	d := Decide(g, GroupState{Phase: PhaseFailedOver, Active: "s1"}, Input{Nodes: nodesOf(map[string]agent.NodeInfo{"p": online, "s1": online})}, p)
	if !d.Failback || d.Next.Active != "p" || d.OnFailure.Active != "s1" || d.OnFailure.Phase != PhaseFailingBack {
		t.Fatalf("failback: Next=%+v OnFailure=%+v", d.Next, d.OnFailure)
	}
	if len(d.Actions) != 1 || !d.Actions[0].Commits {
		t.Fatalf("failback park must be a committing action: %+v", d.Actions)
	}
}

func TestDecideDoesNotMutatePrevious(t *testing.T) {
	g := config.Group{Primary: "p", Standbys: []string{"s1", "s2"}}
	p := Params{FailoverAfter: 1, FailbackAfter: 1, StandbyWait: 1, Failback: config.FailbackAuto}
	prev := GroupState{Phase: PhaseFailingOver, PrimaryDownPolls: 3, Attempt: Attempt{Candidate: "s1", Tried: map[string]bool{"s2": true}}}
	Decide(g, prev, Input{Nodes: nodesOf(map[string]agent.NodeInfo{"p": killed, "s1": killed, "s2": parked})}, p)
	if len(prev.Tried) != 1 || !prev.Tried["s2"] {
		t.Errorf("Decide changed the previous state's Tried map: %v", prev.Tried)
	}
}
