package fakejenkins

import (
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// Users every test environment has. Secrets are the user name + "-secret".
const (
	admin     = "admin"     // token, Overall/Administer
	watchdog  = "watchdog"  // token, Read + Disconnect (so Connect too)
	reader    = "reader"    // token, Read only
	connector = "connector" // token, Read + Connect
	nobody    = "nobody"    // token, no permission at all
	alice     = "alice"     // password, Administer: POSTs need a crumb
	anonymous = ""          // no credentials
)

// env is a fake controller behind a real HTTP server, with agents
// slave01 and slave02 (SSH), "agent 01" and "ağent" (inbound).
type env struct {
	t      *testing.T
	c      *Controller
	srv    *httptest.Server
	client *http.Client
	prefix string
}

func newEnv(t *testing.T, opts Options) *env {
	t.Helper()
	if opts.Now == nil {
		// A stopped clock keeps documents byte-for-byte comparable.
		opts.Now = func() time.Time { return time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC) }
	}
	c := New(opts)
	c.AddUser(admin, admin+"-secret", PermAdminister)
	c.AddUser(watchdog, watchdog+"-secret", PermRead, PermDisconnect)
	c.AddUser(reader, reader+"-secret", PermRead)
	c.AddUser(connector, connector+"-secret", PermRead, PermConnect)
	c.AddUser(nobody, nobody+"-secret")
	c.AddPasswordUser(alice, alice+"-secret", PermAdminister)
	for _, spec := range []AgentSpec{
		{Name: "slave01", Launch: SSH},
		{Name: "slave02", Launch: SSH},
		{Name: "agent 01", Launch: Inbound},
		{Name: "ağent", Launch: Inbound, Executors: 1},
	} {
		if err := c.AddAgent(spec); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(c)
	t.Cleanup(srv.Close)
	t.Cleanup(c.Close) // before srv.Close: release FaultSlow handlers
	return &env{
		t: t, c: c, srv: srv, prefix: opts.Prefix,
		client: &http.Client{
			// Jenkins' answers to actions are redirects; tests look at them.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
}

// reply is a response with its body read.
type reply struct {
	*http.Response
	body string
}

// do sends a request as user (anonymous when ""). path is appended to the
// server URL as is, so it must be escaped already.
func (e *env) do(method, user, path string, header ...string) reply {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	if user != anonymous {
		req.SetBasicAuth(user, user+"-secret")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	resp, err := e.client.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	return reply{resp, string(b)}
}

// getJSON GETs path as user, wants 200 and decodes the body.
func (e *env) getJSON(user, path string) map[string]any {
	e.t.Helper()
	r := e.do(http.MethodGet, user, path)
	if r.StatusCode != http.StatusOK {
		e.t.Fatalf("GET %s: status %d, body %s", path, r.StatusCode, r.body)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(r.body), &m); err != nil {
		e.t.Fatalf("GET %s: %v in %s", path, err, r.body)
	}
	return m
}

// computer reads one node's default-depth document as admin.
func (e *env) computer(name string) map[string]any {
	e.t.Helper()
	return e.getJSON(admin, e.prefix+"/computer/"+url.PathEscape(name)+"/api/json")
}

// post POSTs a node action as user, with query parameters already escaped.
func (e *env) post(user, name, action string) reply {
	e.t.Helper()
	return e.do(http.MethodPost, user, e.prefix+"/computer/"+url.PathEscape(name)+"/"+action)
}

func (e *env) snapshot(name string) NodeSnapshot {
	e.t.Helper()
	s, ok := e.c.Node(name)
	if !ok {
		e.t.Fatalf("node %q missing", name)
	}
	return s
}

// causeClass is offlineCause._class of a computer document, "" for null.
func causeClass(comp map[string]any) string {
	cause, _ := comp["offlineCause"].(map[string]any)
	class, _ := cause["_class"].(string)
	return class
}

func wantStatus(t *testing.T, r reply, want int) {
	t.Helper()
	if r.StatusCode != want {
		t.Fatalf("%s %s: status %d, want %d; body %s", r.Request.Method, r.Request.URL.Path, r.StatusCode, want, r.body)
	}
}

func wantRedirect(t *testing.T, r reply, location string) {
	t.Helper()
	wantStatus(t, r, http.StatusFound)
	if got := r.Header.Get("Location"); got != location {
		t.Fatalf("Location %q, want %q", got, location)
	}
}

func q(message string) string { return "?offlineMessage=" + url.QueryEscape(message) }

func keys(m map[string]any) string {
	return strings.Join(slices.Sorted(maps.Keys(m)), ",")
}
