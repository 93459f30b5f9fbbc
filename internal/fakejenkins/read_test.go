package fakejenkins

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// The tree the watchdog asks for.
const watchdogTree = "computer[displayName,offline,temporarilyOffline,offlineCauseReason,idle,launchSupported,jnlpAgent,offlineCause[_class]]"

func TestComputerListTreeFiltering(t *testing.T) {
	e := newEnv(t, Options{})
	if err := e.c.KillAgent("slave01"); err != nil {
		t.Fatal(err)
	}
	doc := e.getJSON(watchdog, "/computer/api/json?tree="+url.QueryEscape(watchdogTree))
	if got, want := keys(doc), "_class,computer"; got != want {
		t.Fatalf("top-level keys %s, want %s", got, want)
	}
	if doc["_class"] != "hudson.model.ComputerSet" {
		t.Errorf("_class = %v", doc["_class"])
	}
	computers := doc["computer"].([]any)
	if len(computers) != 5 {
		t.Fatalf("%d computers, want 5", len(computers))
	}
	const want = "_class,displayName,idle,jnlpAgent,launchSupported,offline,offlineCause,offlineCauseReason,temporarilyOffline"
	byName := map[string]map[string]any{}
	for _, c := range computers {
		comp := c.(map[string]any)
		if got := keys(comp); got != want {
			t.Errorf("%v: keys %s, want %s", comp["displayName"], got, want)
		}
		byName[comp["displayName"].(string)] = comp
	}
	killed := byName["slave01"]
	if killed["offline"] != true || causeClass(killed) != causeChannelTermination {
		t.Errorf("slave01 = %v", killed)
	}
	// offlineCause[_class] keeps only _class even where more exists.
	if got := keys(killed["offlineCause"].(map[string]any)); got != "_class" {
		t.Errorf("offlineCause keys %s, want _class", got)
	}
	if byName["slave02"]["offlineCause"] != nil {
		t.Errorf("slave02 offlineCause = %v, want null", byName["slave02"]["offlineCause"])
	}
}

func TestTreeRangeAndUnknownFields(t *testing.T) {
	e := newEnv(t, Options{})
	doc := e.getJSON(admin, "/computer/api/json?tree="+url.QueryEscape("computer[displayName,noSuchField]{1,3},alsoMissing"))
	computers := doc["computer"].([]any)
	var names []string
	for _, c := range computers {
		comp := c.(map[string]any)
		if got := keys(comp); got != "_class,displayName" {
			t.Errorf("keys %s, want _class,displayName", got)
		}
		names = append(names, comp["displayName"].(string))
	}
	// Sorted by name: built-in (""), "agent 01", "ağent", slave01, slave02.
	if got := strings.Join(names, "|"); got != "agent 01|ağent" {
		t.Errorf("computer{1,3} = %s", got)
	}
	// Executors are declared as Executor: no _class (Stapler's IF_NEEDED).
	doc = e.getJSON(admin, "/computer/slave01/api/json?tree=executors[number,idle]")
	exec := doc["executors"].([]any)[1].(map[string]any)
	if got := keys(exec); got != "idle,number" {
		t.Errorf("executor keys %s, want idle,number", got)
	}
}

func TestMalformedTreeIs500(t *testing.T) {
	e := newEnv(t, Options{})
	for _, query := range []string{"tree=computer[displayName", "tree=computer]", "tree=", "tree=a[]", "tree=a{x}", "depth=deep"} {
		r := e.do(http.MethodGet, admin, "/computer/api/json?"+query)
		wantStatus(t, r, http.StatusInternalServerError)
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
			t.Errorf("%s: Content-Type %q, want HTML", query, ct)
		}
	}
}

func TestPayloadSizes(t *testing.T) {
	e := newEnv(t, Options{})
	if _, err := e.c.StartBuild("slave01"); err != nil {
		t.Fatal(err)
	}
	size := func(query string) int {
		r := e.do(http.MethodGet, admin, "/computer/api/json"+query)
		wantStatus(t, r, http.StatusOK)
		return len(r.body)
	}
	tree, depth0, depth1, depth3 := size("?tree="+url.QueryEscape(watchdogTree)), size(""), size("?depth=1"), size("?depth=3")
	t.Logf("tree=%d depth0=%d depth1=%d depth3=%d bytes", tree, depth0, depth1, depth3)
	// As in Jenkins, the default document already carries the monitor data;
	// depth=1 adds executors, labels and load statistics; depth=3 the load
	// statistics' history.
	if !(tree*4 < depth0 && depth0 < depth1 && depth1*5 < depth3) {
		t.Errorf("want tree (%d) << depth=0 (%d) < depth=1 (%d) << depth=3 (%d)", tree, depth0, depth1, depth3)
	}
	// depth=1 shows what depth=0 only hints at.
	doc := e.getJSON(admin, "/computer/slave01/api/json?depth=1")
	exec := doc["executors"].([]any)[0].(map[string]any)
	run, ok := exec["currentExecutable"].(map[string]any)
	if !ok || run["_class"] != "hudson.model.FreeStyleBuild" || exec["idle"] != false {
		t.Errorf("busy executor at depth=1: %v", exec)
	}
	doc = e.getJSON(admin, "/computer/slave01/api/json")
	if got := keys(doc["executors"].([]any)[0].(map[string]any)); got != "" {
		t.Errorf("executor at depth=0 has keys %s, want none", got)
	}
	monitors := doc["monitorData"].(map[string]any)
	if monitors["hudson.node_monitors.ArchitectureMonitor"] != "Linux (amd64)" || len(monitors) != 6 {
		t.Errorf("monitorData = %v", monitors)
	}
}

func TestDefaultDepthShape(t *testing.T) {
	e := newEnv(t, Options{})
	doc := e.getJSON(admin, "/computer/api/json")
	if got, want := keys(doc), "_class,busyExecutors,computer,displayName,totalExecutors"; got != want {
		t.Errorf("keys %s, want %s", got, want)
	}
	if doc["displayName"] != "Nodes" {
		t.Errorf("displayName %v", doc["displayName"])
	}
	slave := e.computer("slave01")
	const want = "_class,absoluteRemotePath,actions,assignedLabels,description,displayName,executors,icon,iconClassName,idle,jnlpAgent,launchSupported,loadStatistics,manualLaunchAllowed,monitorData,numExecutors,offline,offlineCause,offlineCauseReason,oneOffExecutors,temporarilyOffline"
	if got := keys(slave); got != want {
		t.Errorf("computer keys\n got %s\nwant %s", got, want)
	}
	if got := keys(slave["loadStatistics"].(map[string]any)); got != "_class" {
		t.Errorf("loadStatistics keys %s, want _class", got)
	}
	label := slave["assignedLabels"].([]any)[0].(map[string]any)
	if got := keys(label); got != "name" || label["name"] != "slave01" {
		t.Errorf("assignedLabels[0] = %v", label)
	}
}

func TestLaunchFlags(t *testing.T) {
	e := newEnv(t, Options{})
	for _, tc := range []struct {
		name                string
		launchSupported, in bool
	}{
		{"slave01", true, false},
		{"agent 01", false, true},
		{BuiltInNode, true, false},
	} {
		comp := e.computer(tc.name)
		if comp["launchSupported"] != tc.launchSupported || comp["jnlpAgent"] != tc.in {
			t.Errorf("%s: launchSupported=%v jnlpAgent=%v", tc.name, comp["launchSupported"], comp["jnlpAgent"])
		}
	}
}

func TestPathEscaping(t *testing.T) {
	e := newEnv(t, Options{})
	for _, name := range []string{"agent 01", "ağent"} {
		path := "/computer/" + url.PathEscape(name) + "/api/json"
		if doc := e.getJSON(reader, path); doc["displayName"] != name {
			t.Errorf("GET %s: displayName %v, want %q", path, doc["displayName"], name)
		}
	}
	// An unescaped space is not a valid request line; the name with its
	// escaped form in a redirect keeps the client's escaping.
	r := e.post(watchdog, "agent 01", "toggleOffline"+q("x"))
	wantRedirect(t, r, "/computer/agent%2001/")
	if !e.snapshot("agent 01").TemporarilyOffline {
		t.Error("agent 01 not temporarily offline after toggle")
	}
	// Another node's name as a prefix does not match.
	wantStatus(t, e.do(http.MethodGet, reader, "/computer/agent/api/json"), http.StatusNotFound)
}

func TestPrefix(t *testing.T) {
	e := newEnv(t, Options{Prefix: "/jenkins"})
	if doc := e.getJSON(reader, "/jenkins/computer/api/json"); len(doc["computer"].([]any)) != 5 {
		t.Errorf("under prefix: %v", doc)
	}
	for _, path := range []string{"/computer/api/json", "/jenkinsx/computer/api/json", "/api/json"} {
		wantStatus(t, e.do(http.MethodGet, reader, path), http.StatusNotFound)
	}
	// Redirects stay under the prefix.
	wantRedirect(t, e.post(watchdog, "slave01", "toggleOffline"), "/jenkins/computer/slave01/")
	// Outside the prefix nothing of Jenkins runs, not even authentication.
	wantStatus(t, e.do(http.MethodGet, "intruder", "/computer/api/json"), http.StatusNotFound)
	if doc := e.getJSON(reader, "/jenkins/api/json"); doc["url"] != e.srv.URL+"/jenkins/" {
		t.Errorf("root url %v", doc["url"])
	}
}

func TestBuiltInNode(t *testing.T) {
	e := newEnv(t, Options{})
	doc := e.getJSON(reader, "/computer/api/json")
	first := doc["computer"].([]any)[0].(map[string]any)
	if first["displayName"] != "Built-In Node" || first["_class"] != "hudson.model.Hudson$MasterComputer" {
		t.Fatalf("first computer = %v %v", first["displayName"], first["_class"])
	}
	if _, has := first["absoluteRemotePath"]; has {
		t.Error("built-in node has absoluteRemotePath; only SlaveComputer exports it")
	}
	for _, path := range []string{"/computer/(built-in)/api/json", "/computer/(master)/api/json", "/computer/%28built-in%29/api/json"} {
		if got := e.getJSON(reader, path); got["displayName"] != "Built-In Node" {
			t.Errorf("GET %s: %v", path, got["displayName"])
		}
	}
	// "Built-In Node" is its display name, not its URL name.
	wantStatus(t, e.do(http.MethodGet, reader, "/computer/Built-In%20Node/api/json"), http.StatusNotFound)
	// Jenkins lets anyone with the permission toggle it.
	// The redirect keeps the client's escaping of the node name.
	wantRedirect(t, e.post(admin, BuiltInNode, "toggleOffline"+q("maintenance")), "/computer/%28built-in%29/")
	if s := e.snapshot("(master)"); !s.TemporarilyOffline || s.CauseReason != "maintenance" {
		t.Errorf("built-in after toggle: %+v", s)
	}
	// It has no doDisconnect, and its launchSlaveAgent answers 404.
	wantStatus(t, e.post(admin, BuiltInNode, "doDisconnect"), http.StatusNotFound)
	wantStatus(t, e.do(http.MethodGet, admin, "/computer/(built-in)/launchSlaveAgent"), http.StatusMethodNotAllowed)
	wantStatus(t, e.post(admin, BuiltInNode, "launchSlaveAgent"), http.StatusNotFound)
}

func TestRootAndCommonHeaders(t *testing.T) {
	e := newEnv(t, Options{Version: "2.500"})
	r := e.do(http.MethodGet, reader, "/api/json")
	wantStatus(t, r, http.StatusOK)
	if r.Header.Get("X-Jenkins") != "2.500" || r.Header.Get("X-Jenkins-Session") != e.c.Session() || e.c.Session() == "" {
		t.Errorf("headers %v", r.Header)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(r.body), &doc); err != nil {
		t.Fatal(err)
	}
	if doc["_class"] != "hudson.model.Hudson" || doc["useSecurity"] != true || doc["mode"] != "NORMAL" {
		t.Errorf("root = %v", doc)
	}
	// Error answers carry the headers too.
	r = e.do(http.MethodGet, "intruder", "/api/json")
	if r.StatusCode != http.StatusUnauthorized || r.Header.Get("X-Jenkins") != "2.500" {
		t.Errorf("401: status %d headers %v", r.StatusCode, r.Header)
	}
	if New(Options{}).version != DefaultVersion {
		t.Error("default version not set")
	}
}

func TestConnectPermissionGuardsRemotePathAndMonitors(t *testing.T) {
	e := newEnv(t, Options{})
	for _, tc := range []struct {
		user     string
		wantPath any
		monitors int
	}{
		{reader, nil, 0},
		{connector, "/home/jenkins/agent", 6},
		{watchdog, "/home/jenkins/agent", 6},
	} {
		doc := e.getJSON(tc.user, "/computer/slave01/api/json")
		if doc["absoluteRemotePath"] != tc.wantPath || len(doc["monitorData"].(map[string]any)) != tc.monitors {
			t.Errorf("%s: absoluteRemotePath=%v monitors=%d", tc.user, doc["absoluteRemotePath"], len(doc["monitorData"].(map[string]any)))
		}
	}
	if err := e.c.KillAgent("slave01"); err != nil {
		t.Fatal(err)
	}
	if doc := e.computer("slave01"); doc["absoluteRemotePath"] != nil {
		t.Errorf("absoluteRemotePath of a dead agent = %v, want null", doc["absoluteRemotePath"])
	}
}

func TestGzip(t *testing.T) {
	e := newEnv(t, Options{})
	// A transport that leaves Accept-Encoding and decompression to us.
	raw := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	get := func(acceptGzip bool) *http.Response {
		req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/computer/api/json", nil)
		req.SetBasicAuth(admin, admin+"-secret")
		if acceptGzip {
			req.Header.Set("Accept-Encoding", "gzip")
		}
		resp, err := raw.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	resp := get(true)
	if resp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("Content-Encoding %q, want gzip", resp.Header.Get("Content-Encoding"))
	}
	zr, err := gzip.NewReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	unzipped, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(unzipped) {
		t.Fatalf("gunzipped body is not JSON: %.100s", unzipped)
	}
	plain := get(false)
	body, _ := io.ReadAll(plain.Body)
	if plain.Header.Get("Content-Encoding") != "" || !bytes.Equal(body, unzipped) {
		t.Errorf("uncompressed answer differs (Content-Encoding %q)", plain.Header.Get("Content-Encoding"))
	}
	log := e.c.Requests()
	if last := log[len(log)-2]; last.Bytes >= last.BodyBytes || last.BodyBytes != len(unzipped) {
		t.Errorf("gzipped request logged %d wire / %d body bytes, document %d", last.Bytes, last.BodyBytes, len(unzipped))
	}
}

func TestStartingIs503(t *testing.T) {
	e := newEnv(t, Options{})
	e.c.SetStarting(true)
	for _, r := range []reply{
		e.do(http.MethodGet, admin, "/computer/api/json"),
		e.do(http.MethodGet, "intruder", "/computer/nope/api/json"),
		e.post(admin, "slave01", "toggleOffline"),
	} {
		wantStatus(t, r, http.StatusServiceUnavailable)
		if !strings.Contains(r.body, "Please wait while Jenkins is getting ready to work") || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") {
			t.Errorf("503 page: %s %q", r.Header.Get("Content-Type"), r.body)
		}
	}
	if e.snapshot("slave01").TemporarilyOffline {
		t.Error("a POST during start-up took effect")
	}
	e.c.SetStarting(false)
	wantStatus(t, e.do(http.MethodGet, admin, "/computer/api/json"), http.StatusOK)
}
