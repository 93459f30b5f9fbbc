package server

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/watcher"
)

type stubWatcher struct {
	live, ready atomic.Bool
	mu          sync.Mutex
	status      watcher.Status
	gen         atomic.Uint64
	reads       atomic.Int64 // calls of Status: one per rendering
}

// setStatus changes the status as a poll would.
func (s *stubWatcher) setStatus(st watcher.Status) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status = st
	s.gen.Add(1)
}

func (s *stubWatcher) StatusGeneration() uint64 { return s.gen.Load() }

func (s *stubWatcher) Live() bool  { return s.live.Load() }
func (s *stubWatcher) Ready() bool { return s.ready.Load() }
func (s *stubWatcher) Status() watcher.Status {
	s.reads.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.status
}

func get(t *testing.T, h http.Handler, method, path string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	return rec
}

func TestHealthEndpointsFollowTheWatcher(t *testing.T) {
	w := &stubWatcher{}
	draining := make(chan struct{})
	h := Handler(Options{Gatherer: prometheus.NewRegistry(), Watcher: w}, draining)
	code := func(path string) int { return get(t, h, http.MethodGet, path).Code }
	if code("/livez") != 503 || code("/readyz") != 503 {
		t.Error("live/ready before the loop turns")
	}
	w.live.Store(true)
	w.ready.Store(true)
	if code("/livez") != 200 || code("/healthz") != 200 || code("/readyz") != 200 {
		t.Error("not live/ready once the watcher is")
	}
	close(draining)
	if code("/readyz") != 503 || code("/livez") != 200 {
		t.Error("while draining: want not ready but live")
	}
	if code("/status") != 200 || code("/metrics") != 200 || code("/") != 200 {
		t.Error("status/metrics/page without a web configuration")
	}
}

// The page lives at / exactly: anything else under / is not found rather
// than a second copy of the page.
func TestOnlyTheRootServesThePage(t *testing.T) {
	h := Handler(Options{Gatherer: prometheus.NewRegistry(), Watcher: &stubWatcher{}}, make(chan struct{}))
	for _, tt := range []struct {
		method, path string
		want         int
	}{
		{http.MethodGet, "/", 200},
		{http.MethodHead, "/", 200},
		{http.MethodGet, "/index.html", 404},
		{http.MethodGet, "/nope", 404},
		{http.MethodGet, "/status/", 404},
		{http.MethodPost, "/", 405},
		{http.MethodPost, "/metrics", 405},
	} {
		if got := get(t, h, tt.method, tt.path).Code; got != tt.want {
			t.Errorf("%s %s = %d, want %d", tt.method, tt.path, got, tt.want)
		}
	}
}

// /status changes every poll and carries text from Jenkins: no cache may
// keep it, and no browser may sniff it into HTML.
func TestStatusIsNeitherCachedNorSniffed(t *testing.T) {
	h := Handler(Options{Gatherer: prometheus.NewRegistry(), Watcher: &stubWatcher{}}, make(chan struct{}))
	for _, path := range []string{"/status", "/"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != 200 || rec.Header().Get("Cache-Control") != "no-store" || rec.Header().Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: %d, Cache-Control %q, X-Content-Type-Options %q; want 200, no-store, nosniff", path, rec.Code,
				rec.Header().Get("Cache-Control"), rec.Header().Get("X-Content-Type-Options"))
		}
	}
}
