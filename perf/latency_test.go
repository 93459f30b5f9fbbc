package perf

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/internal/fakejenkins"
	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/internal/testlab"
	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/watcher"
)

// toggleSpy notes, in injected and wall time, when the first POST
// toggleOffline reaches the fake.
type toggleSpy struct {
	next    http.Handler
	clock   *testlab.Clock
	mu      sync.Mutex
	virtual time.Time
	wall    time.Time
	seen    atomic.Bool
}

func (s *toggleSpy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/toggleOffline") && !s.seen.Load() {
		s.mu.Lock()
		s.virtual, s.wall = s.clock.Now(), time.Now()
		s.mu.Unlock()
		s.seen.Store(true)
	}
	s.next.ServeHTTP(w, r)
}

func (s *toggleSpy) reset() {
	s.seen.Store(false)
}

// TestFailoverLatencyInjectedTime: from the poll that first reads the
// primary offline, the standby's online request goes out exactly
// FAILOVER_AFTER-1 polls later, within that poll, after one round trip:
// the fresh read of the standby that must precede every toggle. Polls are
// an injected interval apart, so the latency in injected time is exactly
// (FAILOVER_AFTER-1) × interval.
func TestFailoverLatencyInjectedTime(t *testing.T) {
	const interval = 10 * time.Second
	for _, after := range []int{1, 2, 3, 5} {
		t.Run(fmt.Sprintf("failover_after=%d", after), func(t *testing.T) {
			l := layout{10, 2}
			fake, err := l.newFake(fakejenkins.Options{})
			if err != nil {
				t.Fatal(err)
			}
			clk := testlab.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
			spy := &toggleSpy{next: fake, clock: clk}
			srv := httptest.NewServer(spy)
			defer srv.Close()
			p := params
			p.FailoverAfter = after
			g := l.groups()[0]
			w := newWatcher(ourClient(t, srv.URL, nil), l.groups(), p, clk.Now)
			poll := func() {
				t.Helper()
				clk.Add(interval)
				if err := w.Poll(t.Context()); err != nil {
					t.Fatal(err)
				}
			}
			poll()
			requireSteady(t, w, l.groups())
			if err := fake.KillAgent(g.Primary); err != nil {
				t.Fatal(err)
			}
			fake.ResetRequests()
			poll() // the first poll that sees the primary offline
			seenAt := clk.Now()
			further := 0
			for !spy.seen.Load() && further <= after+2 {
				fake.ResetRequests() // keep only the acting poll's requests
				poll()
				further++
			}
			if !spy.seen.Load() {
				t.Fatal("no online request")
			}
			// The standby is claimed a poll before it is toggled: on the
			// last poll before FAILOVER_AFTER, or, with FAILOVER_AFTER=1,
			// on the first offline poll itself.
			wantFurther := max(after-1, 1)
			if further != wantFurther {
				t.Errorf("online request %d polls after the first offline reading, want max(FAILOVER_AFTER-1, 1) = %d", further, wantFurther)
			}
			if got, want := spy.virtual.Sub(seenAt), time.Duration(wantFurther)*interval; got != want {
				t.Errorf("injected-time latency %v, want %v", got, want)
			}
			// Within the acting poll: the list, one fresh read of the
			// standby, then the toggle (the claim came a poll earlier).
			var seq []string
			for _, r := range fake.Requests() {
				seq = append(seq, r.Method+" "+r.Path)
				if r.Action == "toggleOffline" {
					break
				}
			}
			want := []string{"GET /computer/api/json", "GET /computer/" + g.Standbys[0] + "/api/json", "POST /computer/" + g.Standbys[0] + "/toggleOffline"}
			if strings.Join(seq, "; ") != strings.Join(want, "; ") {
				t.Errorf("acting poll sent %q, want %q", seq, want)
			}
			t.Logf("FAILOVER_AFTER=%d: online request %d further polls after the first offline reading, %v injected time; in that poll: %s",
				after, further, spy.virtual.Sub(seenAt), strings.Join(seq, ", "))
		})
	}
}

// BenchmarkFailoverLatency measures, in wall time over loopback, the part
// of the failover latency that is not the schedule: from the start of the
// poll that acts to the moment the standby's toggleOffline reaches the
// controller (list + decode + decide + fresh read + POST). The whole
// latency is (FAILOVER_AFTER-1) × the poll interval plus this. The fake
// runs in this process here: it renders every answer afresh, as Jenkins
// would, so its time is in the figure.
func BenchmarkFailoverLatency(b *testing.B) {
	for _, l := range []layout{{10, 2}, {1000, 250}} {
		b.Run(l.String(), func(b *testing.B) {
			fake, err := l.newFake(fakejenkins.Options{})
			if err != nil {
				b.Fatal(err)
			}
			clk := testlab.NewClock(time.Now())
			spy := &toggleSpy{next: fake, clock: clk}
			srv := httptest.NewServer(spy)
			defer srv.Close()
			p := params
			p.FailbackAfter = 1
			groups := l.groups()
			w := newWatcher(ourClient(b, srv.URL, nil), groups, p, clk.Now)
			ctx := context.Background()
			poll := func() {
				clk.Add(time.Second)
				if err := w.Poll(ctx); err != nil {
					b.Fatal(err)
				}
			}
			poll()
			var total time.Duration
			b.ResetTimer()
			for i := range b.N {
				b.StopTimer()
				g := groups[i%len(groups)]
				if err := fake.KillAgent(g.Primary); err != nil {
					b.Fatal(err)
				}
				for range p.FailoverAfter - 1 {
					poll()
				}
				spy.reset()
				start := time.Now()
				b.StartTimer()
				poll()
				b.StopTimer()
				if !spy.seen.Load() {
					b.Fatalf("group %s: no online request", g.Name())
				}
				total += spy.wall.Sub(start)
				// Back to the steady state: primary relaunched, standby
				// parked again on the next poll (FAILBACK_AFTER=1).
				if err := fake.ReviveAgent(g.Primary); err != nil {
					b.Fatal(err)
				}
				if err := fake.Relaunch(g.Primary); err != nil {
					b.Fatal(err)
				}
				poll()
				poll()
				if st := w.GroupState(g.Name()); st.Phase != watcher.PhaseNormal {
					b.Fatalf("group %s is %s after failback", g.Name(), st.Phase)
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(total.Nanoseconds())/float64(b.N), "ns-to-toggle")
		})
	}
}
