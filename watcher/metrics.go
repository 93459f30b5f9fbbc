package watcher

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/config"
)

// Action results, as counted in jenkins_failover_actions_total.
const (
	ResultOK      = "ok"
	ResultError   = "error"
	ResultDryRun  = "dry_run"
	ResultSkipped = "skipped" // a fresh read showed the change was no longer wanted
)

// Metrics are the watcher's Prometheus series. Every label value is
// created up front so that each series exists from the first scrape.
type Metrics struct {
	nodeOnline      *prometheus.GaugeVec
	nodeState       *prometheus.GaugeVec
	activeNode      *prometheus.GaugeVec
	groupState      *prometheus.GaugeVec
	groupSince      *prometheus.GaugeVec
	standbySince    *prometheus.GaugeVec
	failovers       *prometheus.CounterVec
	failbacks       *prometheus.CounterVec
	actions         *prometheus.CounterVec
	pollDuration    prometheus.Histogram
	polls           *prometheus.CounterVec
	jenkinsErrors   *prometheus.CounterVec
	jenkinsUp       prometheus.Gauge
	lastSuccess     prometheus.Gauge
	panics          prometheus.Counter
	controllerStart prometheus.Counter
}

// NewMetrics registers the watcher's series on reg.
func NewMetrics(reg prometheus.Registerer, groups []config.Group, errorKinds []string) *Metrics {
	const ns = "jenkins_failover"
	m := &Metrics{
		nodeOnline: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "node_online",
			Help: "1 when Jenkins reports the node online (not offline), else 0."}, []string{"node"}),
		nodeState: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "node_state",
			Help: "The watchdog's reading of each node, one-hot: online, parked, held, disconnected, missing, unknown."}, []string{"node", "state"}),
		activeNode: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "active_node",
			Help: "1 for the node carrying the group's work."}, []string{"group", "node"}),
		groupState: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "group_state",
			Help: "Each group's state, one-hot."}, []string{"group", "state"}),
		groupSince: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "group_state_since_timestamp_seconds",
			Help: "Unix time at which the group entered its current state."}, []string{"group"}),
		standbySince: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "standby_active_since_timestamp_seconds",
			Help: "Unix time since which a standby has carried the group; 0 while the primary carries it."}, []string{"group"}),
		failovers: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "failovers_total",
			Help: "Failovers completed: a standby the watchdog brought up came online."}, []string{"group"}),
		failbacks: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "failbacks_total",
			Help: "Failbacks completed: the carrying standby was parked after the primary came back."}, []string{"group"}),
		actions: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "actions_total",
			Help: "Changes asked of Jenkins by node, action (online, park, launch) and result (ok, error, dry_run, skipped)."}, []string{"node", "action", "result"}),
		pollDuration: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Name: "poll_duration_seconds",
			Help:    "Duration of a poll cycle: read, decide, act.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}}),
		polls: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "polls_total",
			Help: "Poll cycles by result (ok, error)."}, []string{"result"}),
		jenkinsErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "jenkins_errors_total",
			Help: "Failed requests to Jenkins by kind."}, []string{"kind"}),
		jenkinsUp: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "jenkins_up",
			Help: "1 when the last poll of Jenkins succeeded."}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "last_success_timestamp_seconds",
			Help: "Unix time of the last successful poll."}),
		panics: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "poll_panics_total",
			Help: "Polls that panicked; the panic was recovered and the next poll runs."}),
		controllerStart: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "controller_restarts_total",
			Help: "Controller restarts seen (X-Jenkins-Session changed)."}),
	}
	reg.MustRegister(m.nodeOnline, m.nodeState, m.activeNode, m.groupState, m.groupSince, m.standbySince,
		m.failovers, m.failbacks, m.actions, m.pollDuration, m.polls, m.jenkinsErrors, m.jenkinsUp,
		m.lastSuccess, m.panics, m.controllerStart)

	for _, g := range groups {
		m.failovers.WithLabelValues(g.Name())
		m.failbacks.WithLabelValues(g.Name())
		m.groupSince.WithLabelValues(g.Name())
		m.standbySince.WithLabelValues(g.Name())
		m.setGroupState(g.Name(), PhaseUnknown)
		for _, n := range g.Nodes() {
			m.activeNode.WithLabelValues(g.Name(), n)
			m.nodeOnline.WithLabelValues(n)
			m.setNodeState(n, NodeUnknown)
			for _, a := range []ActionKind{ActionOnline, ActionPark, ActionLaunch} {
				for _, r := range []string{ResultOK, ResultError, ResultDryRun, ResultSkipped} {
					m.actions.WithLabelValues(n, string(a), r)
				}
			}
		}
	}
	m.polls.WithLabelValues("ok")
	m.polls.WithLabelValues("error")
	for _, k := range errorKinds {
		m.jenkinsErrors.WithLabelValues(k)
	}
	return m
}

func (m *Metrics) setGroupState(group string, p Phase) {
	for _, s := range Phases {
		v := 0.0
		if s == p {
			v = 1
		}
		m.groupState.WithLabelValues(group, string(s)).Set(v)
	}
}

func (m *Metrics) setNodeState(node string, st NodeState) {
	for _, s := range NodeStates {
		v := 0.0
		if s == st {
			v = 1
		}
		m.nodeState.WithLabelValues(node, string(s)).Set(v)
	}
	online := 0.0
	if st == NodeOnline {
		online = 1
	}
	m.nodeOnline.WithLabelValues(node).Set(online)
}
