package perf

import (
	"flag"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/internal/fakejenkins"
	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/internal/testlab"
	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/watcher"
)

var uptimePolls = flag.Int("perf.polls", 240, "polls run by TestNoGrowthWithUptime")

type footprint struct {
	heap       uint64 // live heap after a forced GC
	goroutines int
}

func measure() footprint {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return footprint{heap: ms.HeapAlloc, goroutines: runtime.NumGoroutine()}
}

// TestNoGrowthWithUptime runs many polls with failovers and failbacks
// going on (a primary killed and brought back every few polls, in turn
// across the groups) and compares the live heap and the goroutine count
// after a warm-up with those at the end. The fake runs in this process;
// its request log is emptied every poll so that only real growth shows.
func TestNoGrowthWithUptime(t *testing.T) {
	l := layout{20, 5}
	fake, err := l.newFake(fakejenkins.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	clk := testlab.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	p := params
	p.FailbackAfter = 2
	groups := l.groups()
	w := newWatcher(ourClient(t, srv.URL, nil), groups, p, clk.Now)
	failovers := 0
	poll := func(i int) {
		t.Helper()
		// Every 8 polls the next group's primary dies; 4 polls later it
		// comes back, so every group fails over and back in turn.
		g := groups[(i/8)%len(groups)]
		switch i % 8 {
		case 0:
			if err := fake.KillAgent(g.Primary); err != nil {
				t.Fatal(err)
			}
		case 4:
			if err := fake.ReviveAgent(g.Primary); err != nil {
				t.Fatal(err)
			}
			if err := fake.Relaunch(g.Primary); err != nil {
				t.Fatal(err)
			}
		}
		clk.Add(10 * time.Second)
		fake.ResetRequests()
		if err := w.Poll(t.Context()); err != nil {
			t.Fatal(err)
		}
		for _, r := range fake.Requests() {
			if r.Action == "toggleOffline" {
				failovers++
			}
		}
	}
	warm := 2 * 8 * len(groups) // every group through a cycle twice
	for i := range warm {
		poll(i)
	}
	start := measure()
	failovers = 0
	n := max(*uptimePolls, 8)
	for i := warm; i < warm+n; i++ {
		poll(i)
	}
	end := measure()
	t.Logf("%v, %d polls with %d failovers after %d warm-up polls: live heap %d → %d bytes (%+d), goroutines %d → %d",
		l, n, failovers, warm, start.heap, end.heap, int64(end.heap)-int64(start.heap), start.goroutines, end.goroutines)
	if failovers == 0 {
		t.Error("no failover happened: the churn is not exercising the watcher")
	}
	// A connection goroutine may still be on its way out: allow two.
	if end.goroutines > start.goroutines+2 {
		t.Errorf("goroutines grew from %d to %d", start.goroutines, end.goroutines)
	}
	// Flat within noise: 256 KiB is far below what keeping anything per
	// poll would add over hundreds of polls.
	if growth := int64(end.heap) - int64(start.heap); growth > 256<<10 {
		t.Errorf("live heap grew by %d bytes over %d polls", growth, n)
	}
}

// BenchmarkMetricsFootprint reports the live heap that the watcher's
// Prometheus metrics take at a layout (the per-node and per-group series
// are rendered at scrape time, so this is mostly the state they are drawn
// from), and what one scrape's Gather holds on top of it: at 1,000 agents
// the scrape, not the stored state, is what drives resident memory.
func BenchmarkMetricsFootprint(b *testing.B) {
	for _, l := range layouts[2:] {
		b.Run(l.String(), func(b *testing.B) {
			var live, gather, series float64
			for range b.N {
				f0 := measure()
				reg := prometheus.NewRegistry()
				m := watcher.NewMetrics(reg, l.groups(), testlab.ErrorKinds())
				f1 := measure()
				mfs, err := reg.Gather()
				if err != nil {
					b.Fatal(err)
				}
				f2 := measure()
				n := 0
				for _, mf := range mfs {
					n += len(mf.Metric)
				}
				runtime.KeepAlive(m)
				runtime.KeepAlive(mfs)
				live += float64(f1.heap) - float64(f0.heap)
				gather += float64(f2.heap) - float64(f1.heap)
				series += float64(n)
			}
			b.ReportMetric(live/float64(b.N), "live-B")
			b.ReportMetric(gather/float64(b.N), "gather-B")
			b.ReportMetric(series/float64(b.N), "series")
			b.ReportMetric(live/series, "B/series")
		})
	}
}
