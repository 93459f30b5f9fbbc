package watcher

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/expfmt"

	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/agent"
	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/config"
)

type actionKey struct {
	node   string
	action ActionKind
	result string
}

// constCollector is the collector as it was before series were shared
// between scrapes: a prometheus.MustNewConstMetric per series per scrape.
// It is kept as the reference the shared one must export exactly, and as
// the baseline BenchmarkScrape compares against.
type constCollector struct {
	groups []config.Group

	nodeOnline, nodeState, activeNode, groupState, groupSince, standbySince, actions *prometheus.Desc
	standbyReady, readyStandbys                                                      *prometheus.Desc

	mu         sync.Mutex
	nodeStates map[string]agent.State
	ready      map[string]bool
	views      map[string]groupView
	counts     map[actionKey]float64
}

func newConstCollector(groups []config.Group) *constCollector {
	return &constCollector{
		groups:        groups,
		nodeOnline:    famNodeOnline.desc(),
		nodeState:     famNodeState.desc(),
		activeNode:    famActiveNode.desc(),
		groupState:    famGroupState.desc(),
		groupSince:    famGroupSince.desc(),
		standbySince:  famStandbySince.desc(),
		actions:       famActions.desc(),
		standbyReady:  famStandbyReady.desc(),
		readyStandbys: famReadyStandbys.desc(),
		nodeStates:    map[string]agent.State{},
		ready:         map[string]bool{},
		views:         map[string]groupView{},
		counts:        map[actionKey]float64{},
	}
}

func (c *constCollector) setNode(node string, st agent.State, ready bool) {
	c.mu.Lock()
	c.nodeStates[node], c.ready[node] = st, ready
	c.mu.Unlock()
}

func (c *constCollector) setGroup(group string, v groupView) {
	c.mu.Lock()
	c.views[group] = v
	c.mu.Unlock()
}

func (c *constCollector) countAction(node string, a ActionKind, result string) {
	c.mu.Lock()
	c.counts[actionKey{node, a, result}]++
	c.mu.Unlock()
}

func (c *constCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.nodeOnline, c.nodeState, c.activeNode, c.groupState, c.groupSince, c.standbySince, c.actions,
		c.standbyReady, c.readyStandbys} {
		ch <- d
	}
}

func (c *constCollector) Collect(ch chan<- prometheus.Metric) {
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
		ready := 0
		for _, sb := range g.Standbys {
			gauge(c.standbyReady, oneIf(c.ready[sb]), g.Name(), sb)
			if c.ready[sb] {
				ready++
			}
		}
		gauge(c.readyStandbys, float64(ready), g.Name())
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

// collectorUnderTest is what the watcher feeds both collectors.
type collectorUnderTest interface {
	prometheus.Collector
	setNode(node string, st agent.State, ready bool)
	setGroup(group string, v groupView)
	countAction(node string, a ActionKind, result string)
}

func benchGroups(n int) []config.Group {
	gs := make([]config.Group, n)
	for i := range gs {
		gs[i] = config.Group{Primary: fmt.Sprintf("agent-%04d", 2*i), Standbys: []string{fmt.Sprintf("agent-%04d", 2*i+1)}}
	}
	return gs
}

// steady puts a collector where a poll of the benchmark layout leaves it:
// primaries online, standbys parked, every group normal.
func steady(c collectorUnderTest, groups []config.Group, since time.Time) {
	for _, g := range groups {
		c.setNode(g.Primary, agent.Online, true)
		for _, s := range g.Standbys {
			c.setNode(s, agent.Parked, true)
		}
		c.setGroup(g.Name(), groupView{phase: PhaseNormal, active: g.Primary, since: since})
	}
}

// exported is what a scrape of c shows, in the text format.
func exported(t testing.TB, c prometheus.Collector) string {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(&b, mf); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}

// TestCollectorExportsWhatConstMetricsDid drives the shared-series
// collector and the reference through the same random changes, to nodes
// in no group and to action results that are not counted too, and requires the same exported text after each,
// through a pedantic registry that checks every series against its Desc.
func TestCollectorExportsWhatConstMetricsDid(t *testing.T) {
	groups := append(benchGroups(6), config.Group{Primary: "lone", Standbys: []string{"spare", `a "quoted" \ back\nslash ü`}},
		config.Group{Primary: "Zeta", Standbys: []string{"alpha"}})
	ours, ref := newStateCollector(groups), newConstCollector(groups)
	both := []collectorUnderTest{ours, ref}
	if a, b := exported(t, ours), exported(t, ref); a != b {
		t.Fatalf("before any poll:\n%s\nwant\n%s", a, b)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	nodes := []string{"lone", "spare", "not-in-a-group"}
	for _, g := range groups {
		nodes = append(nodes, g.Nodes()...)
	}
	pick := func(xs []string) string { return xs[rng.IntN(len(xs))] }
	results := append([]string{"bogus"}, actionResults...)
	base := time.Date(2026, 1, 2, 3, 4, 5, 600_000_000, time.UTC)
	for step := range 400 {
		switch rng.IntN(3) {
		case 0:
			st := agent.States[rng.IntN(len(agent.States))]
			n, ready := pick(nodes), rng.IntN(2) == 0
			for _, c := range both {
				c.setNode(n, st, ready)
			}
		case 1:
			g := groups[rng.IntN(len(groups))]
			v := groupView{phase: Phases[rng.IntN(len(Phases))], active: pick(append(g.Nodes(), "", "elsewhere"))}
			if rng.IntN(4) > 0 {
				v.since = base.Add(time.Duration(rng.IntN(1000)) * time.Second)
			}
			if rng.IntN(2) == 0 {
				v.standbySince = base.Add(time.Duration(rng.IntN(1000)) * time.Millisecond)
			}
			if rng.IntN(10) == 0 {
				v.phase = ""
			}
			for _, c := range both {
				c.setGroup(g.Name(), v)
			}
		case 2:
			n, a, r := pick(nodes), actionKinds[rng.IntN(len(actionKinds))], pick(results)
			for _, c := range both {
				c.countAction(n, a, r)
			}
		}
		want := exported(t, ref)
		if got := exported(t, ours); got != want {
			t.Fatalf("step %d:\n%s\nwant\n%s", step, got, want)
		}
		var text bytes.Buffer
		if err := ours.writeText(&text); err != nil {
			t.Fatal(err)
		}
		if text.String() != want {
			t.Fatalf("step %d, WriteText:\n%s\nwant\n%s", step, text.String(), want)
		}
	}
}

// TestCollectorScrapesWhilePolled scrapes while polls change every value:
// run with -race, it shows that nothing a scrape holds is changed under it.
func TestCollectorScrapesWhilePolled(t *testing.T) {
	groups := benchGroups(20)
	c := newStateCollector(groups)
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	h := promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			for _, g := range groups {
				c.setNode(g.Primary, agent.States[i%len(agent.States)], i%2 == 0)
				c.setNode(g.Standbys[0], agent.Parked, i%3 == 0)
				c.setGroup(g.Name(), groupView{phase: Phases[i%len(Phases)], active: g.Primary, since: time.Unix(int64(i), 0)})
				c.countAction(g.Standbys[0], actionKinds[i%len(actionKinds)], actionResults[i%len(actionResults)])
			}
		}
	}()
	for range 20 {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
		if rec.Code != http.StatusOK {
			t.Fatalf("scrape: %d %s", rec.Code, rec.Body)
		}
		if err := c.writeText(io.Discard); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
}

// BenchmarkScrape serves the per-node and per-group series at 1,000
// agents in 250 and 500 groups: written as text straight from the values
// (impl=text, Metrics.WriteText), through the registry and promhttp with
// the shared series (impl=shared) and with a const metric built per series
// per scrape (impl=const, the collector before). B/op is what one scrape
// allocates, the registry's own share included; that garbage is what
// drives the daemon's resident memory when it is scraped often.
func BenchmarkScrape(b *testing.B) {
	since := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, n := range []int{250, 500} {
		groups := benchGroups(n)
		for _, impl := range []string{"text", "shared", "const"} {
			b.Run(fmt.Sprintf("impl=%s/agents=1000/groups=%d", impl, n), func(b *testing.B) {
				var c collectorUnderTest = newStateCollector(groups)
				if impl == "const" {
					c = newConstCollector(groups)
				}
				steady(c, groups, since)
				reg := prometheus.NewRegistry()
				reg.MustRegister(c)
				var h http.Handler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
				if impl == "text" {
					h = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
						if err := c.(*stateCollector).writeText(w); err != nil {
							b.Fatal(err)
						}
					})
				}
				req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
				w := &discardWriter{header: http.Header{}}
				b.ReportAllocs()
				for b.Loop() {
					w.n = 0
					h.ServeHTTP(w, req)
				}
				b.ReportMetric(float64(w.n), "scrape-B")
			})
		}
	}
}

type discardWriter struct {
	header http.Header
	n      int
}

func (w *discardWriter) Header() http.Header { return w.header }
func (w *discardWriter) WriteHeader(int)     {}
func (w *discardWriter) Write(p []byte) (int, error) {
	w.n += len(p)
	return len(p), nil
}

var _ io.Writer = (*discardWriter)(nil)

// TestWriteTextReplacesTheRegistryFamilies is the wiring a /metrics
// handler uses: the registry without the state collector, as text, then
// WriteText, shows every series the full registry shows.
func TestWriteTextReplacesTheRegistryFamilies(t *testing.T) {
	groups := benchGroups(3)
	full := prometheus.NewPedanticRegistry()
	m := NewMetrics(full, groups, []string{"timeout"})
	steady(m.state, groups, time.Unix(1_700_000_000, 250_000_000))
	m.state.countAction("agent-0001", actionKinds[0], ResultSkipped)
	want := gatherText(t, full)

	if !full.Unregister(m.StateCollector()) {
		t.Fatal("state collector was not registered")
	}
	var got bytes.Buffer
	got.WriteString(gatherText(t, full))
	if err := m.WriteText(&got); err != nil {
		t.Fatal(err)
	}
	if sortedLines(got.String()) != sortedLines(want) {
		t.Errorf("registry without the state collector plus WriteText:\n%s\nwant\n%s", got.String(), want)
	}
}

func gatherText(t *testing.T, g prometheus.Gatherer) string {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(&b, mf); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}

func sortedLines(s string) string {
	lines := strings.Split(s, "\n")
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

// setNode and setGroup set values as the watcher's state would show them,
// for tests that drive the collector without a watcher.
func (c *stateCollector) setNode(node string, st agent.State, ready bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.setNodeLocked(node, st, ready)
}

func (c *stateCollector) setGroup(group string, v groupView) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.setGroupLocked(group, v)
}

// TestFamiliesTableIsWhatAScrapeShows requires the registry to export
// exactly the families of the Families table, each with the table's HELP
// text, type and labels, and WriteText to write the table's headers: a
// family registered without a row, or a collector writing its own help
// text, fails here.
func TestFamiliesTableIsWhatAScrapeShows(t *testing.T) {
	groups := benchGroups(2)
	reg := prometheus.NewPedanticRegistry()
	m := NewMetrics(reg, groups, []string{"timeout"})
	steady(m.state, groups, time.Unix(1_700_000_000, 0))
	m.pollDuration.Observe(0.1)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	table := map[string]Family{}
	for _, f := range Families {
		if _, dup := table[f.FullName()]; dup {
			t.Errorf("%s: twice in Families", f.FullName())
		}
		table[f.FullName()] = f
	}
	seen := map[string]bool{}
	for _, mf := range mfs {
		name := mf.GetName()
		seen[name] = true
		f, ok := table[name]
		if !ok {
			t.Errorf("%s: registered but not in Families", name)
			continue
		}
		if mf.GetHelp() != f.Help {
			t.Errorf("%s: HELP %q, table says %q", name, mf.GetHelp(), f.Help)
		}
		if typ := strings.ToLower(mf.GetType().String()); typ != f.Type {
			t.Errorf("%s: TYPE %s, table says %s", name, typ, f.Type)
		}
		for _, s := range mf.GetMetric() {
			var labels []string
			for _, l := range s.GetLabel() {
				labels = append(labels, l.GetName())
			}
			if want := slices.Sorted(slices.Values(f.Labels)); !slices.Equal(labels, want) {
				t.Errorf("%s: labels %v, table says %v", name, labels, want)
				break
			}
		}
	}
	for name := range table {
		if !seen[name] {
			t.Errorf("%s: in Families but not registered", name)
		}
	}

	var text bytes.Buffer
	if err := m.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(text.String()) {
		var name, rest string
		switch {
		case strings.HasPrefix(line, "# HELP "):
			name, rest, _ = strings.Cut(strings.TrimPrefix(line, "# HELP "), " ")
			if f := table[name]; rest != f.Help+"\n" {
				t.Errorf("WriteText: %s HELP %q, table says %q", name, rest, f.Help)
			}
		case strings.HasPrefix(line, "# TYPE "):
			name, rest, _ = strings.Cut(strings.TrimPrefix(line, "# TYPE "), " ")
			if f := table[name]; rest != f.Type+"\n" {
				t.Errorf("WriteText: %s TYPE %q, table says %q", name, rest, f.Type)
			}
		}
	}
}

// TestActionsHelpNamesEveryAction pins the drift the table ended: the
// help text once listed three of the four actions.
func TestActionsHelpNamesEveryAction(t *testing.T) {
	for _, a := range actionKinds {
		if !strings.Contains(famActions.Help, string(a)) {
			t.Errorf("actions_total help %q does not name %s", famActions.Help, a)
		}
	}
	for _, s := range agent.States {
		if !strings.Contains(famNodeState.Help, string(s)) {
			t.Errorf("node_state help %q does not name %s", famNodeState.Help, s)
		}
	}
}
