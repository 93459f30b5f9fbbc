package watcher

import (
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

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
	unparked        *prometheus.CounterVec
	holdsRestored   *prometheus.CounterVec
	peerClaims      *prometheus.CounterVec
	claimCollisions *prometheus.CounterVec
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
	m := &Metrics{
		state:           newStateCollector(groups),
		failovers:       famFailovers.counterVec(),
		failbacks:       famFailbacks.counterVec(),
		unparked:        famUnparked.counterVec(),
		holdsRestored:   famHoldsRestored.counterVec(),
		peerClaims:      famPeerClaims.counterVec(),
		claimCollisions: famClaimCollisions.counterVec(),
		pollDuration: prometheus.NewHistogram(prometheus.HistogramOpts{Name: famPollDuration.FullName(), Help: famPollDuration.Help,
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}}),
		polls:         famPolls.counterVec(),
		jenkinsErrors: famJenkinsErrors.counterVec(),
		jenkinsUp:     prometheus.NewGauge(prometheus.GaugeOpts{Name: famJenkinsUp.FullName(), Help: famJenkinsUp.Help}),
		lastSuccess:   prometheus.NewGauge(prometheus.GaugeOpts{Name: famLastSuccess.FullName(), Help: famLastSuccess.Help}),
		panics:        prometheus.NewCounter(prometheus.CounterOpts{Name: famPollPanics.FullName(), Help: famPollPanics.Help}),
		controllerStart: prometheus.NewCounter(prometheus.CounterOpts{Name: famControllerRestarts.FullName(),
			Help: famControllerRestarts.Help}),
	}
	reg.MustRegister(m.state, m.failovers, m.failbacks, m.unparked, m.holdsRestored, m.peerClaims, m.claimCollisions, m.pollDuration, m.polls, m.jenkinsErrors, m.jenkinsUp,
		m.lastSuccess, m.panics, m.controllerStart)
	for _, g := range groups {
		m.failovers.WithLabelValues(g.Name())
		m.failbacks.WithLabelValues(g.Name())
		m.unparked.WithLabelValues(g.Name())
		for _, r := range []string{ResultOK, ResultError, ResultSkipped} {
			m.holdsRestored.WithLabelValues(g.Name(), r)
		}
		m.peerClaims.WithLabelValues(g.Name(), claimTakenOver)
		m.peerClaims.WithLabelValues(g.Name(), claimAbandoned)
		m.claimCollisions.WithLabelValues(g.Name())
	}
	for _, r := range pollResults {
		m.polls.WithLabelValues(r)
	}
	for _, k := range errorKinds {
		m.jenkinsErrors.WithLabelValues(k)
	}
	return m
}

var actionKinds = []ActionKind{ActionClaim, ActionOnline, ActionPark, ActionLaunch}
var actionResults = []string{ResultOK, ResultError, ResultDryRun, ResultSkipped}

// groupView is what the collector needs of a group.
type groupView struct {
	phase        Phase
	active       string
	since        time.Time
	standbySince time.Time
}

// stateCollector owns the per-node and per-group values and renders them
// on scrape. At a thousand agents that is some twenty thousand series, so
// a scrape must not build them one by one: every label pair is built once,
// here, and shared by every scrape, and so are the values that do not
// change from one scrape to the next (0 and 1 of the one-hot gauges,
// counters that never moved, timestamps until they change). A scrape then
// allocates one block for all its series, on top of what the registry
// itself allocates per series. Everything handed to the registry is left
// as it is once handed over: what Write fills in is read-only by contract,
// and a later poll replaces a value instead of changing it in place.
type stateCollector struct {
	nodeOnline, nodeState, activeNode, groupState, groupSince, standbySince, actions *prometheus.Desc
	standbyReady, readyStandbys                                                      *prometheus.Desc

	statePairs, phasePairs, actionPairs, resultPairs []*dto.LabelPair

	mu sync.Mutex
	// src is the watcher whose state the series show. They are read from
	// it at scrape time (refresh); what the collector keeps is only the
	// rendering of those values, built once.
	src    stateSource
	groups []*groupSeries
	byNode map[string]*nodeSeries
	byName map[string]*groupSeries
	series int // series a scrape renders

	text textOrder // fixed at construction: read without the lock
}

// nodeSeries is a node's current values.
type nodeSeries struct {
	node  *dto.LabelPair // node="<name>"
	state int            // index in agent.States
	ready bool           // agent.Judge: a standby that could take over now
	// counts, by action and result (actionKinds × actionResults); nil
	// until the first such action, except for ok and error, which exist
	// from the start.
	counts []*dto.Counter
}

// groupSeries is a group's current values.
type groupSeries struct {
	group               *dto.LabelPair // group="<name>"
	nodes               []*nodeSeries  // as g.Nodes() lists them
	names               []string
	phase               int // index in Phases
	active              int // index in nodes, -1 for none
	since, standbySince *dto.Gauge
}

// Values shared by every series that has them.
var (
	gaugeZero   = &dto.Gauge{Value: new(0.0)}
	gaugeOne    = &dto.Gauge{Value: new(1.0)}
	counterZero = &dto.Counter{Value: new(0.0)}
)

// countGauge shares the values of small counts, which is all a group's
// standbys come to.
func countGauge(n int) *dto.Gauge {
	switch n {
	case 0:
		return gaugeZero
	case 1:
		return gaugeOne
	}
	return &dto.Gauge{Value: new(float64(n))}
}

func oneHot(on bool) *dto.Gauge {
	if on {
		return gaugeOne
	}
	return gaugeZero
}

func labelPair(name, value string) *dto.LabelPair {
	return &dto.LabelPair{Name: new(name), Value: new(value)}
}

func newStateCollector(groups []config.Group) *stateCollector {
	c := &stateCollector{
		nodeOnline:    famNodeOnline.desc(),
		nodeState:     famNodeState.desc(),
		activeNode:    famActiveNode.desc(),
		groupState:    famGroupState.desc(),
		groupSince:    famGroupSince.desc(),
		standbySince:  famStandbySince.desc(),
		actions:       famActions.desc(),
		standbyReady:  famStandbyReady.desc(),
		readyStandbys: famReadyStandbys.desc(),
		byNode:        map[string]*nodeSeries{},
		byName:        map[string]*groupSeries{},
	}
	for _, s := range agent.States {
		c.statePairs = append(c.statePairs, labelPair("state", string(s)))
	}
	for _, p := range Phases {
		c.phasePairs = append(c.phasePairs, labelPair("state", string(p)))
	}
	for _, a := range actionKinds {
		c.actionPairs = append(c.actionPairs, labelPair("action", string(a)))
	}
	for _, r := range actionResults {
		c.resultPairs = append(c.resultPairs, labelPair("result", r))
	}
	unknownState := slices.Index(agent.States, agent.Unknown)
	for _, g := range groups {
		gs := &groupSeries{group: labelPair("group", g.Name()), names: g.Nodes(), phase: slices.Index(Phases, PhaseUnknown),
			active: -1, since: gaugeZero, standbySince: gaugeZero}
		for _, n := range gs.names {
			ns := c.byNode[n]
			if ns == nil {
				ns = &nodeSeries{node: labelPair("node", n), state: unknownState,
					counts: make([]*dto.Counter, len(actionKinds)*len(actionResults))}
				for a := range actionKinds {
					for r, result := range actionResults {
						// ok and error always exist, for rates and alerts;
						// the rarer results appear once they happen.
						if result == ResultOK || result == ResultError {
							ns.counts[a*len(actionResults)+r] = counterZero
						}
					}
				}
				c.byNode[n] = ns
			}
			gs.nodes = append(gs.nodes, ns)
		}
		c.groups = append(c.groups, gs)
		c.byName[g.Name()] = gs
		c.series += len(Phases) + 2 + len(gs.nodes)*(2+len(agent.States)+2*len(actionKinds)) + 1 + len(gs.nodes) - 1
	}
	c.text = newTextOrder(c.groups)
	return c
}

// stateSource is the watcher: the state the per-node and per-group series
// show lives there, and the collector reads it on every scrape.
type stateSource interface {
	eachState(node func(name string, st agent.State, ready bool), group func(name string, v groupView))
}

func (c *stateCollector) bind(src stateSource) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.src = src
}

// refresh reads the watcher's state into the rendering. Callers hold c.mu;
// the watcher takes its own lock inside, and never takes c.mu under it.
func (c *stateCollector) refresh() {
	if c.src != nil {
		c.src.eachState(c.setNodeLocked, c.setGroupLocked)
	}
}

func (c *stateCollector) setNodeLocked(node string, st agent.State, ready bool) {
	if st == "" {
		st = agent.Unknown
	}
	i := slices.Index(agent.States, st)
	if n := c.byNode[node]; n != nil && i >= 0 {
		n.state, n.ready = i, ready
	}
}

func (c *stateCollector) setGroupLocked(group string, v groupView) {
	phase := v.phase
	if phase == "" {
		phase = PhaseUnknown
	}
	g := c.byName[group]
	if g == nil {
		return
	}
	if i := slices.Index(Phases, phase); i >= 0 {
		g.phase = i
	}
	g.active = slices.Index(g.names, v.active)
	g.since = timestampGauge(g.since, v.since)
	g.standbySince = timestampGauge(g.standbySince, v.standbySince)
}

// timestampGauge returns old while it still shows t, else a new value:
// a scrape may still be reading old.
func timestampGauge(old *dto.Gauge, t time.Time) *dto.Gauge {
	v := unixSeconds(t)
	if old.GetValue() == v {
		return old
	}
	if v == 0 {
		return gaugeZero
	}
	return &dto.Gauge{Value: new(v)}
}

func (c *stateCollector) countAction(node string, a ActionKind, result string) {
	ai, ri := slices.Index(actionKinds, a), slices.Index(actionResults, result)
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.byNode[node]
	if n == nil || ai < 0 || ri < 0 {
		return
	}
	i := ai*len(actionResults) + ri
	old := n.counts[i]
	if old == nil {
		// A series that did not exist: every group listing the node
		// renders it from now on.
		for _, g := range c.groups {
			if slices.Contains(g.nodes, n) {
				c.series++
			}
		}
	}
	n.counts[i] = &dto.Counter{Value: new(old.GetValue() + 1)}
}

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.nodeOnline, c.nodeState, c.activeNode, c.groupState, c.groupSince, c.standbySince, c.actions,
		c.standbyReady, c.readyStandbys} {
		ch <- d
	}
}

// series is one series as a scrape renders it.
type series struct {
	desc    *prometheus.Desc
	labels  [3]*dto.LabelPair // sorted by name, as the registry wants them
	n       int               // labels in use
	gauge   *dto.Gauge
	counter *dto.Counter
}

func (s *series) Desc() *prometheus.Desc { return s.desc }

func (s *series) Write(m *dto.Metric) error {
	m.Label, m.Gauge, m.Counter = s.labels[:s.n:s.n], s.gauge, s.counter
	return nil
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.refresh()
	// One block for the scrape's series; the registry keeps pointers into
	// it until the scrape is written out.
	block := make([]series, c.series)
	i := 0
	emit := func(s series) {
		block[i] = s
		ch <- &block[i]
		i++
	}
	onlineState := slices.Index(agent.States, agent.Online)
	for _, g := range c.groups {
		for p, pair := range c.phasePairs {
			emit(series{desc: c.groupState, labels: [3]*dto.LabelPair{g.group, pair}, n: 2, gauge: oneHot(p == g.phase)})
		}
		emit(series{desc: c.groupSince, labels: [3]*dto.LabelPair{g.group}, n: 1, gauge: g.since})
		emit(series{desc: c.standbySince, labels: [3]*dto.LabelPair{g.group}, n: 1, gauge: g.standbySince})
		ready := 0
		for _, n := range g.nodes[1:] {
			emit(series{desc: c.standbyReady, labels: [3]*dto.LabelPair{g.group, n.node}, n: 2, gauge: oneHot(n.ready)})
			if n.ready {
				ready++
			}
		}
		emit(series{desc: c.readyStandbys, labels: [3]*dto.LabelPair{g.group}, n: 1, gauge: countGauge(ready)})
		for k, n := range g.nodes {
			emit(series{desc: c.activeNode, labels: [3]*dto.LabelPair{g.group, n.node}, n: 2, gauge: oneHot(k == g.active)})
			emit(series{desc: c.nodeOnline, labels: [3]*dto.LabelPair{n.node}, n: 1, gauge: oneHot(n.state == onlineState)})
			for s, pair := range c.statePairs {
				emit(series{desc: c.nodeState, labels: [3]*dto.LabelPair{n.node, pair}, n: 2, gauge: oneHot(s == n.state)})
			}
			for a, action := range c.actionPairs {
				for r, result := range c.resultPairs {
					if v := n.counts[a*len(actionResults)+r]; v != nil {
						emit(series{desc: c.actions, labels: [3]*dto.LabelPair{action, n.node, result}, n: 3, counter: v})
					}
				}
			}
		}
	}
}
