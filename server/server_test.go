package server

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/config"
	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/watcher"
)

type stubWatcher struct{ live, ready atomic.Bool }

func (s *stubWatcher) Live() bool             { return s.live.Load() }
func (s *stubWatcher) Ready() bool            { return s.ready.Load() }
func (s *stubWatcher) Status() watcher.Status { return watcher.Status{DryRun: true} }

func get(t *testing.T, h http.Handler, path string, auth ...string) int {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	if len(auth) == 2 {
		req.SetBasicAuth(auth[0], auth[1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code
}

func TestHealthEndpointsFollowTheWatcher(t *testing.T) {
	w := &stubWatcher{}
	draining := make(chan struct{})
	h := Handler(Options{Gatherer: prometheus.NewRegistry(), Watcher: w}, draining)
	if get(t, h, "/livez") != 503 || get(t, h, "/readyz") != 503 {
		t.Error("live/ready before the loop turns")
	}
	w.live.Store(true)
	w.ready.Store(true)
	if get(t, h, "/livez") != 200 || get(t, h, "/healthz") != 200 || get(t, h, "/readyz") != 200 {
		t.Error("not live/ready once the watcher is")
	}
	close(draining)
	if get(t, h, "/readyz") != 503 || get(t, h, "/livez") != 200 {
		t.Error("while draining: want not ready but live")
	}
	if get(t, h, "/status") != 200 || get(t, h, "/metrics") != 200 {
		t.Error("status/metrics without auth configured")
	}
}

func TestAuthGuardsMetricsAndStatusOnly(t *testing.T) {
	w := &stubWatcher{}
	w.live.Store(true)
	auth := &config.BasicAuth{User: "prom", Password: config.NewSecret("pw")}
	h := Handler(Options{Gatherer: prometheus.NewRegistry(), Watcher: w, Auth: auth}, make(chan struct{}))
	for _, p := range []string{"/metrics", "/status"} {
		if c := get(t, h, p); c != 401 {
			t.Errorf("%s without credentials: %d", p, c)
		}
		if c := get(t, h, p, "prom", "wrong"); c != 401 {
			t.Errorf("%s with a wrong password: %d", p, c)
		}
		if c := get(t, h, p, "prom", "pw"); c != 200 {
			t.Errorf("%s with credentials: %d", p, c)
		}
	}
	if c := get(t, h, "/livez"); c != 200 {
		t.Errorf("/livez must stay open for probes: %d", c)
	}
}
