package jenkins

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/agent"
	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/internal/fakejenkins"
)

func fakeClient(t *testing.T) (*Client, *fakejenkins.Controller) {
	t.Helper()
	fake := fakejenkins.New(fakejenkins.Options{Prefix: "/jenkins"})
	t.Cleanup(fake.Close)
	fake.AddUser("watchdog", token, fakejenkins.PermRead, fakejenkins.PermDisconnect)
	for _, n := range []string{"slave01", "slave02"} {
		if err := fake.AddAgent(fakejenkins.AgentSpec{Name: n}); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	c, err := New(Options{URL: srv.URL + "/jenkins", User: "watchdog", Token: token, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return c, fake
}

func posts(fake *fakejenkins.Controller) int {
	n := 0
	for _, r := range fake.Requests() {
		if r.Method == http.MethodPost {
			n++
		}
	}
	return n
}

func TestIntentsReadGuardChangeAndConfirm(t *testing.T) {
	c, fake := fakeClient(t)
	ctx := context.Background()
	msg := agent.ParkMessage(agent.ParkStandby)

	ch, err := c.Park(ctx, "slave02", msg, nil)
	if err != nil || ch.Outcome != agent.Changed || !ch.After.TemporarilyOffline || ch.After.CauseReason != msg {
		t.Fatalf("park: %+v, %v", ch, err)
	}
	if ch, err := c.Park(ctx, "slave02", msg, nil); err != nil || ch.Outcome != agent.Already {
		t.Fatalf("park again with the same message: %+v, %v; want already, nothing sent", ch, err)
	}
	if got := posts(fake); got != 1 {
		t.Fatalf("%d POSTs, want 1", got)
	}

	no := errors.New("not mine")
	ch, err = c.BringOnline(ctx, "slave02", func(agent.NodeInfo) error { return no })
	if err != nil || ch.Outcome != agent.Declined || !errors.Is(ch.Reason, no) || posts(fake) != 1 {
		t.Fatalf("declined toggle: %+v, %v, %d POSTs", ch, err, posts(fake))
	}
	ch, err = c.BringOnline(ctx, "slave02", func(n agent.NodeInfo) error {
		if n.CauseReason != msg {
			return no
		}
		return nil
	})
	if err != nil || ch.Outcome != agent.Changed || ch.After.Offline {
		t.Fatalf("toggle: %+v, %v", ch, err)
	}
	if ch, err := c.BringOnline(ctx, "slave02", nil); err != nil || ch.Outcome != agent.Already || posts(fake) != 2 {
		t.Fatalf("toggle of an online node: %+v, %v; must not flip it back", ch, err)
	}

	if err := fake.KillAgent("slave01"); err != nil {
		t.Fatal(err)
	}
	if err := fake.ReviveAgent("slave01"); err != nil {
		t.Fatal(err)
	}
	if ch, err := c.Launch(ctx, "slave01", nil); err != nil || ch.Outcome != agent.Changed {
		t.Fatalf("launch: %+v, %v", ch, err)
	}
	if ch, err := c.Launch(ctx, "slave01", nil); err != nil || ch.Outcome != agent.Already {
		t.Fatalf("launch of a connected agent: %+v, %v", ch, err)
	}
}

// A toggle that Jenkins accepts but that does not take (a second client
// toggled it back at the same moment) is an error, not a success.
func TestToggleThatDoesNotTakeIsAnError(t *testing.T) {
	c, _, _ := newClient(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			w.Header().Set("Location", "/jenkins/computer/s/")
			w.WriteHeader(http.StatusFound)
			return
		}
		jsonHandler(`{"displayName":"s","offline":true,"temporarilyOffline":true,"offlineCauseReason":"","offlineCause":null}`)(w, r)
	})
	if _, err := c.BringOnline(context.Background(), "s", nil); !errors.Is(err, ErrNotTaken) || !errors.Is(err, ErrBadResponse) {
		t.Fatalf("err = %v, want ErrNotTaken", err)
	}
}

// A park is confirmed by a read like a toggle is.
func TestParkThatDoesNotTakeIsAnError(t *testing.T) {
	c, _, _ := newClient(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			w.Header().Set("Location", "/jenkins/computer/s/")
			w.WriteHeader(http.StatusFound)
			return
		}
		jsonHandler(`{"displayName":"s","offline":false,"temporarilyOffline":false,"absoluteRemotePath":"/x"}`)(w, r)
	})
	if _, err := c.Park(context.Background(), "s", "m", nil); !errors.Is(err, ErrNotTaken) {
		t.Fatalf("err = %v, want ErrNotTaken", err)
	}
}

// A redirect answering a POST counts as success only when it points back
// into the Jenkins URL: a login page or another host means the action did
// not reach Jenkins.
func TestPostRedirectMustPointIntoJenkins(t *testing.T) {
	var location string
	c, _, srv := newClient(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Location", location)
		w.WriteHeader(http.StatusFound)
	})
	host := strings.TrimPrefix(srv.URL, "http://")
	for _, tt := range []struct {
		location string
		ok       bool
	}{
		{"/jenkins/computer/s/", true},
		{srv.URL + "/jenkins/computer/s/log", true},
		{"computer/s/", true}, // relative to /jenkins/computer/s/toggleOffline
		{"/login?from=%2Fjenkins%2F", false},
		{"/jenkins/login?from=%2Fjenkins%2Fcomputer%2Fs%2F", false},
		{"/jenkins/securityRealm/commenceLogin", false},
		{"/jenkins", true},
		{"/jenkinsfoo/computer/s/", false},
		{"https://" + host + "/jenkins/computer/s/", false},
		{"http://sso.example.com/jenkins/computer/s/", false},
		{"", false},
	} {
		location = tt.location
		err := c.toggleOffline(context.Background(), "s")
		if (err == nil) != tt.ok {
			t.Errorf("redirect to %q: err = %v, want ok=%t", tt.location, err, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrBadResponse) {
			t.Errorf("redirect to %q: err = %v, want ErrBadResponse", tt.location, err)
		}
	}
}

// On a first install the token file appears only once Jenkins runs: until
// then each poll fails as auth, saying what it waits for; then the
// file is read. A rotated token is read again after Jenkins refuses the
// old one, without a restart.
func TestTokenFileIsWaitedForAndReread(t *testing.T) {
	fake := fakejenkins.New(fakejenkins.Options{})
	t.Cleanup(fake.Close)
	fake.AddUser("watchdog", "first-token", fakejenkins.PermRead)
	if err := fake.AddAgent(fakejenkins.AgentSpec{Name: "slave01"}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	file := t.TempDir() + "/token"
	c, err := New(Options{URL: srv.URL, User: "watchdog", TokenFile: file, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	_, err = c.Computers(ctx)
	if !errors.Is(err, ErrUnauthorized) || !strings.Contains(err.Error(), "waiting for JENKINS_API_TOKEN_FILE") {
		t.Fatalf("before the file exists: %v", err)
	}
	if n := len(fake.Requests()); n != 0 {
		t.Fatalf("%d requests sent without a token", n)
	}
	writeFile(t, file, "first-token\n")
	if _, err := c.Computers(ctx); err != nil {
		t.Fatalf("once the file exists: %v", err)
	}
	fake.AddUser("watchdog", "second-token", fakejenkins.PermRead)
	writeFile(t, file, "second-token\n")
	if _, err := c.Computers(ctx); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("old token after rotation: %v, want auth", err)
	}
	if _, err := c.Computers(ctx); err != nil {
		t.Fatalf("after rotation the file is read again: %v", err)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// Default ports may be spelt or not on either side.
func TestRedirectDefaultPorts(t *testing.T) {
	for _, tt := range []struct {
		base, location string
		ok             bool
	}{
		{"https://ci.example.com/jenkins", "https://ci.example.com:443/jenkins/computer/s/", true},
		{"https://ci.example.com:443/jenkins", "https://ci.example.com/jenkins/computer/s/", true},
		{"http://ci.example.com", "http://CI.example.com:80/computer/s/", true},
		{"https://ci.example.com", "https://ci.example.com:8443/computer/s/", false},
		{"https://ci.example.com", "http://ci.example.com/computer/s/", false},
	} {
		c, err := New(Options{URL: tt.base, Timeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest(http.MethodPost, tt.base+"/computer/s/toggleOffline", nil)
		resp := &http.Response{StatusCode: http.StatusFound, Header: http.Header{"Location": {tt.location}}, Request: req}
		if got := c.insideJenkins(resp); got != tt.ok {
			t.Errorf("base %s, redirect to %s: inside = %t, want %t", tt.base, tt.location, got, tt.ok)
		}
	}
}
