package jenkins

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/agent"
	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/internal/fakejenkins"
)

func TestReadPlanChoice(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	for _, tt := range []struct {
		name     string
		read     ReadStrategy
		watched  int
		agents   int // in the last listing, the built-in node aside
		wantEach bool
	}{
		{"few watched among many", ReadAuto, 2, 2*eachFactor - 1, true},
		{"one computer short", ReadAuto, 2, 2*eachFactor - 2, false},
		{"every agent watched", ReadAuto, 1000, 1000, false},
		{"ten groups of 10,000", ReadAuto, 20, 10000, true},
		{"5,000 groups of 10,000", ReadAuto, 10000, 10000, false},
		{"nothing watched", ReadAuto, 0, 10000, false},
		{"list forced", ReadList, 2, 10000, false},
		{"each forced", ReadEach, 1000, 1000, true},
		{"each forced, nothing watched", ReadEach, 0, 10, false},
	} {
		nodes := make([]string, tt.watched)
		for i := range nodes {
			nodes[i] = fmt.Sprintf("n%05d", i)
		}
		p := newReadPlan(Options{Nodes: nodes, Read: tt.read, Now: clock})
		if tt.read != ReadEach && p.readEach() {
			t.Errorf("%s: reads nodes one by one before any listing", tt.name)
		}
		p.listed(tt.agents)
		if got := p.readEach(); got != tt.wantEach {
			t.Errorf("%s: one by one = %t, want %t", tt.name, got, tt.wantEach)
		}
	}
}

func TestReadPlanRecheck(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := newReadPlan(Options{Nodes: []string{"b", "a", "b"}, Now: func() time.Time { return now }})
	if !reflect.DeepEqual(p.nodes, []string{"a", "b"}) {
		t.Fatalf("nodes = %q, want sorted without duplicates", p.nodes)
	}
	p.listed(1000)
	polls := 0
	for p.readEach() && polls <= 1000 {
		polls++
		now = now.Add(10 * time.Second)
	}
	if want := int(recheckEvery / (10 * time.Second)); polls != want {
		t.Errorf("%d polls one by one before the list was due again, want %d", polls, want)
	}
	// A failed re-check keeps the last choice for another interval.
	p.postpone()
	if !p.readEach() {
		t.Error("after a failed re-check: the list again, want one by one")
	}
	now = now.Add(recheckEvery)
	if p.readEach() {
		t.Error("an interval after a failed re-check: one by one, want the list")
	}
	// The controller shrank: the list is cheaper now.
	p.listed(10)
	if p.readEach() {
		t.Error("after a small listing: one by one, want the list")
	}
}

// lab is the fake controller with a client that watches some of its nodes.
type lab struct {
	fake *fakejenkins.Controller
	srv  *httptest.Server
	now  time.Time
	// wrap, when set, answers instead of the fake.
	mu   sync.Mutex
	wrap func(w http.ResponseWriter, r *http.Request, fake http.Handler)
}

// The lab's agents: the watched ones in every state a node can be in,
// names that need escaping, and enough unwatched ones that the automatic
// choice reads the watched nodes one by one.
var (
	watchedNodes = []string{"online", "killed", "held", "disk", "parked", "inbound", "agent 01", "ağent", "gone", fakejenkins.BuiltInNode}
	labAgents    = len(watchedNodes) * eachFactor
)

func newLab(t *testing.T) *lab {
	t.Helper()
	l := &lab{fake: fakejenkins.New(fakejenkins.Options{Prefix: "/jenkins"}), now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	t.Cleanup(l.fake.Close)
	l.fake.AddUser("watchdog", token, fakejenkins.PermRead, fakejenkins.PermDisconnect)
	for _, n := range watchedNodes {
		if n == "gone" || n == fakejenkins.BuiltInNode {
			continue
		}
		launch := fakejenkins.SSH
		if n == "inbound" || n == "ağent" {
			launch = fakejenkins.Inbound
		}
		if err := l.fake.AddAgent(fakejenkins.AgentSpec{Name: n, Launch: launch}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range labAgents {
		if err := l.fake.AddAgent(fakejenkins.AgentSpec{Name: fmt.Sprintf("other-%03d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	for _, err := range []error{
		l.fake.KillAgent("killed"),
		l.fake.OperatorOffline("held", "admin", "disk replacement"),
		l.fake.MonitorOffline("disk"),
		l.fake.OperatorOffline("parked", "watchdog", agent.ParkMessage(agent.ParkStandby)),
		l.fake.KillAgent("ağent"),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	l.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l.mu.Lock()
		wrap := l.wrap
		l.mu.Unlock()
		if wrap != nil {
			wrap(w, r, l.fake)
			return
		}
		l.fake.ServeHTTP(w, r)
	}))
	t.Cleanup(l.srv.Close)
	return l
}

func (l *lab) setWrap(f func(w http.ResponseWriter, r *http.Request, fake http.Handler)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.wrap = f
}

func (l *lab) client(t *testing.T, read ReadStrategy, prefix string) *Client {
	t.Helper()
	c, err := New(Options{URL: l.srv.URL + prefix, User: "watchdog", Token: token, Timeout: 2 * time.Second,
		Nodes: watchedNodes, Read: read, Now: func() time.Time { return l.now }})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// poll reads once and returns the snapshot with the reads it took: "list"
// for the listing, "node" for a per-node read, "probe" for the check
// that the computers are there when no node was found.
func (l *lab) poll(t *testing.T, c *Client) (agent.Snapshot, []string, error) {
	t.Helper()
	l.fake.ResetRequests()
	snap, err := c.Computers(context.Background())
	var reads []string
	for _, r := range l.fake.Requests() {
		q, _ := url.ParseQuery(r.RawQuery)
		switch {
		case r.Path == "/jenkins/computer/api/json" && strings.HasSuffix(q.Get("tree"), "{0}"):
			reads = append(reads, "probe")
		case r.Path == "/jenkins/computer/api/json":
			reads = append(reads, "list")
		case strings.HasPrefix(r.Path, "/jenkins/computer/"):
			reads = append(reads, "node")
		default:
			reads = append(reads, r.Path)
		}
	}
	return snap, reads, err
}

func count(reads []string, what string) int {
	n := 0
	for _, r := range reads {
		if r == what {
			n++
		}
	}
	return n
}

// watchedOf is the part of a snapshot the watcher reads: the watched
// nodes.
func watchedOf(s agent.Snapshot) agent.Snapshot {
	out := s
	out.Nodes = map[string]agent.NodeInfo{}
	for _, n := range watchedNodes {
		if info, ok := s.Nodes[n]; ok {
			out.Nodes[n] = info
		}
	}
	return out
}

func TestPerNodeReadingEqualsListing(t *testing.T) {
	l := newLab(t)
	list, each, auto := l.client(t, ReadList, "/jenkins"), l.client(t, ReadEach, "/jenkins/"), l.client(t, ReadAuto, "/jenkins")
	for poll := range 3 {
		want, reads, err := l.poll(t, list)
		if err != nil || !reflect.DeepEqual(reads, []string{"list"}) {
			t.Fatalf("listing: %v, reads %q", err, reads)
		}
		want = watchedOf(want)
		if poll == 0 && len(want.Nodes) != len(watchedNodes)-2 {
			t.Fatalf("the listing shows %d watched nodes, want all but the missing and the built-in node", len(want.Nodes))
		}
		got, reads, err := l.poll(t, each)
		if err != nil || count(reads, "node") != len(watchedNodes) || len(reads) != len(watchedNodes) {
			t.Fatalf("one by one: %v, reads %q", err, reads)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("poll %d, one by one:\n got  %+v\n want %+v", poll, got, want)
		}
		got, reads, err = l.poll(t, auto)
		if wantRead := map[bool]string{true: "list", false: "node"}[poll == 0]; err != nil || count(reads, wantRead) != len(reads) {
			t.Fatalf("poll %d, auto: %v, reads %q, want %s reads only", poll, err, reads, wantRead)
		}
		if !reflect.DeepEqual(watchedOf(got), want) {
			t.Errorf("poll %d, auto:\n got  %+v\n want %+v", poll, watchedOf(got), want)
		}
		// Something changes between polls; both must see it alike.
		switch poll {
		case 0:
			_ = l.fake.ReviveAgent("killed")
			_ = l.fake.Relaunch("killed")
			_ = l.fake.OperatorOnline("parked")
		case 1:
			_ = l.fake.RemoveAgent("held")
			l.fake.Restart()
		}
	}
}

func TestPerNodeRecheckWithInjectedTime(t *testing.T) {
	l := newLab(t)
	c := l.client(t, ReadAuto, "/jenkins")
	var log []string
	for range 3 {
		_, reads, err := l.poll(t, c)
		if err != nil {
			t.Fatal(err)
		}
		log = append(log, reads[0])
		l.now = l.now.Add(recheckEvery / 2)
	}
	if want := []string{"list", "node", "list"}; !reflect.DeepEqual(log, want) {
		t.Errorf("polls read %q, want %q", log, want)
	}
	// The controller loses most of its agents: the next listing makes the
	// list cheaper, and the polls after it list.
	for i := range labAgents {
		_ = l.fake.RemoveAgent(fmt.Sprintf("other-%03d", i))
	}
	l.now = l.now.Add(recheckEvery)
	for i := range 3 {
		if _, reads, err := l.poll(t, c); err != nil || !reflect.DeepEqual(reads, []string{"list"}) {
			t.Fatalf("poll %d of a small controller: %v, reads %q", i, err, reads)
		}
	}
}

func TestFailedRecheckFallsBackToNodes(t *testing.T) {
	l := newLab(t)
	c := l.client(t, ReadAuto, "/jenkins")
	if _, _, err := l.poll(t, c); err != nil {
		t.Fatal(err)
	}
	// The list fails (too large, too slow, a proxy's limit) and the nodes
	// do not.
	l.setWrap(func(w http.ResponseWriter, r *http.Request, fake http.Handler) {
		if r.URL.Path == "/jenkins/computer/api/json" {
			http.Error(w, "upstream timed out", http.StatusGatewayTimeout)
			return
		}
		fake.ServeHTTP(w, r)
	})
	l.now = l.now.Add(recheckEvery)
	snap, _, err := l.poll(t, c)
	if err != nil || len(snap.Nodes) != len(watchedNodes)-2 {
		t.Fatalf("poll with a failing re-check: %v, %d nodes", err, len(snap.Nodes))
	}
	if _, reads, err := l.poll(t, c); err != nil || count(reads, "list") != 0 {
		t.Fatalf("the poll after a failed re-check: %v, reads %q, want no listing", err, reads)
	}
	// Before any listing succeeded there is no reading to fall back on.
	fresh := l.client(t, ReadAuto, "/jenkins")
	if _, _, err := l.poll(t, fresh); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("first poll with a failing list: %v, want unavailable", err)
	}
}

func TestPerNodeErrorsAreTheListingsKinds(t *testing.T) {
	for _, tt := range []struct {
		name  string
		fault fakejenkins.Fault
		want  error
	}{
		{"503 starting", fakejenkins.Fault{Kind: fakejenkins.FaultStatus, Status: http.StatusServiceUnavailable}, ErrUnavailable},
		{"403", fakejenkins.Fault{Kind: fakejenkins.FaultForbidden}, ErrForbidden},
		{"HTML", fakejenkins.Fault{Kind: fakejenkins.FaultHTML}, ErrBadResponse},
		{"malformed", fakejenkins.Fault{Kind: fakejenkins.FaultMalformedJSON}, ErrBadResponse},
		{"cut", fakejenkins.Fault{Kind: fakejenkins.FaultResetMidBody}, ErrBadResponse},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l := newLab(t)
			f := tt.fault
			f.Action = "read"
			l.fake.InjectFault(f)
			_, _, listErr := l.poll(t, l.client(t, ReadList, "/jenkins"))
			// The node's own fault: one node fails, the others answer.
			l.fake.ClearFaults()
			f.Node = "disk"
			l.fake.InjectFault(f)
			_, reads, eachErr := l.poll(t, l.client(t, ReadEach, "/jenkins"))
			for what, err := range map[string]error{"listing": listErr, "one by one": eachErr} {
				var je *Error
				if !errors.Is(err, tt.want) || !errors.As(err, &je) {
					t.Errorf("%s: %v, want %v", what, err, tt.want)
				}
			}
			var le, ee *Error
			if errors.As(listErr, &le) && errors.As(eachErr, &ee) && (le.Kind != ee.Kind || le.Status != ee.Status || le.Permission != ee.Permission) {
				t.Errorf("one by one: %v; the listing: %v", eachErr, listErr)
			}
			if ee != nil && ee.Node != "disk" {
				t.Errorf("the error names %q, want the node that failed", ee.Node)
			}
			if count(reads, "list") != 0 {
				t.Errorf("reads %q: a failed node read must not turn into a listing", reads)
			}
		})
	}
	t.Run("401", func(t *testing.T) {
		l := newLab(t)
		c, err := New(Options{URL: l.srv.URL + "/jenkins", User: "watchdog", Token: "wrong", Nodes: watchedNodes, Read: ReadEach})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := l.poll(t, c); !errors.Is(err, ErrUnauthorized) {
			t.Errorf("%v, want auth", err)
		}
	})
}

func TestNodeReads404(t *testing.T) {
	l := newLab(t)
	c := l.client(t, ReadEach, "/jenkins")
	// A node removed since the last poll is missing, as in the listing;
	// other nodes still found, nothing more is read.
	if err := l.fake.RemoveAgent("online"); err != nil {
		t.Fatal(err)
	}
	snap, reads, err := l.poll(t, c)
	if _, ok := snap.Nodes["online"]; err != nil || ok || len(reads) != len(watchedNodes) {
		t.Fatalf("%v; online present %t; reads %q", err, ok, reads)
	}
	// Every watched node gone: the list's first computer tells that the
	// URL is right and the nodes are missing.
	for _, n := range watchedNodes {
		_ = l.fake.RemoveAgent(n)
	}
	snap, reads, err = l.poll(t, c)
	if err != nil || len(snap.Nodes) != 0 || count(reads, "probe") != 1 || count(reads, "list") != 0 || snap.Session != l.fake.Session() {
		t.Fatalf("every node gone: %v, %d nodes, reads %q, session %q", err, len(snap.Nodes), reads, snap.Session)
	}
	// A wrong path prefix answers 404 for every node too: not_found, as
	// the listing says.
	_, _, err = l.poll(t, l.client(t, ReadEach, "/wrong"))
	var je *Error
	if !errors.Is(err, ErrNotFound) || !errors.As(err, &je) || je.Op != "read computers" {
		t.Fatalf("wrong prefix: %v, want not_found from reading the computers", err)
	}
}

func TestNodeReadChecksTheName(t *testing.T) {
	l := newLab(t)
	l.setWrap(func(w http.ResponseWriter, r *http.Request, fake http.Handler) {
		if r.URL.Path == "/jenkins/computer/online/api/json" {
			r.URL.Path, r.URL.RawPath = "/jenkins/computer/killed/api/json", ""
		}
		fake.ServeHTTP(w, r)
	})
	_, _, err := l.poll(t, l.client(t, ReadEach, "/jenkins"))
	if !errors.Is(err, ErrBadResponse) || !strings.Contains(err.Error(), `asked for "online", got "killed"`) {
		t.Fatalf("%v, want a bad response naming both", err)
	}
}

// TestRestartMidPollReadsTheList plays a controller that restarted between
// two reads of one poll: one node's answer carries another session. The
// poll must not mix them; it reads the list, one answer of one session.
func TestRestartMidPollReadsTheList(t *testing.T) {
	for _, tt := range []struct {
		name  string
		stale string // the path whose answer comes from the old session
	}{
		{"one node's answer", "/jenkins/computer/parked/api/json"},
		{"the check that nothing is missing", "/jenkins/computer/api/json"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l := newLab(t)
			c := l.client(t, ReadEach, "/jenkins")
			before := l.fake.Session()
			if tt.name == "the check that nothing is missing" {
				for _, n := range watchedNodes {
					_ = l.fake.RemoveAgent(n)
				}
			}
			l.fake.Restart()
			var served atomic.Bool
			l.setWrap(func(w http.ResponseWriter, r *http.Request, fake http.Handler) {
				// The first answer only: the listing after it is fresh.
				if r.URL.Path == tt.stale && !served.Swap(true) {
					w = sessionWriter{w, before}
				}
				fake.ServeHTTP(w, r)
			})
			snap, reads, err := l.poll(t, c)
			if err != nil {
				t.Fatal(err)
			}
			if snap.Session != l.fake.Session() || count(reads, "list") == 0 {
				t.Errorf("session %q (before %q, after %q), reads %q: want the list's reading, after the restart",
					snap.Session, before, l.fake.Session(), reads)
			}
		})
	}
}

// sessionWriter answers with another X-Jenkins-Session.
type sessionWriter struct {
	http.ResponseWriter
	session string
}

func (s sessionWriter) WriteHeader(code int) {
	s.Header().Set("X-Jenkins-Session", s.session)
	s.ResponseWriter.WriteHeader(code)
}

func (s sessionWriter) Write(b []byte) (int, error) { return s.ResponseWriter.Write(b) }

// TestOneNodeAnswersAreNotCompressed: the list is asked for gzipped, one
// node's answer (a few hundred bytes) is not, whether read for a poll or
// before a change; and an answer gzipped regardless is a bad response,
// never passed off as a reading.
func TestOneNodeAnswersAreNotCompressed(t *testing.T) {
	l := newLab(t)
	var mu sync.Mutex
	asked := map[string]map[string]bool{} // read → Accept-Encoding values seen
	gzipAnyway := false
	l.setWrap(func(w http.ResponseWriter, r *http.Request, fake http.Handler) {
		q, _ := url.ParseQuery(r.URL.RawQuery)
		read := "node"
		if r.URL.Path == "/jenkins/computer/api/json" {
			read = "list"
			if strings.HasSuffix(q.Get("tree"), "{0}") {
				read = "probe"
			}
		}
		mu.Lock()
		if asked[read] == nil {
			asked[read] = map[string]bool{}
		}
		asked[read][r.Header.Get("Accept-Encoding")] = true
		force := gzipAnyway
		mu.Unlock()
		if force {
			r.Header.Set("Accept-Encoding", "gzip")
		}
		fake.ServeHTTP(w, r)
	})
	ctx := context.Background()
	if _, err := l.client(t, ReadList, "/jenkins").Computers(ctx); err != nil {
		t.Fatal(err)
	}
	each := l.client(t, ReadEach, "/jenkins")
	if _, err := each.Computers(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := each.Computer(ctx, "online"); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	want := map[string]map[string]bool{"list": {"gzip": true}, "node": {"identity": true}}
	if !reflect.DeepEqual(asked, want) {
		t.Errorf("Accept-Encoding asked: %v, want %v", asked, want)
	}
	gzipAnyway = true
	mu.Unlock()
	_, err := each.Computer(ctx, "killed")
	if !errors.Is(err, ErrBadResponse) {
		t.Errorf("a gzipped answer to an uncompressed read: %v, want a bad response", err)
	}
}
