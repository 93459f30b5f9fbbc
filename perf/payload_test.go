package perf

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/internal/fakejenkins"
)

// minimalTree holds only what watcher.Decide and agent.Classify read
// (idle only feeds /status); TestPayloadSize compares it with the tree
// jenkins.Client actually sends, taken from the fake's request log.
const minimalTree = "computer[displayName,offline,temporarilyOffline,offlineCauseReason,launchSupported,jnlpAgent,absoluteRemotePath,offlineCause[_class,description]]"

// ourTree polls once with jenkins.Client and returns the tree it asked
// for, failing unless the poll was exactly one GET of /computer/api/json.
func ourTree(t *testing.T, srv *httptest.Server, fake *fakejenkins.Controller, l layout) string {
	t.Helper()
	w := newWatcher(ourClient(t, srv.URL, nil), l.groups(), params, nil)
	var tree string
	for i := range 3 {
		fake.ResetRequests()
		if err := w.Poll(t.Context()); err != nil {
			t.Fatal(err)
		}
		recs := fake.Requests()
		if len(recs) != 1 {
			t.Fatalf("poll %d: %d requests, want 1", i, len(recs))
		}
		q, _ := url.ParseQuery(recs[0].RawQuery)
		tree = q.Get("tree")
		if recs[0].Method != http.MethodGet || recs[0].Path != "/computer/api/json" || tree == "" || q.Has("depth") {
			t.Fatalf("poll %d: %s %s?%s, want one tree-filtered GET /computer/api/json", i, recs[0].Method, recs[0].Path, recs[0].RawQuery)
		}
	}
	requireSteady(t, w, l.groups())
	return tree
}

const sampleGroups = 25

type size struct{ wire, plain int }

// fetchSize GETs path?query from srv and returns the body size on the wire
// and uncompressed, as the fake recorded them.
func fetchSize(t *testing.T, srv *httptest.Server, fake *fakejenkins.Controller, path string, query url.Values, gzip bool) size {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, srv.URL+path+"?"+query.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(benchUser, benchToken)
	enc := "identity"
	if gzip {
		enc = "gzip"
	}
	// Set by hand, the transport leaves the body compressed.
	req.Header.Set("Accept-Encoding", enc)
	fake.ResetRequests()
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", path, resp.Status)
	}
	recs := fake.Requests()
	if len(recs) != 1 {
		t.Fatalf("want 1 request recorded, got %d", len(recs))
	}
	return size{recs[0].Bytes, recs[0].BodyBytes}
}

// TestPayloadSize checks the byte targets of issue 5 at 1,000 agents in
// 500 groups: our one request is at most 1.1 times the smallest
// tree-filtered answer that carries what the decision needs, and at least
// 15 times smaller on the wire than the naive per-node reads. It logs the
// uncompressed figures too.
func TestPayloadSize(t *testing.T) {
	l := layout{1000, 500}
	if testing.Short() {
		l = layout{100, 50}
	}
	fake, err := l.newFake(fakejenkins.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(fake)
	defer srv.Close()

	get := func(path string, q url.Values) (gz, plain size) {
		return fetchSize(t, srv, fake, path, q, true), fetchSize(t, srv, fake, path, q, false)
	}
	tree := ourTree(t, srv, fake, l)
	t.Logf("our tree: %s", tree)
	oursGz, _ := get("/computer/api/json", url.Values{"tree": {tree}})
	minGz, minPlain := get("/computer/api/json", url.Values{"tree": {minimalTree}})
	oursPlain := oursGz.plain

	// The naive approach: two default-depth GETs of every managed node.
	// Every pair reads alike (same name length, same states), so a sample
	// of pairs, scaled, stands for all of them and keeps this test quick
	// under -race; BenchmarkPoll measures every request.
	var naive size
	sample := l.groups()[:min(sampleGroups, l.Groups)]
	for _, g := range sample {
		for _, n := range g.Nodes() {
			s := fetchSize(t, srv, fake, "/computer/"+n+"/api/json", nil, true)
			naive.wire += 2 * s.wire
			naive.plain += 2 * s.plain
		}
	}
	naive.wire = naive.wire * l.Groups / len(sample)
	naive.plain = naive.plain * l.Groups / len(sample)
	depth1Gz, _ := get("/computer/api/json", url.Values{"depth": {"1"}})

	t.Logf("%v, bytes per poll (wire = gzip as Go's transport asks; plain = uncompressed):", l)
	t.Logf("  %-44s %9s %9s", "", "wire", "plain")
	t.Logf("  %-44s %9d %9d", "ours: 1 GET, tree with idle", oursGz.wire, oursPlain)
	t.Logf("  %-44s %9d %9d", "smallest tree the decision needs", minGz.wire, minPlain.plain)
	t.Logf("  %-44s %9d %9d", "naive: 2 GETs per managed node, default depth"+" (est.)", naive.wire, naive.plain)
	t.Logf("  %-44s %9d %9d", "for scale: 1 GET of /computer at depth=1", depth1Gz.wire, depth1Gz.plain)
	ratio := func(a, b int) float64 { return float64(a) / float64(b) }
	t.Logf("  ours/smallest: wire %.3f, plain %.3f; naive/ours: wire %.1f, plain %.1f",
		ratio(oursGz.wire, minGz.wire), ratio(oursPlain, minPlain.plain),
		ratio(naive.wire, oursGz.wire), ratio(naive.plain, oursPlain))

	if r := ratio(oursGz.wire, minGz.wire); r > 1.1 {
		t.Errorf("ours is %.3f× the smallest tree on the wire, target ≤ 1.1", r)
	}
	if r := ratio(oursPlain, minPlain.plain); r > 1.1 {
		t.Errorf("ours is %.3f× the smallest tree uncompressed, target ≤ 1.1", r)
	}
	if r := ratio(naive.wire, oursGz.wire); r < 15 {
		t.Errorf("naive/ours on the wire is %.1f, target ≥ 15", r)
	}
}

// TestOneRequestPerPoll checks that a steady-state poll of our client is
// exactly one tree-filtered GET, at 1,000 agents in 500 groups.
func TestOneRequestPerPoll(t *testing.T) {
	l := layout{1000, 500}
	fake, err := l.newFake(fakejenkins.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	ourTree(t, srv, fake, l)
}
