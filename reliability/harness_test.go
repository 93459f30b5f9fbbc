package reliability

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/agent"
	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/config"
	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/internal/fakejenkins"
	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/internal/testlab"
	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/server"
	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/watcher"
)

// The credentials every environment uses. The token is distinctive so the
// secrets test can look for it, and for its Basic-auth encoding.
const (
	testUser  = "watchdog"
	testToken = "11c0ffee5ecret7oken0f7hewatchdog42"
)

func basicAuthValue(user, token string) string {
	return base64.StdEncoding.EncodeToString([]byte(user + ":" + token))
}

// The default world: one group, an inbound primary (it survives a
// controller restart, as the matrix needs), an SSH standby and an inbound
// one whose name needs escaping.
const (
	primary  = "slave01"
	standby1 = "slave02"
	standby2 = "slave 03"
)

var defaultAgents = []fakejenkins.AgentSpec{
	{Name: primary, Launch: fakejenkins.Inbound},
	{Name: standby1, Launch: fakejenkins.SSH},
	{Name: standby2, Launch: fakejenkins.Inbound},
}

var defaultParams = watcher.Params{FailoverAfter: 2, FailbackAfter: 2, StandbyWait: 3, Failback: config.FailbackAuto}

type envOptions struct {
	pairs   string // WATCHDOG_PAIRS; primary:standby1:standby2 when empty
	agents  []fakejenkins.AgentSpec
	params  *watcher.Params
	timeout time.Duration // JENKINS_TIMEOUT; 5s when zero
	// parked lists the nodes parked (with the watchdog's tag) before the
	// first poll; every standby when nil.
	parked []string
	// version is the Jenkins release the fake plays; with one that drops
	// the parked state on reload (2.482 to 2.555.2) the agents are
	// configured as code.
	version string
	// transport replaces the client's own (the soak turns compression off
	// to spend its time on polls rather than gzip under -race).
	transport http.RoundTripper
}

// env is one fake controller behind a real loopback HTTP server, one real
// jenkins.Client and one watcher, with everything the watcher says
// captured: its JSON log, its metrics and the errors Poll returned.
type env struct {
	t       testing.TB
	lab     *testlab.Lab
	fake    *fakejenkins.Controller
	tr      *tracker
	groups  []config.Group
	reg     *prometheus.Registry
	w       *watcher.Watcher
	logs    *syncBuffer
	errs    []string
	primary map[string]bool
	rt      http.RoundTripper
}

func newEnv(t testing.TB, o envOptions) *env {
	t.Helper()
	if o.pairs == "" {
		o.pairs = primary + ":" + standby1 + ":" + standby2
	}
	if o.agents == nil {
		o.agents = defaultAgents
	}
	if o.timeout == 0 {
		o.timeout = 5 * time.Second
	}
	agents := make([]fakejenkins.AgentSpec, len(o.agents))
	for i, a := range o.agents {
		a.CasC = o.version != ""
		agents[i] = a
	}
	tr := newTracker()
	lab := testlab.Start(t, testlab.Options{Pairs: o.pairs, Agents: agents, Fake: fakejenkins.Options{Version: o.version},
		User: testUser, Token: testToken, Parked: o.parked, ParkedBy: testUser, ParkMessage: agent.ParkMessage(agent.ParkStandby),
		Wrap: tr.wrap})
	groups := lab.Groups
	e := &env{t: t, lab: lab, fake: lab.Fake, tr: tr, groups: groups, logs: &syncBuffer{}, primary: map[string]bool{}, rt: o.transport}
	for _, g := range groups {
		e.primary[g.Primary] = true
	}
	params := defaultParams
	if o.params != nil {
		params = *o.params
	}
	e.w, e.reg = e.newWatcher(testUser, testToken, o.timeout, params, e.logs)
	return e
}

// newWatcher builds a watcher (with its own client, registry and logger)
// against this env's controller: the second-instance test uses it too.
func (e *env) newWatcher(user, token string, timeout time.Duration, p watcher.Params, logs io.Writer) (*watcher.Watcher, *prometheus.Registry) {
	e.t.Helper()
	return e.lab.MustWatcher(e.t, testlab.WatcherOptions{
		Client: testlab.ClientOptions{User: user, Token: token, Timeout: timeout, Transport: e.rt},
		Params: p, Log: logs, Kinds: testlab.ErrorKinds()})
}

// withJenkins rebuilds the env's watcher around a wrapper of its client,
// for tests that need to act between two requests of one poll.
func (e *env) withJenkins(wrap func(watcher.Jenkins) watcher.Jenkins, p watcher.Params) {
	e.t.Helper()
	e.w, e.reg = e.lab.MustWatcher(e.t, testlab.WatcherOptions{Wrap: wrap, Params: p, Log: e.logs})
}

// poll runs one cycle of the env's watcher, waits until the controller
// has recorded every request of it, checks the per-poll invariants on
// those requests and returns them.
func (e *env) poll(ctx context.Context) (error, []fakejenkins.RequestRecord) {
	return e.pollWith(ctx, e.w, testUser)
}

func (e *env) pollWith(ctx context.Context, w *watcher.Watcher, user string) (error, []fakejenkins.RequestRecord) {
	e.t.Helper()
	start := len(e.fake.Requests())
	err := w.Poll(ctx)
	if err != nil {
		e.errs = append(e.errs, err.Error())
	}
	e.tr.waitIdle(e.t)
	recs := e.fake.Requests()[start:]
	e.checkPoll(recs, user)
	return err, recs
}

func (e *env) mustPoll() []fakejenkins.RequestRecord {
	e.t.Helper()
	err, recs := e.poll(context.Background())
	if err != nil {
		e.t.Fatalf("poll: %v", err)
	}
	return recs
}

// checkPoll asserts what must hold for the requests of any one poll by
// user: never a POST to a primary; at most one POST per node and action;
// every POST after a successful read of every computer in this poll; every
// toggleOffline and changeOfflineCause right after a successful fresh read
// of that node, with no other request about that node in between.
// caller names who sent a request: the user, and the name of the further
// token when peers share the user (each its own token).
func caller(r fakejenkins.RequestRecord) string {
	if r.Token != "" {
		return r.User + "#" + r.Token
	}
	return r.User
}

func (e *env) checkPoll(recs []fakejenkins.RequestRecord, user string) {
	e.t.Helper()
	listOK := false
	lastOnNode := map[string]fakejenkins.RequestRecord{}
	posts := map[string]int{}
	for _, r := range recs {
		if caller(r) != user {
			continue
		}
		node := recordNode(r)
		if r.Method == http.MethodGet && r.Path == "/computer/api/json" && goodRead(r) {
			listOK = true
		}
		if r.Method == http.MethodPost {
			posts[node+" "+r.Action]++
			// The one change the watchdog makes to a primary: writing back
			// a hold Jenkins dropped (the person's, or maintenance).
			writeBack := r.Action == "changeOfflineCause" && (strings.Contains(r.RawQuery, "+hold+restored+for+") || strings.Contains(r.RawQuery, "+maintenance+%5B"))
			if e.primary[node] && !writeBack {
				e.t.Errorf("%s: POST %s to primary %q", user, r.Action, node)
			}
			if !listOK {
				e.t.Errorf("%s: POST %s %q without a successful read of the computers in this poll", user, r.Action, node)
			}
			if r.Action == "toggleOffline" || r.Action == "changeOfflineCause" {
				prev, ok := lastOnNode[node]
				if !ok || prev.Method != http.MethodGet || !goodRead(prev) {
					e.t.Errorf("%s: POST %s %q not right after a successful fresh read of it (previous: %+v)", user, r.Action, node, prev)
				}
			}
		}
		if node != "" {
			lastOnNode[node] = r
		}
	}
	for k, n := range posts {
		if n > 1 {
			e.t.Errorf("%s: %d POSTs of %s in one poll", user, n, k)
		}
	}
}

func goodRead(r fakejenkins.RequestRecord) bool { return r.Status == http.StatusOK && !r.Fault }

// goodPost is a POST that reached Jenkins and succeeded.
func goodPost(r fakejenkins.RequestRecord) bool {
	return r.Method == http.MethodPost && !r.Fault && r.Status >= 200 && r.Status < 400
}

// recordNode is the node a request addresses, "" for none.
func recordNode(r fakejenkins.RequestRecord) string {
	segs := strings.Split(strings.Trim(r.Path, "/"), "/")
	if len(segs) < 2 || segs[0] != "computer" || segs[1] == "api" {
		return ""
	}
	n, err := url.PathUnescape(segs[1])
	if err != nil {
		return segs[1]
	}
	return n
}

func postsIn(recs []fakejenkins.RequestRecord) []fakejenkins.RequestRecord {
	var out []fakejenkins.RequestRecord
	for _, r := range recs {
		if r.Method == http.MethodPost {
			out = append(out, r)
		}
	}
	return out
}

// state is a group's state with an empty Tried normalised, for comparing.
func (e *env) state(group string) watcher.GroupState {
	s := e.w.GroupState(group)
	if len(s.Tried) == 0 {
		s.Tried = nil
	}
	return s
}

func (e *env) node(name string) fakejenkins.NodeSnapshot {
	e.t.Helper()
	return e.lab.Node(e.t, name)
}

// metric returns a sample's value (0 when absent) from reg.
func metric(t testing.TB, reg prometheus.Gatherer, name string, labels ...string) float64 {
	t.Helper()
	v, _ := testlab.Metric(t, reg, name, labels...)
	return v
}

// metricSum adds every sample of name whose labels include labels.
func metricSum(t testing.TB, reg prometheus.Gatherer, name string, labels ...string) float64 {
	t.Helper()
	return testlab.MetricSum(t, reg, name, labels...)
}

// scrape returns what /status and /metrics serve.
func (e *env) scrape() (status, metrics string) {
	e.t.Helper()
	h := server.Handler(server.Options{Gatherer: e.reg, Watcher: e.w, Logger: slog.New(slog.DiscardHandler)}, make(chan struct{}))
	get := func(path string) string {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != http.StatusOK {
			e.t.Fatalf("%s: %d", path, rec.Code)
		}
		return rec.Body.String()
	}
	return get("/status"), get("/metrics")
}

// tracker counts the requests the controller is serving, so a test can
// wait until every request of a poll has been recorded without sleeping:
// the controller records a request before its handler returns, but a
// client that saw its connection cut may move on first.
type tracker struct {
	mu   sync.Mutex
	cond *sync.Cond
	n    int
	// hook, when set, runs before the controller sees a request, and
	// after, when set, once the controller has answered it.
	hook, after func(r *http.Request)
}

func newTracker() *tracker {
	tr := &tracker{}
	tr.cond = sync.NewCond(&tr.mu)
	return tr
}

func (tr *tracker) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tr.mu.Lock()
		tr.n++
		hook, after := tr.hook, tr.after
		tr.mu.Unlock()
		defer func() {
			tr.mu.Lock()
			tr.n--
			tr.cond.Broadcast()
			tr.mu.Unlock()
		}()
		if hook != nil {
			hook(r)
		}
		h.ServeHTTP(w, r)
		if after != nil {
			after(r)
		}
	})
}

func (tr *tracker) setHook(h func(*http.Request)) {
	tr.mu.Lock()
	tr.hook = h
	tr.mu.Unlock()
}

func (tr *tracker) waitIdle(t testing.TB) {
	t.Helper()
	expired := false
	timer := time.AfterFunc(10*time.Second, func() {
		tr.mu.Lock()
		expired = true
		tr.cond.Broadcast()
		tr.mu.Unlock()
	})
	defer timer.Stop()
	tr.mu.Lock()
	defer tr.mu.Unlock()
	for tr.n > 0 && !expired {
		tr.cond.Wait()
	}
	if tr.n > 0 {
		t.Fatalf("%d requests still being served after 10s", tr.n)
	}
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of loggers.
type syncBuffer = testlab.SyncBuffer

// world is what the controller says of the nodes, for comparing two runs.
type nodeFacts struct {
	TemporarilyOffline, Connected bool
}

func (e *env) world() map[string]nodeFacts {
	out := map[string]nodeFacts{}
	for _, g := range e.groups {
		for _, n := range g.Nodes() {
			if s, ok := e.fake.Node(n); ok {
				out[n] = nodeFacts{s.TemporarilyOffline, s.Connected}
			}
		}
	}
	return out
}

func describeWorld(w map[string]nodeFacts) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(w)) {
		parts = append(parts, fmt.Sprintf("%s{temp:%v conn:%v}", k, w[k].TemporarilyOffline, w[k].Connected))
	}
	return strings.Join(parts, " ")
}
