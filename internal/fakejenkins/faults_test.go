package fakejenkins

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
)

// fetch GETs the node list as admin with a client that follows redirects
// like a default one, returning the transport error if any.
func (e *env) fetch(ctx context.Context) (reply, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.srv.URL+"/computer/api/json", nil)
	req.SetBasicAuth(admin, admin+"-secret")
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return reply{resp, string(b)}, err
}

func TestFaultKinds(t *testing.T) {
	isJSON := func(r reply) bool { return json.Valid([]byte(r.body)) }
	for _, tc := range []struct {
		name   string
		fault  Fault
		status int                // 0: the request must fail at the transport
		check  func(reply) string // returns a complaint
	}{
		{name: "refuse", fault: Fault{Kind: FaultRefuse}},
		{name: "reset mid body", fault: Fault{Kind: FaultResetMidBody}},
		{name: "status", fault: Fault{Kind: FaultStatus, Status: 502}, status: 502, check: func(r reply) string {
			if isJSON(r) || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") {
				return "want an HTML body"
			}
			return ""
		}},
		{name: "status defaults to 500", fault: Fault{Kind: FaultStatus}, status: 500},
		{name: "html", fault: Fault{Kind: FaultHTML}, status: 200, check: func(r reply) string {
			if isJSON(r) || !strings.Contains(r.body, "j_username") {
				return "want a login page"
			}
			return ""
		}},
		{name: "truncated json", fault: Fault{Kind: FaultTruncatedJSON}, status: 200, check: func(r reply) string {
			if isJSON(r) || !strings.HasPrefix(r.body, `{"_class":"hudson.model.ComputerSet"`) {
				return "want the first half of the real document"
			}
			return ""
		}},
		{name: "malformed json", fault: Fault{Kind: FaultMalformedJSON}, status: 200, check: func(r reply) string {
			if isJSON(r) || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
				return "want invalid JSON labelled as JSON"
			}
			return ""
		}},
		{name: "redirect loop", fault: Fault{Kind: FaultRedirectLoop}},
		{name: "forbidden", fault: Fault{Kind: FaultForbidden, Permission: PermDisconnect}, status: 403, check: func(r reply) string {
			if r.Header.Get("X-Required-Permission") != "hudson.model.Computer.Disconnect" || r.Header.Get("X-You-Are-Authenticated-As") != admin {
				return "want X-Required-Permission and X-You-Are-Authenticated-As"
			}
			return ""
		}},
		{name: "empty 200", fault: Fault{Kind: FaultEmpty200}, status: 200, check: func(r reply) string {
			if r.body != "" {
				return "want no body"
			}
			return ""
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, Options{})
			e.c.InjectFault(tc.fault)
			r, err := e.fetch(t.Context())
			if tc.status == 0 {
				if err == nil {
					t.Fatalf("request succeeded: %d %.80s", r.StatusCode, r.body)
				}
			} else {
				if err != nil {
					t.Fatal(err)
				}
				if r.StatusCode != tc.status {
					t.Fatalf("status %d, want %d", r.StatusCode, tc.status)
				}
				if tc.check != nil {
					if complaint := tc.check(r); complaint != "" {
						t.Errorf("%s; got %s %q", complaint, r.Header.Get("Content-Type"), r.body)
					}
				}
			}
			log := e.c.Requests()
			if len(log) == 0 || !log[0].Fault {
				t.Errorf("request log %+v, want the fault marked", log)
			}
			// Faults stay until cleared (Count 0); then Jenkins answers.
			e.c.ClearFaults()
			if r, err := e.fetch(t.Context()); err != nil || r.StatusCode != 200 || !isJSON(r) {
				t.Errorf("after ClearFaults: %v %v", err, r.Response)
			}
		})
	}
}

func TestFaultSlowEndsWithTheClient(t *testing.T) {
	e := newEnv(t, Options{})
	e.c.InjectFault(Fault{Kind: FaultSlow, Action: "read"})
	ctx, cancel := context.WithCancel(t.Context())
	e.c.mu.Lock()
	e.c.slowHook = cancel // the client gives up once the server holds the request
	e.c.mu.Unlock()
	if _, err := e.fetch(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("slow request: %v, want context.Canceled", err)
	}
}

func TestFaultSlowEndsWithClose(t *testing.T) {
	e := newEnv(t, Options{})
	e.c.InjectFault(Fault{Kind: FaultSlow})
	e.c.mu.Lock()
	e.c.slowHook = e.c.Close
	e.c.mu.Unlock()
	if _, err := e.fetch(t.Context()); err == nil {
		t.Error("slow request released by Close succeeded")
	}
}

func TestFaultFilters(t *testing.T) {
	e := newEnv(t, Options{})
	e.c.InjectFault(Fault{Kind: FaultStatus, Status: 502, Action: "toggleOffline", Node: "slave02", Count: 2})
	e.c.InjectFault(Fault{Kind: FaultStatus, Status: 504, Action: "read", Method: "GET", Node: "(master)"})

	wantStatus(t, e.post(watchdog, "slave01", "toggleOffline"), http.StatusFound) // other node
	wantStatus(t, e.do(http.MethodGet, admin, "/computer/slave02/api/json"), 200) // not the action
	wantStatus(t, e.post(watchdog, "slave02", "changeOfflineCause"), http.StatusFound)
	wantStatus(t, e.post(watchdog, "slave02", "toggleOffline"), 502)
	wantStatus(t, e.post(watchdog, "slave02", "toggleOffline"), 502)
	// Count spent: the third gets through (and undoes changeOfflineCause).
	wantStatus(t, e.post(watchdog, "slave02", "toggleOffline"), http.StatusFound)
	if e.snapshot("slave02").TemporarilyOffline {
		t.Error("slave02 still offline")
	}
	// "(master)" and "(built-in)" are one node; the list is no node.
	wantStatus(t, e.do(http.MethodGet, admin, "/computer/(built-in)/api/json"), 504)
	wantStatus(t, e.do(http.MethodGet, admin, "/computer/api/json"), 200)
	wantStatus(t, e.do(http.MethodGet, admin, "/crumbIssuer/api/json"), 200) // "read" excludes the crumb
	e.c.InjectFault(Fault{Kind: FaultStatus, Status: 500, Action: "crumb"})
	wantStatus(t, e.do(http.MethodGet, admin, "/crumbIssuer/api/json"), 500)
}

func TestFaultApplyLosesTheAnswerNotTheEffect(t *testing.T) {
	e := newEnv(t, Options{})
	e.c.InjectFault(Fault{Kind: FaultRefuse, Action: "toggleOffline", Count: 1, Apply: true})
	e.c.InjectFault(Fault{Kind: FaultRefuse, Action: "changeOfflineCause", Count: 1})
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/computer/slave01/toggleOffline", nil)
	req.SetBasicAuth(watchdog, watchdog+"-secret")
	if resp, err := e.client.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("toggle answered %d, want a cut connection", resp.StatusCode)
	}
	if !e.snapshot("slave01").TemporarilyOffline {
		t.Error("toggle with Apply had no effect")
	}
	req, _ = http.NewRequest(http.MethodPost, e.srv.URL+"/computer/slave02/changeOfflineCause", nil)
	req.SetBasicAuth(watchdog, watchdog+"-secret")
	if resp, err := e.client.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("changeOfflineCause answered %d, want a cut connection", resp.StatusCode)
	}
	if e.snapshot("slave02").TemporarilyOffline {
		t.Error("refused changeOfflineCause without Apply took effect")
	}
}
