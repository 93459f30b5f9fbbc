package fakejenkins

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestToggleOffline(t *testing.T) {
	e := newEnv(t, Options{})
	wantRedirect(t, e.post(watchdog, "slave02", "toggleOffline"+q("parked by watchdog")), "/computer/slave02/")
	comp := e.computer("slave02")
	if comp["offline"] != true || comp["temporarilyOffline"] != true ||
		causeClass(comp) != causeUser || comp["offlineCauseReason"] != "parked by watchdog" {
		t.Fatalf("after toggle: %v", comp)
	}
	if comp["absoluteRemotePath"] != "/home/jenkins/agent" {
		t.Errorf("temporarily offline agent lost its channel: %v", comp["absoluteRemotePath"])
	}
	// The full cause, one level down, keeps the user in its description.
	doc := e.getJSON(admin, "/computer/slave02/api/json?depth=1")
	if d := doc["offlineCause"].(map[string]any)["description"]; d != "Disconnected by watchdog : parked by watchdog" {
		t.Errorf("description %v", d)
	}
	wantRedirect(t, e.post(watchdog, "slave02", "toggleOffline"), "/computer/slave02/")
	comp = e.computer("slave02")
	if comp["offline"] != false || comp["temporarilyOffline"] != false || comp["offlineCause"] != nil || comp["offlineCauseReason"] != "" {
		t.Fatalf("after second toggle: %v", comp)
	}
}

func TestToggleOnlineWithChannelDownStaysOffline(t *testing.T) {
	e := newEnv(t, Options{})
	wantStatus(t, e.post(watchdog, "slave02", "toggleOffline"+q("parked")), http.StatusFound)
	if err := e.c.KillAgent("slave02"); err != nil {
		t.Fatal(err)
	}
	// The temporary cause hides the channel cause while it is set.
	if comp := e.computer("slave02"); causeClass(comp) != causeUser || comp["offlineCauseReason"] != "parked" {
		t.Errorf("parked and killed: %v", comp)
	}
	wantStatus(t, e.post(watchdog, "slave02", "toggleOffline"), http.StatusFound)
	comp := e.computer("slave02")
	if comp["offline"] != true || comp["temporarilyOffline"] != false ||
		causeClass(comp) != causeChannelTermination || comp["offlineCauseReason"] != "Connection was broken" {
		t.Errorf("toggled online with the channel down: %v", comp)
	}
}

func TestChangeOfflineCauseIsIdempotent(t *testing.T) {
	e := newEnv(t, Options{})
	for i := 0; i < 2; i++ {
		wantRedirect(t, e.post(watchdog, "slave02", "changeOfflineCause"+q("watchdog-parked")), "/computer/slave02/")
		if s := e.snapshot("slave02"); !s.TemporarilyOffline || s.CauseReason != "watchdog-parked" {
			t.Fatalf("call %d: %+v", i+1, s)
		}
	}
	// It replaces another cause, such as a monitor's.
	if err := e.c.MonitorOffline("slave01"); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, e.post(watchdog, "slave01", "changeOfflineCause"+q("mine now")), http.StatusFound)
	if s := e.snapshot("slave01"); s.CauseClass != causeUser || s.CauseReason != "mine now" {
		t.Errorf("after replacing the monitor's cause: %+v", s)
	}
}

func TestOfflineCauseReasonEscaping(t *testing.T) {
	// Since 2.483 (jenkinsci/jenkins #9883) offlineCauseReason is
	// HTML-escaped; before, it reads back raw.
	for _, release := range []struct {
		version string
		escaped bool
	}{{"2.479.3", false}, {"2.483", true}, {"2.541.1", true}} {
		e := newEnv(t, Options{Version: release.version})
		for _, tc := range []struct{ message, raw, escaped string }{
			{"disk replacement", "disk replacement", "disk replacement"},
			{"  padded  ", "padded", "padded"}, // Util.fixEmptyAndTrim
			{"", "", ""},                       // no message: "Disconnected by watchdog" strips to nothing
			{"   ", "", ""},
			{`<script>"x" & 'y'</script>`, `<script>"x" & 'y'</script>`, "&lt;script&gt;&quot;x&quot; &amp; &#039;y&#039;&lt;/script&gt;"},
			{"two  spaces", "two  spaces", "two&nbsp; spaces"},
			{"line1\nline2", "line1\nline2", "line1<br>line2"},
			{"ağent 1 ✓", "ağent 1 ✓", "ağent 1 ✓"},
			// The prefix regex is greedy: up to the last " : ".
			{"[watchdog] : parked", "parked", "parked"},
			{"a:b", "a:b", "a:b"},
		} {
			want := tc.raw
			if release.escaped {
				want = tc.escaped
			}
			wantStatus(t, e.post(watchdog, "slave01", "changeOfflineCause"+q(tc.message)), http.StatusFound)
			if got := e.computer("slave01")["offlineCauseReason"]; got != want {
				t.Errorf("%s, message %q: offlineCauseReason %q, want %q", release.version, tc.message, got, want)
			}
		}
	}
	e := newEnv(t, Options{})
	// The message may come as a form field too.
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/computer/slave01/changeOfflineCause",
		strings.NewReader(url.Values{"offlineMessage": {"from a form"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(watchdog, watchdog+"-secret")
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := e.snapshot("slave01").CauseReason; got != "from a form" {
		t.Errorf("form message: %q", got)
	}
}

func TestLaunchSlaveAgent(t *testing.T) {
	e := newEnv(t, Options{})
	// Connected: the "already launched" page, nothing changes.
	r := e.post(connector, "slave01", "launchSlaveAgent")
	wantStatus(t, r, http.StatusOK)
	if !strings.Contains(r.body, "already launched") {
		t.Errorf("already-launched page: %s", r.body)
	}

	// SSH, machine down: the launch fails, asynchronously in Jenkins, so
	// the answer is still the redirect to the log.
	if err := e.c.KillAgent("slave01"); err != nil {
		t.Fatal(err)
	}
	wantRedirect(t, e.post(connector, "slave01", "launchSlaveAgent"), "/computer/slave01/log")
	if s := e.snapshot("slave01"); s.Connected || s.CauseClass != causeLaunchFailed || !s.Offline {
		t.Errorf("launch with machine down: %+v", s)
	}
	if reason := e.computer("slave01")["offlineCauseReason"]; !strings.Contains(reason.(string), "failed to launch") {
		t.Errorf("LaunchFailed reason %q", reason)
	}

	// SSH, machine up: connected, cause cleared, remote path back.
	if err := e.c.ReviveAgent("slave01"); err != nil {
		t.Fatal(err)
	}
	if s := e.snapshot("slave01"); s.Connected {
		t.Fatal("SSH agent reconnected without a launch")
	}
	wantRedirect(t, e.post(connector, "slave01", "launchSlaveAgent"), "/computer/slave01/log")
	comp := e.computer("slave01")
	if comp["offline"] != false || comp["offlineCause"] != nil || comp["absoluteRemotePath"] != "/home/jenkins/agent" {
		t.Errorf("after launch: %v", comp)
	}
	wantStatus(t, e.do(http.MethodGet, connector, "/computer/slave01/log"), http.StatusOK)

	// Inbound: Jenkins cannot launch it; JNLPLauncher does nothing, which
	// Jenkins records as a failed launch. The agent stays disconnected.
	if err := e.c.KillAgent("agent 01"); err != nil {
		t.Fatal(err)
	}
	wantRedirect(t, e.post(connector, "agent 01", "launchSlaveAgent"), "/computer/agent%2001/log")
	if s := e.snapshot("agent 01"); s.Connected || s.CauseClass != causeLaunchFailed {
		t.Errorf("inbound launch: %+v", s)
	}
}

func TestLaunchKeepsTemporarilyOffline(t *testing.T) {
	e := newEnv(t, Options{})
	wantStatus(t, e.post(watchdog, "slave02", "toggleOffline"+q("parked")), http.StatusFound)
	if err := e.c.KillAgent("slave02"); err != nil {
		t.Fatal(err)
	}
	if err := e.c.ReviveAgent("slave02"); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, e.post(watchdog, "slave02", "launchSlaveAgent"), http.StatusFound)
	if s := e.snapshot("slave02"); !s.Connected || !s.TemporarilyOffline || !s.Offline || s.CauseReason != "parked" {
		t.Errorf("launched parked agent: %+v", s)
	}
}

func TestDoDisconnect(t *testing.T) {
	e := newEnv(t, Options{})
	id, err := e.c.StartBuild("slave01")
	if err != nil {
		t.Fatal(err)
	}
	wantRedirect(t, e.post(watchdog, "slave01", "doDisconnect"+q("maintenance")), "/computer/slave01/")
	comp := e.computer("slave01")
	if comp["offline"] != true || comp["temporarilyOffline"] != false ||
		causeClass(comp) != causeUser || comp["offlineCauseReason"] != "maintenance" || comp["absoluteRemotePath"] != nil {
		t.Errorf("after doDisconnect: %v", comp)
	}
	if _, state, _ := e.c.Build(id); state != BuildAborted {
		t.Errorf("build on disconnected agent: %s, want aborted", state)
	}
	// With no channel there is nothing to check: even a reader gets the
	// redirect (SlaveComputer.doDoDisconnect).
	wantRedirect(t, e.post(reader, "slave01", "doDisconnect"), "/computer/slave01/")
	// A connected agent needs Computer/Disconnect.
	wantStatus(t, e.post(connector, "slave02", "doDisconnect"), http.StatusForbidden)
	// An inbound agent whose machine is up dials straight back in.
	wantStatus(t, e.post(watchdog, "agent 01", "doDisconnect"), http.StatusFound)
	if s := e.snapshot("agent 01"); !s.Connected || s.Offline {
		t.Errorf("inbound after doDisconnect: %+v", s)
	}
}

func TestGetOnActionIs405(t *testing.T) {
	e := newEnv(t, Options{})
	for _, action := range []string{"toggleOffline", "changeOfflineCause", "launchSlaveAgent", "doDisconnect"} {
		r := e.do(http.MethodGet, admin, "/computer/slave01/"+action)
		wantStatus(t, r, http.StatusMethodNotAllowed)
		if r.Header.Get("Allow") != "POST" {
			t.Errorf("%s: Allow %q", action, r.Header.Get("Allow"))
		}
	}
	if s := e.snapshot("slave01"); s.Offline {
		t.Errorf("a GET changed state: %+v", s)
	}
}

func TestUnknownNodeAndPath(t *testing.T) {
	e := newEnv(t, Options{})
	for _, path := range []string{"/computer/ghost/api/json", "/computer/ghost/toggleOffline", "/computer/slave01/bogus", "/nope/api/json", "/computer/slave01/api/xml"} {
		r := e.do(http.MethodPost, admin, path)
		wantStatus(t, r, http.StatusNotFound)
		if !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") {
			t.Errorf("%s: 404 Content-Type %q", path, r.Header.Get("Content-Type"))
		}
	}
	if err := e.c.RemoveAgent("slave02"); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, e.do(http.MethodGet, admin, "/computer/slave02/api/json"), http.StatusNotFound)
}

// offlineCause.description carries the writer and the raw message, worded
// in the request's language or the one a locale plugin forces; where the
// template does not start with the words before the id, Jenkins'
// prefix-stripping misses and offlineCauseReason shows it all.
func TestOfflineCauseDescription(t *testing.T) {
	const msg = `disk <check> : soon`
	for _, tc := range []struct {
		locale, accept string
		description    string
		reason         string
	}{
		{"", "", "Disconnected by watchdog : " + msg, "soon"},
		{"", "de-DE,de;q=0.9", "Getrennt durch Benutzer watchdog : " + msg, "soon"},
		{"ja", "en", "watchdogがオフラインにしています。 : " + msg, "watchdogがオフラインにしています。 : " + msg},
		{"ru", "", "Отключён пользователем watchdog:  : " + msg, "Отключён пользователем watchdog:  : " + msg},
		{"bg", "", "Връзката бе прекъсната от „watchdog : " + msg + "“", "Връзката бе прекъсната от „watchdog : " + msg + "“"},
	} {
		e := newEnv(t, Options{Locale: tc.locale})
		wantStatus(t, e.post(watchdog, "slave01", "changeOfflineCause"+q(msg)), http.StatusFound)
		req, _ := http.NewRequest(http.MethodGet, e.srv.URL+e.prefix+"/computer/slave01/api/json?tree=offlineCauseReason,offlineCause[_class,description]", nil)
		req.SetBasicAuth(admin, admin+"-secret")
		if tc.accept != "" {
			req.Header.Set("Accept-Language", tc.accept)
		}
		resp, err := e.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var got struct {
			Reason string `json:"offlineCauseReason"`
			Cause  struct {
				Class       string `json:"_class"`
				Description string `json:"description"`
			} `json:"offlineCause"`
		}
		err = json.NewDecoder(resp.Body).Decode(&got)
		_ = resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if got.Cause.Description != tc.description || got.Reason != tc.reason || got.Cause.Class != causeUser {
			t.Errorf("locale %q, Accept-Language %q: description %q, reason %q; want %q, %q",
				tc.locale, tc.accept, got.Cause.Description, got.Reason, tc.description, tc.reason)
		}
		if s := e.snapshot("slave01"); s.Writer != watchdog {
			t.Errorf("snapshot writer %q, want %q", s.Writer, watchdog)
		}
	}
}

// On the releases with jenkinsci/jenkins #26750 a Configuration-as-Code
// reload or a restart drops every temporary offline cause of the nodes
// configured as code: people's holds and node monitors' too.
func TestAffectedReloadDropsHolds(t *testing.T) {
	for _, tc := range []struct {
		version string
		drops   bool
	}{{"2.479.3", false}, {"2.541.1", true}, {"2.555.3", false}} {
		e := newEnv(t, Options{Version: tc.version})
		for _, n := range []string{"casc01", "casc02"} {
			if err := e.c.AddAgent(AgentSpec{Name: n, CasC: true}); err != nil {
				t.Fatal(err)
			}
		}
		if err := e.c.OperatorOffline("casc01", "bob", "disk check"); err != nil {
			t.Fatal(err)
		}
		if err := e.c.MonitorOffline("casc02"); err != nil {
			t.Fatal(err)
		}
		e.c.ReloadCasC()
		for _, n := range []string{"casc01", "casc02"} {
			if s := e.snapshot(n); s.TemporarilyOffline == tc.drops {
				t.Errorf("%s: after a reload %s reads temporarily offline %t", tc.version, n, s.TemporarilyOffline)
			}
		}
	}
}
