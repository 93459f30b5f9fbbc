package fakejenkins

import (
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"slices"
	"strings"
	"testing"
)

func TestAuthCheckOrder(t *testing.T) {
	for _, tc := range []struct {
		name          string
		anonymousRead bool
		user          string // "intruder" has no account
		method, path  string
		status        int
		header        map[string][]string
		body          string
	}{
		{
			name: "bad credentials beat unknown node", user: "intruder",
			method: "GET", path: "/computer/ghost/api/json", status: 401,
			header: map[string][]string{"WWW-Authenticate": {`Basic realm="Jenkins"`}},
		},
		{
			name: "bad credentials beat the crumb check", user: "intruder",
			method: "POST", path: "/computer/slave01/toggleOffline", status: 401,
		},
		{
			name: "missing crumb beats missing read", user: anonymous,
			method: "POST", path: "/computer/ghost/toggleOffline", status: 403,
			body: "No valid crumb was included in the request",
		},
		{
			name: "password user without crumb", user: alice,
			method: "POST", path: "/computer/ghost/toggleOffline", status: 403,
			body: "No valid crumb was included in the request",
		},
		{
			name: "no read beats unknown node", user: nobody,
			method: "GET", path: "/computer/ghost/api/json", status: 403,
			header: map[string][]string{
				"X-You-Are-Authenticated-As": {"nobody"},
				"X-Required-Permission":      {"hudson.model.Hudson.Read"},
				"X-Permission-Implied-By":    {"hudson.security.Permission.GenericRead", "hudson.model.Hudson.Administer"},
			},
		},
		{
			name: "anonymous without read", user: anonymous,
			method: "GET", path: "/computer/api/json", status: 403,
			header: map[string][]string{"X-You-Are-Authenticated-As": {"anonymous"}},
		},
		{
			name: "anonymous read", anonymousRead: true, user: anonymous,
			method: "GET", path: "/computer/api/json", status: 200,
		},
		{
			name: "unknown node beats method", user: reader,
			method: "GET", path: "/computer/ghost/toggleOffline", status: 404,
		},
		{
			name: "method beats permission", user: reader,
			method: "GET", path: "/computer/slave01/toggleOffline", status: 405,
			header: map[string][]string{"Allow": {"POST"}},
		},
		{
			name: "toggle offline needs Disconnect", user: connector,
			method: "POST", path: "/computer/slave01/toggleOffline", status: 403,
			header: map[string][]string{
				"X-You-Are-Authenticated-As": {"connector"},
				"X-Required-Permission":      {"hudson.model.Computer.Disconnect"},
				"X-Permission-Implied-By":    {"hudson.model.Hudson.Administer"},
			},
		},
		{
			name: "changeOfflineCause needs Disconnect", user: reader,
			method: "POST", path: "/computer/slave01/changeOfflineCause", status: 403,
			header: map[string][]string{"X-Required-Permission": {"hudson.model.Computer.Disconnect"}},
		},
		{
			name: "launch needs Connect", user: reader,
			method: "POST", path: "/computer/slave01/launchSlaveAgent", status: 403,
			header: map[string][]string{
				"X-Required-Permission":   {"hudson.model.Computer.Connect"},
				"X-Permission-Implied-By": {"hudson.model.Computer.Disconnect", "hudson.model.Hudson.Administer"},
			},
		},
		{
			name: "Disconnect implies Connect", user: watchdog,
			method: "POST", path: "/computer/slave01/launchSlaveAgent", status: 200,
		},
		{
			name: "Administer implies all", user: admin,
			method: "POST", path: "/computer/slave01/toggleOffline", status: 302,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, Options{AnonymousRead: tc.anonymousRead})
			r := e.do(tc.method, tc.user, tc.path)
			wantStatus(t, r, tc.status)
			for k, want := range tc.header {
				if got := r.Header.Values(k); !slices.Equal(got, want) {
					t.Errorf("%s: %q, want %q", k, got, want)
				}
			}
			if !strings.Contains(r.body, tc.body) {
				t.Errorf("body %q does not contain %q", r.body, tc.body)
			}
			if r.StatusCode >= 400 && !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") {
				t.Errorf("error Content-Type %q, want HTML", r.Header.Get("Content-Type"))
			}
		})
	}
}

func TestToggleBackOnlineNeedsConnect(t *testing.T) {
	e := newEnv(t, Options{})
	if err := e.c.OperatorOffline("slave01", "ops", "disk"); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, e.post(reader, "slave01", "toggleOffline"), http.StatusForbidden)
	wantRedirect(t, e.post(connector, "slave01", "toggleOffline"), "/computer/slave01/")
	if s := e.snapshot("slave01"); s.TemporarilyOffline {
		t.Errorf("still temporarily offline: %+v", s)
	}
	// ...but cannot take it offline again.
	wantStatus(t, e.post(connector, "slave01", "toggleOffline"), http.StatusForbidden)
}

// crumb fetches a crumb as alice with the client's cookie jar, and returns
// the session cookie set, if any.
func crumb(t *testing.T, e *env, client *http.Client) (crumb, setCookie string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/crumbIssuer/api/json", nil)
	req.SetBasicAuth(alice, alice+"-secret")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct {
		Class string `json:"_class"`
		Crumb string `json:"crumb"`
		Field string `json:"crumbRequestField"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if doc.Class != "hudson.security.csrf.DefaultCrumbIssuer" || doc.Field != "Jenkins-Crumb" || doc.Crumb == "" {
		t.Fatalf("crumb document %+v", doc)
	}
	return doc.Crumb, resp.Header.Get("Set-Cookie")
}

func TestCrumbFlow(t *testing.T) {
	e := newEnv(t, Options{})
	jar, _ := cookiejar.New(nil)
	withJar := &http.Client{Jar: jar, CheckRedirect: e.client.CheckRedirect}
	toggle := func(client *http.Client, crumb string) reply {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/computer/slave01/toggleOffline", nil)
		req.SetBasicAuth(alice, alice+"-secret")
		if crumb != "" {
			req.Header.Set("Jenkins-Crumb", crumb)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return reply{Response: resp}
	}
	good, cookie := crumb(t, e, withJar)
	if !strings.HasPrefix(cookie, "JSESSIONID.") {
		t.Fatalf("Set-Cookie %q, want a JSESSIONID.<hex> session cookie", cookie)
	}

	wantStatus(t, toggle(withJar, ""), http.StatusForbidden)         // no crumb
	wantStatus(t, toggle(e.client, good), http.StatusForbidden)      // crumb without its session cookie
	wantStatus(t, toggle(withJar, "0badc0de"), http.StatusForbidden) // wrong crumb
	if e.snapshot("slave01").TemporarilyOffline {
		t.Fatal("a rejected POST took effect")
	}
	wantStatus(t, toggle(withJar, good), http.StatusFound)
	if !e.snapshot("slave01").TemporarilyOffline {
		t.Fatal("toggle with crumb and cookie did nothing")
	}
	// The same session gets the same crumb back.
	if again, cookie := crumb(t, e, withJar); again != good || cookie != "" {
		t.Errorf("second crumb %q (Set-Cookie %q), want %q and no new session", again, cookie, good)
	}
	// A crumb issued to another session does not fit this one.
	otherJar, _ := cookiejar.New(nil)
	other, _ := crumb(t, e, &http.Client{Jar: otherJar})
	wantStatus(t, toggle(withJar, other), http.StatusForbidden)
	// A restart forgets sessions.
	e.c.Restart()
	wantStatus(t, toggle(withJar, good), http.StatusForbidden)
}

func TestAPITokenPostNeedsNoCrumb(t *testing.T) {
	e := newEnv(t, Options{})
	wantRedirect(t, e.post(watchdog, "slave01", "toggleOffline"), "/computer/slave01/")
	// A bogus crumb does not hurt either: token requests skip the check.
	r := e.do(http.MethodPost, watchdog, "/computer/slave01/toggleOffline", "Jenkins-Crumb", "junk")
	wantRedirect(t, r, "/computer/slave01/")
	if e.snapshot("slave01").TemporarilyOffline {
		t.Error("two toggles left the node offline")
	}
}

func TestCrumbIssuerNeedsRead(t *testing.T) {
	e := newEnv(t, Options{})
	wantStatus(t, e.do(http.MethodGet, anonymous, "/crumbIssuer/api/json"), http.StatusForbidden)
	wantStatus(t, e.do(http.MethodGet, reader, "/crumbIssuer/api/json"), http.StatusOK)
}
