package fakejenkins

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

func TestControlAPI(t *testing.T) {
	e := newEnv(t, Options{ControlAPI: true, Prefix: "/jenkins"})
	control := func(method, command string, params url.Values) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(method, e.srv.URL+"/jenkins/-/fake/"+command+"?"+params.Encode(), nil)
		resp, err := http.DefaultClient.Do(req) // no credentials: the control API has none
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatalf("%s: %v", command, err)
		}
		return resp.StatusCode, out
	}
	node := url.Values{"node": {"slave01"}}
	for _, step := range []struct {
		command string
		params  url.Values
		check   func(NodeSnapshot) bool
	}{
		{"kill", node, func(s NodeSnapshot) bool { return !s.MachineUp && !s.Connected }},
		{"revive", node, func(s NodeSnapshot) bool { return s.MachineUp && !s.Connected }},
		{"relaunch", node, func(s NodeSnapshot) bool { return s.Connected && !s.Offline }},
		{"operator-offline", url.Values{"node": {"slave01"}, "message": {"disk replacement"}},
			func(s NodeSnapshot) bool { return s.TemporarilyOffline && s.CauseReason == "disk replacement" }},
		{"operator-online", node, func(s NodeSnapshot) bool { return !s.Offline }},
		{"monitor-offline", node, func(s NodeSnapshot) bool { return s.CauseClass == causeDiskSpace }},
	} {
		status, out := control(http.MethodPost, step.command, step.params)
		if status != http.StatusOK || out["ok"] != true {
			t.Fatalf("%s: %d %v", step.command, status, out)
		}
		if s := e.snapshot("slave01"); !step.check(s) {
			t.Errorf("after %s: %+v", step.command, s)
		}
	}
	status, out := control(http.MethodPost, "build", url.Values{"node": {"slave02"}})
	if status != http.StatusOK || out["id"] != 1.0 {
		t.Fatalf("build: %d %v", status, out)
	}
	if _, state, _ := e.c.Build(1); state != BuildRunning {
		t.Errorf("build 1 is %s", state)
	}
	if status, _ := control(http.MethodPost, "finish", url.Values{"id": {"1"}}); status != http.StatusOK {
		t.Errorf("finish: %d", status)
	}
	if status, out := control(http.MethodGet, "node", url.Values{"node": {"slave02"}}); status != http.StatusOK || out["Name"] != "slave02" {
		t.Errorf("node: %d %v", status, out)
	}
	session := e.c.Session()
	if status, _ := control(http.MethodPost, "restart", nil); status != http.StatusOK || e.c.Session() == session {
		t.Errorf("restart: %d, session %s -> %s", status, session, e.c.Session())
	}
	if status, _ := control(http.MethodPost, "starting", url.Values{"value": {"true"}}); status != http.StatusOK {
		t.Errorf("starting: %d", status)
	}
	wantStatus(t, e.do(http.MethodGet, admin, "/jenkins/api/json"), http.StatusServiceUnavailable)
	control(http.MethodPost, "starting", url.Values{"value": {"false"}})

	for _, tc := range []struct {
		method, command string
		params          url.Values
		status          int
	}{
		{http.MethodPost, "kill", url.Values{"node": {"ghost"}}, http.StatusNotFound},
		{http.MethodPost, "build", url.Values{"node": {"slave01"}}, http.StatusConflict}, // temporarily offline
		{http.MethodPost, "finish", url.Values{"id": {"x"}}, http.StatusBadRequest},
		{http.MethodPost, "explode", nil, http.StatusNotFound},
		{http.MethodGet, "kill", node, http.StatusMethodNotAllowed},
	} {
		if status, out := control(tc.method, tc.command, tc.params); status != tc.status || out["error"] == nil {
			t.Errorf("%s %s: %d %v, want %d and an error", tc.method, tc.command, status, out, tc.status)
		}
	}
	// The control API is not part of the log.
	for _, rec := range e.c.Requests() {
		if rec.Path != "/jenkins/api/json" {
			t.Errorf("unexpected log entry %+v", rec)
		}
	}
}

func TestControlAPIOffByDefault(t *testing.T) {
	e := newEnv(t, Options{})
	wantStatus(t, e.do(http.MethodPost, anonymous, "/-/fake/kill?node=slave01"), http.StatusForbidden) // crumb check
	wantStatus(t, e.do(http.MethodPost, admin, "/-/fake/kill?node=slave01"), http.StatusNotFound)
	if s := e.snapshot("slave01"); !s.MachineUp {
		t.Error("disabled control API killed an agent")
	}
}

func TestRequestLog(t *testing.T) {
	e := newEnv(t, Options{Prefix: "/jenkins"})
	e.do(http.MethodGet, watchdog, "/jenkins/computer/api/json?tree=computer%5BdisplayName%5D")
	e.post(watchdog, "agent 01", "toggleOffline"+q("x"))
	e.do(http.MethodGet, "intruder", "/jenkins/computer/api/json")
	log := e.c.Requests()
	want := []RequestRecord{
		{Method: "GET", Path: "/jenkins/computer/api/json", RawQuery: "tree=computer%5BdisplayName%5D", User: watchdog, Status: 200},
		{Method: "POST", Path: "/jenkins/computer/agent%2001/toggleOffline", RawQuery: "offlineMessage=x", User: watchdog, Status: 302, Action: "toggleOffline"},
		{Method: "GET", Path: "/jenkins/computer/api/json", User: "intruder", Status: 401},
	}
	if len(log) != len(want) {
		t.Fatalf("log %+v", log)
	}
	for i := range want {
		got := log[i]
		if got.Bytes <= 0 && got.Status == 200 {
			t.Errorf("entry %d: no bytes counted", i)
		}
		got.Bytes, got.BodyBytes = 0, 0
		if got != want[i] {
			t.Errorf("entry %d:\n got %+v\nwant %+v", i, got, want[i])
		}
	}
	log[0].User = "mutated"
	if e.c.Requests()[0].User != watchdog {
		t.Error("Requests returned the log itself, not a copy")
	}
	e.c.ResetRequests()
	if n := len(e.c.Requests()); n != 0 {
		t.Errorf("%d entries after reset", n)
	}
}

// GET <prefix>/-/fake/ answers the list fake-jenkins -h prints, without
// credentials, and every command on it is one the controller knows.
func TestControlAPIListsItself(t *testing.T) {
	e := newEnv(t, Options{ControlAPI: true, Prefix: "/jenkins"})
	r := e.do(http.MethodGet, anonymous, "/jenkins/-/fake/")
	wantStatus(t, r, http.StatusOK)
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type %q", ct)
	}
	if r.body != ControlAPIHelp {
		t.Errorf("GET /-/fake/ answered\n%s\nwant ControlAPIHelp:\n%s", r.body, ControlAPIHelp)
	}
	listed := regexp.MustCompile(`(?m)^\s+(GET|POST)\s+/-/fake/([a-z-]*)`).FindAllStringSubmatch(ControlAPIHelp, -1)
	if len(listed) < 10 {
		t.Fatalf("only %d endpoints found in ControlAPIHelp", len(listed))
	}
	for _, m := range listed {
		method, command := m[1], m[2]
		if command == "" {
			continue
		}
		r := e.do(method, anonymous, "/jenkins/-/fake/"+command+"?node=ghost&id=0")
		if strings.Contains(r.body, "unknown command") || r.StatusCode == http.StatusMethodNotAllowed {
			t.Errorf("%s /-/fake/%s is listed but answers %d %s", method, command, r.StatusCode, r.body)
		}
	}
}
