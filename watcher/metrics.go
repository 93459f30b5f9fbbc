package watcher

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/agent"
	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/config"
)

// Action results, as counted in jenkins_failover_actions_total.
const (
	ResultOK      = "ok"
	ResultError   = "error"
	ResultDryRun  = "dry_run"
	ResultSkipped = "skipped" // a fresh read showed the change was no longer wanted
)

// Metrics are the watcher's Prometheus series. The per-node and per-group
// series (thousands at a thousand agents) are not stored as Prometheus
// children: a collector derives them from the watcher's state at scrape
// time, so they cost nothing between scrapes and every label combination
// exists from the first scrape. The few fixed series are ordinary metrics.
type Metrics struct {
	state           *stateCollector
	failovers       *prometheus.CounterVec
	failbacks       *prometheus.CounterVec
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
		state: newStateCollector(groups),
		failovers: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "failovers_total",
			Help: "Failovers completed: a standby the watchdog brought up came online."}, []string{"group"}),
		failbacks: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "failbacks_total",
			Help: "Failbacks completed: the carrying standby was parked after the primary came back."}, []string{"group"}),
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
	reg.MustRegister(m.state, m.failovers, m.failbacks, m.pollDuration, m.polls, m.jenkinsErrors, m.jenkinsUp,
		m.lastSuccess, m.panics, m.controllerStart)
	for _, g := range groups {
		m.failovers.WithLabelValues(g.Name())
		m.failbacks.WithLabelValues(g.Name())
	}
	m.polls.WithLabelValues("ok")
	m.polls.WithLabelValues("error")
	for _, k := range errorKinds {
		m.jenkinsErrors.WithLabelValues(k)
	}
	return m
}

var actionKinds = []ActionKind{ActionOnline, ActionPark, ActionLaunch}
var actionResults = []string{ResultOK, ResultError, ResultDryRun, ResultSkipped}

type actionKey struct {
	node   string
	action ActionKind
	result string
}

// groupView is what the collector needs of a group.
type groupView struct {
	phase        Phase
	active       string
	since        time.Time
	standbySince time.Time
}

// stateCollector owns the per-node and per-group values and renders them
// on scrape.
type stateCollector struct {
	groups []config.Group

	nodeOnline, nodeState, activeNode, groupState, groupSince, standbySince, actions *prometheus.Desc

	mu         sync.Mutex
	nodeStates map[string]agent.State
	views      map[string]groupView
	counts     map[actionKey]float64
}

func newStateCollector(groups []config.Group) *stateCollector {
	desc := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("jenkins_failover_"+name, help, labels, nil)
	}
	return &stateCollector{
		groups:     groups,
		nodeOnline: desc("node_online", "1 when Jenkins reports the node online (not offline), else 0.", "node"),
		nodeState: desc("node_state", "The watchdog's reading of each node, one-hot: online, parked, held, disconnected, missing, unknown.",
			"node", "state"),
		activeNode:   desc("active_node", "1 for the node carrying the group's work.", "group", "node"),
		groupState:   desc("group_state", "Each group's state, one-hot.", "group", "state"),
		groupSince:   desc("group_state_since_timestamp_seconds", "Unix time at which the group entered its current state.", "group"),
		standbySince: desc("standby_active_since_timestamp_seconds", "Unix time since which a standby has carried the group; 0 while the primary carries it.", "group"),
		actions: desc("actions_total", "Changes asked of Jenkins by node, action (online, park, launch) and result (ok, error, dry_run, skipped).",
			"node", "action", "result"),
		nodeStates: map[string]agent.State{},
		views:      map[string]groupView{},
		counts:     map[actionKey]float64{},
	}
}

func (c *stateCollector) setNode(node string, st agent.State) {
	c.mu.Lock()
	c.nodeStates[node] = st
	c.mu.Unlock()
}

func (c *stateCollector) setGroup(group string, v groupView) {
	c.mu.Lock()
	c.views[group] = v
	c.mu.Unlock()
}

func (c *stateCollector) countAction(node string, a ActionKind, result string) {
	c.mu.Lock()
	c.counts[actionKey{node, a, result}]++
	c.mu.Unlock()
}

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.nodeOnline, c.nodeState, c.activeNode, c.groupState, c.groupSince, c.standbySince, c.actions} {
		ch <- d
	}
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	for _, g := range c.groups {
		view := c.views[g.Name()]
		if view.phase == "" {
			view.phase = PhaseUnknown
		}
		for _, p := range Phases {
			gauge(c.groupState, oneIf(p == view.phase), g.Name(), string(p))
		}
		gauge(c.groupSince, unixSeconds(view.since), g.Name())
		gauge(c.standbySince, unixSeconds(view.standbySince), g.Name())
		for _, n := range g.Nodes() {
			gauge(c.activeNode, oneIf(n == view.active), g.Name(), n)
			st := c.nodeStates[n]
			if st == "" {
				st = agent.Unknown
			}
			gauge(c.nodeOnline, oneIf(st == agent.Online), n)
			for _, s := range agent.States {
				gauge(c.nodeState, oneIf(s == st), n, string(s))
			}
			for _, a := range actionKinds {
				for _, r := range actionResults {
					// ok and error always exist, for rates and alerts; the
					// rarer results appear once they happen.
					v, seen := c.counts[actionKey{n, a, r}]
					if seen || r == ResultOK || r == ResultError {
						ch <- prometheus.MustNewConstMetric(c.actions, prometheus.CounterValue, v, n, string(a), r)
					}
				}
			}
		}
	}
}

func oneIf(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
