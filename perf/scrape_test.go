package perf

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/internal/testlab"
	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/jenkins"
	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/server"
	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/watcher"
)

// scrapeLayouts are docs/bounds.md's "memory per thousand agents" rows.
var scrapeLayouts = []layout{{1000, 500}, {10000, 5000}}

// BenchmarkScrape is one GET /metrics as Prometheus sends it (text
// format, gzip or not) through the daemon's own wiring: the registry's
// families through expfmt, the per-node and per-group families through
// Metrics.WriteText. scrape-B is the answer on the wire, B/op what one
// scrape allocates, cpu-ns/op the CPU it costs.
//
//	go test -run '^$' -bench '^BenchmarkScrape$' -benchtime 20x ./perf/
func BenchmarkScrape(b *testing.B) {
	for _, l := range scrapeLayouts {
		for _, gz := range []bool{false, true} {
			name := l.String() + "/gzip=false"
			if gz {
				name = l.String() + "/gzip=true"
			}
			b.Run(name, func(b *testing.B) {
				h := scrapeHandler(b, l)
				req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
				req.Header.Set("Accept", "text/plain;version=0.0.4")
				if gz {
					req.Header.Set("Accept-Encoding", "gzip")
				}
				w := &countingWriter{header: http.Header{}}
				h.ServeHTTP(w, req) // warm: pools, the text order
				b.ReportAllocs()
				cpu0 := cpuTime()
				b.ResetTimer()
				for range b.N {
					w.n = 0
					h.ServeHTTP(w, req)
				}
				b.StopTimer()
				b.ReportMetric(float64(w.n), "scrape-B")
				b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
			})
		}
	}
}

// scrapeHandler is the daemon's /metrics at layout l after one poll of
// the fake controller: every group normal, every series present.
func scrapeHandler(b testing.TB, l layout) http.Handler {
	b.Helper()
	fake := fakeFor(b, l)
	groups := l.groups()
	reg := prometheus.NewRegistry()
	metrics := watcher.NewMetrics(reg, groups, testlab.ErrorKinds())
	reg.Unregister(metrics.StateCollector())
	stateReg := prometheus.NewRegistry()
	stateReg.MustRegister(metrics.StateCollector())
	tr := http.DefaultTransport.(*http.Transport).Clone()
	b.Cleanup(tr.CloseIdleConnections)
	w := watcher.New(watcher.Options{Jenkins: ourClientReading(b, fake.URL, tr, groups, jenkins.ReadAuto),
		Groups: groups, Params: params, Metrics: metrics})
	for range 2 {
		if err := w.Poll(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	requireSteady(b, w, groups)
	return server.Handler(server.Options{Gatherer: prometheus.Gatherers{reg, stateReg},
		Text: &server.TextMetrics{Rest: reg, Write: metrics.WriteText}, Watcher: w}, make(chan struct{}))
}

type countingWriter struct {
	header http.Header
	n      int
}

func (w *countingWriter) Header() http.Header { return w.header }
func (w *countingWriter) WriteHeader(int)     {}
func (w *countingWriter) Write(p []byte) (int, error) {
	w.n += len(p)
	return len(p), nil
}
