package watcher

import (
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/agent"
)

// Family is one metric family the watcher exports. The registry's
// collectors, the text writer and the tests all take a family's name,
// HELP text, type and labels from here, so a scrape through either path
// shows the same text and no copy can drift from the others.
type Family struct {
	Name   string // without familyPrefix
	Type   string // counter, gauge or histogram, as the text format's TYPE line says
	Help   string
	Labels []string
}

// FullName is the family's name as a scrape shows it.
func (f Family) FullName() string { return familyPrefix + f.Name }

func (f Family) desc() *prometheus.Desc {
	return prometheus.NewDesc(f.FullName(), f.Help, f.Labels, nil)
}

func (f Family) counterVec() *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{Name: f.FullName(), Help: f.Help}, f.Labels)
}

// The families, by name. The lists in a help text are built from the
// values the series take, so a new action, result or state shows there.
var (
	famActions = Family{Name: "actions_total", Type: "counter", Labels: []string{"node", "action", "result"},
		Help: "Changes asked of Jenkins by node, action (" + joinKinds(actionKinds) + ") and result (" +
			strings.Join(actionResults, ", ") + ")."}
	famActiveNode = Family{Name: "active_node", Type: "gauge", Labels: []string{"group", "node"},
		Help: "1 for the node carrying the group's work."}
	famClaimCollisions = Family{Name: "claim_collisions_total", Type: "counter", Labels: []string{"group"},
		Help: "Claims on a standby overwritten at once by another watchdog instance, which then brought it up."}
	famControllerRestarts = Family{Name: "controller_restarts_total", Type: "counter",
		Help: "Controller restarts seen (X-Jenkins-Session changed)."}
	famFailbacks = Family{Name: "failbacks_total", Type: "counter", Labels: []string{"group"},
		Help: "Failbacks completed: the carrying standby was parked after the primary came back."}
	famFailovers = Family{Name: "failovers_total", Type: "counter", Labels: []string{"group"},
		Help: "Failovers completed: a standby the watchdog brought up came online."}
	famGroupState = Family{Name: "group_state", Type: "gauge", Labels: []string{"group", "state"},
		Help: "Each group's state, one-hot."}
	famGroupSince = Family{Name: "group_state_since_timestamp_seconds", Type: "gauge", Labels: []string{"group"},
		Help: "Unix time at which the group entered its current state."}
	famJenkinsErrors = Family{Name: "jenkins_errors_total", Type: "counter", Labels: []string{"kind"},
		Help: "Failed requests to Jenkins by kind."}
	famJenkinsUp = Family{Name: "jenkins_up", Type: "gauge",
		Help: "1 when the last poll of Jenkins succeeded."}
	famLastSuccess = Family{Name: "last_success_timestamp_seconds", Type: "gauge",
		Help: "Unix time of the last successful poll."}
	famNodeOnline = Family{Name: "node_online", Type: "gauge", Labels: []string{"node"},
		Help: "1 when Jenkins reports the node online (not offline), else 0."}
	famNodeState = Family{Name: "node_state", Type: "gauge", Labels: []string{"node", "state"},
		Help: "The watchdog's reading of each node, one-hot: " + joinKinds(agent.States) + "."}
	famPollDuration = Family{Name: "poll_duration_seconds", Type: "histogram",
		Help: "Duration of a poll cycle: read, decide, act."}
	famPollPanics = Family{Name: "poll_panics_total", Type: "counter",
		Help: "Polls that panicked; the panic was recovered and the next poll runs."}
	famPolls = Family{Name: "polls_total", Type: "counter", Labels: []string{"result"},
		Help: "Poll cycles by result (" + strings.Join(pollResults, ", ") + ")."}
	famStandbySince = Family{Name: "standby_active_since_timestamp_seconds", Type: "gauge", Labels: []string{"group"},
		Help: "Unix time since which a standby has carried the group; 0 while the primary carries it."}
	famStandbyReady = Family{Name: "standby_ready", Type: "gauge", Labels: []string{"group", "node"},
		Help: "1 when the standby could take over now: parked (or carrying) with its channel up, else 0."}
	famReadyStandbys = Family{Name: "group_ready_standbys", Type: "gauge", Labels: []string{"group"},
		Help: "Standbys of the group that could take over now (jenkins_failover_standby_ready summed)."}
	famHoldsRestored = Family{Name: "holds_restored_total", Type: "counter", Labels: []string{"group", "result"},
		Help: "People's holds that Jenkins dropped (restart or reload on 2.482 to 2.555.2, node save) and the watchdog wrote back, by result (" +
			strings.Join([]string{ResultOK, ResultError, ResultSkipped}, ", ") + ")."}
	famPeerClaims = Family{Name: "peer_claims_total", Type: "counter", Labels: []string{"group", "outcome"},
		Help: "Another instance's claims this instance stopped waiting for: " + claimTakenOver + " (it stood its wait, STANDBY_WAIT plus jitter polls) or " +
			claimAbandoned + " (the standby was not online within 3 x STANDBY_WAIT + 1 polls, however often its claim changed hands)."}
	famUnparked = Family{Name: "standby_unparked_total", Type: "counter", Labels: []string{"group"},
		Help: "Standbys found online with no failover in progress (Jenkins dropped their temporarily-offline mark) and parked again."}
)

// Families lists every family NewMetrics registers, by name.
var Families = []Family{
	famActions, famActiveNode, famClaimCollisions, famControllerRestarts, famFailbacks, famFailovers,
	famGroupState, famGroupSince, famHoldsRestored, famJenkinsErrors, famJenkinsUp, famLastSuccess, famNodeOnline,
	famNodeState, famPeerClaims, famPollDuration, famPollPanics, famPolls, famReadyStandbys, famStandbyReady, famStandbySince, famUnparked,
}

var pollResults = []string{ResultOK, ResultError}

const (
	claimTakenOver = "taken_over"
	claimAbandoned = "abandoned"
)

func joinKinds[S ~string](kinds []S) string {
	s := make([]string, len(kinds))
	for i, k := range kinds {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}
