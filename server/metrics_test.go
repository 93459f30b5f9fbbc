package server

import (
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/config"
	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/watcher"
)

// The text format is served from two halves, the registry's families and
// those the watcher writes itself; together they must be what the whole
// registry serves: every family once, every series, nothing else. Other
// formats go through the whole registry.
func TestMetricsTextHalvesMakeTheWhole(t *testing.T) {
	groups, err := config.ParsePairs("slave01:slave02,a:b:c")
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector())
	m := watcher.NewMetrics(reg, groups, []string{"timeout"})
	reg.Unregister(m.StateCollector())
	stateReg := prometheus.NewRegistry()
	stateReg.MustRegister(m.StateCollector())
	full := prometheus.Gatherers{reg, stateReg}
	o := Options{Gatherer: full, Text: &TextMetrics{Rest: reg, Write: m.WriteText}, Watcher: &stubWatcher{}}
	h := Handler(o, make(chan struct{}))

	want := familiesOf(t, full)
	for _, enc := range []string{"", "gzip"} {
		req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		req.Header.Set("Accept", "text/plain;version=0.0.4")
		if enc != "" {
			req.Header.Set("Accept-Encoding", enc)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/plain") {
			t.Fatalf("%q: %d %q", enc, rec.Code, rec.Header().Get("Content-Type"))
		}
		var body io.Reader = rec.Body
		if enc == "gzip" {
			zr, err := gzip.NewReader(rec.Body)
			if err != nil {
				t.Fatalf("gzip asked, %v", err)
			}
			body = zr
		}
		parser := expfmt.NewTextParser(model.UTF8Validation)
		got, err := parser.TextToMetricFamilies(body) // refuses a family twice
		if err != nil {
			t.Fatalf("%q: the text does not parse: %v", enc, err)
		}
		if g, w := seriesCount(got), want; g != w {
			t.Errorf("%q: served families %v, want %v", enc, g, w)
		}
	}
	// Protobuf goes through the whole registry.
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	req.Header.Set("Accept", "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || !strings.Contains(rec.Header().Get("Content-Type"), "protobuf") {
		t.Errorf("protobuf: %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
}

func familiesOf(t *testing.T, g prometheus.Gatherer) string {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*dto.MetricFamily{}
	for _, mf := range mfs {
		byName[mf.GetName()] = mf
	}
	return seriesCount(byName)
}

// seriesCount lists "family=series" for the project's families (the Go
// runtime's change from one gather to the next).
func seriesCount(mfs map[string]*dto.MetricFamily) string {
	var out []string
	for name, mf := range mfs {
		if strings.HasPrefix(name, "jenkins_failover_") {
			out = append(out, name+"="+strconv.Itoa(len(mf.GetMetric())))
		} else {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}
