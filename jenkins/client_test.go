package jenkins

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

const token = "tok-very-secret"

// recorder is a minimal server for adapter traps; the faithful fake
// controller lives in fakejenkins and is exercised by the watcher tests.
type recorder struct {
	mu   sync.Mutex
	reqs []*http.Request
	h    http.HandlerFunc
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	r.reqs = append(r.reqs, req)
	r.mu.Unlock()
	r.h(w, req)
}

func (r *recorder) requests() []*http.Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*http.Request(nil), r.reqs...)
}

func newClient(t *testing.T, h http.HandlerFunc) (*Client, *recorder, *httptest.Server) {
	t.Helper()
	return newClientTimeout(t, h, 2*time.Second)
}

func newClientTimeout(t *testing.T, h http.HandlerFunc, timeout time.Duration) (*Client, *recorder, *httptest.Server) {
	t.Helper()
	rec := &recorder{h: h}
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	c, err := New(Options{URL: srv.URL + "/jenkins/", User: "watchdog", Token: token, Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	return c, rec, srv
}

const twoNodes = `{"_class":"hudson.model.ComputerSet","computer":[
 {"_class":"hudson.model.Hudson$MasterComputer","displayName":"Built-In Node","offline":false,"temporarilyOffline":false},
 {"_class":"hudson.slaves.SlaveComputer","displayName":"agent 01","offline":false,"temporarilyOffline":false,"absoluteRemotePath":"/home/j","launchSupported":true,"jnlpAgent":false,"idle":true,"offlineCause":null,"offlineCauseReason":""},
 {"_class":"hudson.slaves.SlaveComputer","displayName":"slave02","offline":true,"temporarilyOffline":true,"absoluteRemotePath":null,"launchSupported":false,"jnlpAgent":true,"idle":true,"offlineCause":{"_class":"hudson.slaves.OfflineCause$UserCause"},"offlineCauseReason":"disk &amp; fan"}]}`

func jsonHandler(body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json;charset=utf-8")
		w.Header().Set("X-Jenkins", "2.479.3")
		w.Header().Set("X-Jenkins-Session", "abc")
		_, _ = w.Write([]byte(body))
	}
}

func TestComputersOneFilteredRequest(t *testing.T) {
	c, rec, _ := newClient(t, jsonHandler(twoNodes))
	snap, err := c.Computers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	reqs := rec.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	r := reqs[0]
	if r.URL.Path != "/jenkins/computer/api/json" || r.Method != http.MethodGet {
		t.Errorf("request %s %s", r.Method, r.URL.Path)
	}
	if tree := r.URL.Query().Get("tree"); !strings.HasPrefix(tree, "computer[") || !strings.Contains(tree, "offlineCause[_class,description]") || !strings.Contains(tree, "absoluteRemotePath") {
		t.Errorf("tree = %q", tree)
	}
	if u, p, ok := r.BasicAuth(); !ok || u != "watchdog" || p != token {
		t.Errorf("basic auth = %q, %q, %t", u, p, ok)
	}
	if _, ok := snap.Nodes["Built-In Node"]; ok || len(snap.Nodes) != 2 {
		t.Errorf("nodes = %v; the built-in node must be left out", snap.Nodes)
	}
	a, s := snap.Nodes["agent 01"], snap.Nodes["slave02"]
	if a.Offline || !a.Connected || !a.Launchable || !a.Idle {
		t.Errorf("agent 01 = %+v", a)
	}
	if !s.Offline || !s.TemporarilyOffline || s.Connected || s.Launchable || s.CauseReason != "disk &amp; fan" ||
		s.CauseClass != "hudson.slaves.OfflineCause$UserCause" {
		t.Errorf("slave02 = %+v", s)
	}
	if snap.Version != "2.479.3" || snap.Session != "abc" {
		t.Errorf("version/session = %q/%q", snap.Version, snap.Session)
	}
}

func TestStatusCodesAreErrors(t *testing.T) {
	tests := []struct {
		status int
		header map[string]string
		body   string
		want   error
		text   string
	}{
		{401, map[string]string{"WWW-Authenticate": `Basic realm="Jenkins"`}, "<html>", ErrUnauthorized, "HTTP 401"},
		{403, map[string]string{"X-You-Are-Authenticated-As": "anonymous"}, "<html>", ErrForbidden, "anonymous"},
		{403, map[string]string{"X-Required-Permission": "hudson.model.Hudson.Read"}, "<html>", ErrForbidden, "hudson.model.Hudson.Read"},
		{404, nil, "<html>", ErrNotFound, "HTTP 404"},
		{500, nil, "<html>", ErrUnavailable, "HTTP 500"},
		{503, nil, "<html>Please wait", ErrUnavailable, "HTTP 503"},
		{302, map[string]string{"Location": "/login"}, "", ErrBadResponse, "redirected"},
		{200, map[string]string{"Content-Type": "text/html"}, "<html>", ErrBadResponse, "not JSON"},
		{200, nil, "", ErrBadResponse, `no "computer"`}, // gojenkins swallows the EOF of an empty body
		{200, nil, `{"computer":[{"displayName":"x","offline":true,"temporarilyOffline":`, ErrBadResponse, "decoding"},
		{200, nil, `{"jobs":[]}`, ErrBadResponse, `no "computer"`},
		{200, nil, `{"computer":[{"displayName":"x"}]}`, ErrBadResponse, "without offline"},
		{200, nil, `{"computer":[{"offline":true,"temporarilyOffline":true}]}`, ErrBadResponse, "without displayName"},
		{200, nil, `{"computer":[{"displayName":"x","offline":false,"temporarilyOffline":true}]}`, ErrBadResponse, "not offline"},
		{200, nil, `{"computer":[{"displayName":"x","offline":false,"temporarilyOffline":false},{"displayName":"x","offline":false,"temporarilyOffline":false}]}`, ErrBadResponse, "twice"},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			c, _, _ := newClient(t, func(w http.ResponseWriter, _ *http.Request) {
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				if w.Header().Get("Content-Type") == "" && tt.status == 200 {
					w.Header().Set("Content-Type", "application/json")
				}
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
			})
			_, err := c.Computers(context.Background())
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.text) {
				t.Errorf("err %q does not say %q", err, tt.text)
			}
			if strings.Contains(err.Error(), token) {
				t.Errorf("token in error: %v", err)
			}
		})
	}
}

func TestTimeoutAndRefused(t *testing.T) {
	block := make(chan struct{})
	c, _, srv := newClient(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-block:
		}
	})
	defer close(block)
	c.timeout = 30 * time.Millisecond
	if _, err := c.Computers(context.Background()); !errors.Is(err, ErrTimeout) {
		t.Errorf("slow server: err = %v, want ErrTimeout", err)
	}
	srv.Close()
	if _, err := c.Computers(context.Background()); !errors.Is(err, ErrNetwork) {
		t.Errorf("closed server: err = %v, want ErrNetwork", err)
	}
	// A POST to a dead server must fail cleanly; gojenkins' own Post would
	// dereference a nil response while fetching a crumb.
	if err := c.toggleOffline(context.Background(), "slave02"); !errors.Is(err, ErrNetwork) {
		t.Errorf("POST to closed server: err = %v, want ErrNetwork", err)
	}
}

func TestActionsEscapeNamesAndTreatRedirectAsSuccess(t *testing.T) {
	c, rec, _ := newClient(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			t.Errorf("method %s: the redirect must not be followed", r.Method)
		}
		w.Header().Set("Location", "/jenkins/computer/x/")
		w.WriteHeader(http.StatusFound)
	})
	ctx := context.Background()
	if err := c.toggleOffline(ctx, "agent 01"); err != nil {
		t.Fatal(err)
	}
	if err := c.changeOfflineCause(ctx, "ağent/2?", "[jenkins-failover-watchdog] parked & done"); err != nil {
		t.Fatal(err)
	}
	if err := c.launchSlaveAgent(ctx, "slave02"); err != nil {
		t.Fatal(err)
	}
	reqs := rec.requests()
	if len(reqs) != 3 {
		t.Fatalf("%d requests, want 3 (no redirect followed)", len(reqs))
	}
	wantPaths := []string{"/jenkins/computer/agent%2001/toggleOffline", "/jenkins/computer/a%C4%9Fent%2F2%3F/changeOfflineCause", "/jenkins/computer/slave02/launchSlaveAgent"}
	for i, r := range reqs {
		if got := r.URL.EscapedPath(); got != wantPaths[i] {
			t.Errorf("request %d path %s, want %s", i, got, wantPaths[i])
		}
	}
	if msg := reqs[1].URL.Query().Get("offlineMessage"); msg != "[jenkins-failover-watchdog] parked & done" {
		t.Errorf("offlineMessage = %q", msg)
	}
	if q := reqs[0].URL.RawQuery; q != "" {
		t.Errorf("toggleOffline sent a query %q", q)
	}
}

func TestActionErrors(t *testing.T) {
	c, _, _ := newClient(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/toggleOffline"):
			w.Header().Set("X-Required-Permission", "hudson.model.Computer.Connect")
			w.WriteHeader(http.StatusForbidden)
		case strings.HasSuffix(r.URL.Path, "/launchSlaveAgent"):
			w.WriteHeader(http.StatusNotFound)
		default:
			w.WriteHeader(http.StatusMethodNotAllowed)
		}
	})
	err := c.toggleOffline(context.Background(), "s")
	var je *Error
	if !errors.As(err, &je) || je.Kind != KindForbidden || je.Permission != "hudson.model.Computer.Connect" {
		t.Errorf("403: %v", err)
	}
	if err := c.launchSlaveAgent(context.Background(), "s"); !errors.Is(err, ErrNotFound) {
		t.Errorf("404: %v", err)
	}
	if err := c.changeOfflineCause(context.Background(), "s", "m"); err == nil {
		t.Error("405 accepted as success")
	}
}

func TestCrumbFetchedOnlyWhenRejected(t *testing.T) {
	var posts, crumbs int
	c, _, _ := newClient(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/jenkins/crumbIssuer/api/json":
			crumbs++
			http.SetCookie(w, &http.Cookie{Name: "JSESSIONID.x", Value: "sess1", Path: "/"})
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"crumb":"c0ffee","crumbRequestField":"Jenkins-Crumb"}`))
		case r.Method == http.MethodPost:
			posts++
			ck, err := r.Cookie("JSESSIONID.x")
			if r.Header.Get("Jenkins-Crumb") != "c0ffee" || err != nil || ck.Value != "sess1" {
				w.WriteHeader(http.StatusForbidden)
				_, _ = w.Write([]byte("<html>No valid crumb was included in the request</html>"))
				return
			}
			w.Header().Set("Location", "/jenkins/computer/s/")
			w.WriteHeader(http.StatusFound)
		}
	})
	ctx := context.Background()
	if err := c.toggleOffline(ctx, "s"); err != nil {
		t.Fatal(err)
	}
	if err := c.changeOfflineCause(ctx, "s", "m"); err != nil {
		t.Fatal(err)
	}
	if crumbs != 1 || posts != 3 {
		t.Errorf("crumbs=%d posts=%d; want one crumb fetch and one retried POST", crumbs, posts)
	}
}

func TestComputerChecksName(t *testing.T) {
	c, rec, _ := newClient(t, jsonHandler(`{"displayName":"other","offline":false,"temporarilyOffline":false}`))
	if _, err := c.Computer(context.Background(), "agent 01"); !errors.Is(err, ErrBadResponse) {
		t.Errorf("err = %v, want bad response for a different node", err)
	}
	if p := rec.requests()[0].URL.EscapedPath(); p != "/jenkins/computer/agent%2001/api/json" {
		t.Errorf("path %s", p)
	}
}

func TestBodyIsBounded(t *testing.T) {
	// A generous timeout: 16 MiB under -race on a loaded machine takes a
	// while, and this test is about the cap, not the clock.
	c, _, _ := newClientTimeout(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		chunk := []byte(strings.Repeat(" ", 1<<20))
		for range maxBody>>20 + 2 {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}, time.Minute)
	if _, err := c.Computers(context.Background()); !errors.Is(err, ErrBadResponse) {
		t.Errorf("err = %v, want bad response for an oversized body", err)
	}
}

func TestCAFileMustHoldCertificates(t *testing.T) {
	if _, err := New(Options{URL: "https://x", CAPEM: []byte("not pem")}); err == nil {
		t.Error("accepted a CA file without certificates")
	}
}

// TestDeadlineMidBodyIsATimeout: a server that sends its headers at once,
// then drips the body slower than JENKINS_TIMEOUT allows, is a timeout
// every time, whether the deadline finds the body being read by the
// decoder, the transport or gojenkins. Run it with -count=20: the kind
// used to come out timeout or network by which of two timers fired first.
func TestDeadlineMidBodyIsATimeout(t *testing.T) {
	drip := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Location", "/jenkins/computer/s/")
		if r.Method == http.MethodPost {
			w.WriteHeader(http.StatusForbidden) // a body gojenkins reads whole
		}
		_, _ = w.Write([]byte(`{"computer":[`))
		w.(http.Flusher).Flush()
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-r.Context().Done():
				return
			case <-tick.C:
				if _, err := w.Write([]byte(" ")); err != nil {
					return
				}
				w.(http.Flusher).Flush()
			}
		}
	}
	srv := httptest.NewServer(http.HandlerFunc(drip))
	t.Cleanup(srv.Close)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(tr.CloseIdleConnections)
	for name, rt := range map[string]http.RoundTripper{
		"go transport": nil,
		// One that reports the connection it cut at the deadline as a
		// truncated body, not as the deadline, as a proxy or another
		// transport may.
		"cut body": cutAtDeadline{tr},
	} {
		c, err := New(Options{URL: srv.URL + "/jenkins/", User: "watchdog", Token: token, Timeout: 40 * time.Millisecond, Transport: rt})
		if err != nil {
			t.Fatal(err)
		}
		for _, read := range []ReadStrategy{ReadList, ReadEach} {
			c.plan.strategy = read
			c.plan.nodes = []string{"s"}
			_, err := c.Computers(context.Background())
			if je := (*Error)(nil); !errors.As(err, &je) || je.Kind != KindTimeout || !errors.Is(err, ErrTimeout) {
				t.Errorf("%s, read %d: err = %v, want kind timeout", name, read, err)
			}
		}
		err = c.changeOfflineCause(context.Background(), "s", "m")
		if je := (*Error)(nil); !errors.As(err, &je) || je.Kind != KindTimeout {
			t.Errorf("%s, POST: err = %v, want kind timeout", name, err)
		}
	}
}

type cutAtDeadline struct{ rt http.RoundTripper }

func (c cutAtDeadline) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := c.rt.RoundTrip(r)
	if err == nil {
		resp.Body = cutBody{resp.Body, r.Context()}
	}
	return resp, err
}

type cutBody struct {
	io.ReadCloser
	ctx context.Context
}

func (b cutBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && b.ctx.Err() != nil {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}
