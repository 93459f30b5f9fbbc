package fakejenkins

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
)

// BenchmarkServe10000 is what the fake costs at 10,000 agents: one
// tree-filtered listing, and one node read by name, both gzipped as Go's
// transport asks. The perf benchmarks replay recorded answers and do not
// pay this; the daemon runs of scripts/bench.sh do.
func BenchmarkServe10000(b *testing.B) {
	c := New(Options{})
	c.AddUser(watchdog, watchdog+"-secret", PermRead, PermDisconnect)
	for i := range 10000 {
		if err := c.AddAgent(AgentSpec{Name: fmt.Sprintf("agent-%04d", i)}); err != nil {
			b.Fatal(err)
		}
	}
	const fields = "_class,displayName,offline,temporarilyOffline,offlineCauseReason,idle,launchSupported,jnlpAgent,absoluteRemotePath,offlineCause[_class,description]"
	for _, tt := range []struct{ name, path string }{
		{"listing", "/computer/api/json?tree=" + url.QueryEscape("computer["+fields+"]")},
		{"node", "/computer/agent-9999/api/json?tree=" + url.QueryEscape(fields)},
	} {
		b.Run(tt.name, func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				r := httptest.NewRequest(http.MethodGet, tt.path, nil)
				r.SetBasicAuth(watchdog, watchdog+"-secret")
				r.Header.Set("Accept-Encoding", "gzip")
				w := httptest.NewRecorder()
				c.ServeHTTP(w, r)
				if w.Code != http.StatusOK {
					b.Fatalf("status %d", w.Code)
				}
				c.ResetRequests()
			}
		})
	}
}
