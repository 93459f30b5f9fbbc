package server

import (
	"net/http"
	"os"
	"regexp"
	"slices"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// Endpoints is what -h and the docs list: it must name every route
// Handler registers, and each of them must be served.
func TestEndpointsListEveryRoute(t *testing.T) {
	src, err := os.ReadFile("server.go")
	if err != nil {
		t.Fatal(err)
	}
	var routes []string
	for _, m := range regexp.MustCompile(`Handle(?:Func)?\("GET (/[^"]*)"`).FindAllStringSubmatch(string(src), -1) {
		p := m[1]
		if p == "/{$}" {
			p = "/"
		}
		routes = append(routes, p)
	}
	var listed []string
	for _, e := range Endpoints {
		listed = append(listed, e.Path)
	}
	slices.Sort(routes)
	slices.Sort(listed)
	if len(routes) < 5 || !slices.Equal(routes, listed) {
		t.Errorf("server.go registers %v; Endpoints lists %v", routes, listed)
	}

	w := &stubWatcher{}
	w.live.Store(true)
	w.ready.Store(true)
	h := Handler(Options{Gatherer: prometheus.NewRegistry(), Watcher: w}, make(chan struct{}))
	for _, e := range Endpoints {
		if code := get(t, h, http.MethodGet, e.Path).Code; code != http.StatusOK {
			t.Errorf("GET %s = %d", e.Path, code)
		}
	}
}
