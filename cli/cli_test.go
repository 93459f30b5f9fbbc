package cli

import (
	"context"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/agent"
	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/config"
	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/internal/fakejenkins"
	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/internal/testlab"
)

type lockedBuffer = testlab.SyncBuffer

func run(t *testing.T, ctx context.Context, environ []string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut lockedBuffer
	code := Main(ctx, Env{Args: args, Environ: environ, Stdout: &out, Stderr: &errOut, Version: "test"})
	return code, out.String(), errOut.String()
}

func TestHelpPrintsEveryVariable(t *testing.T) {
	code, out, _ := run(t, context.Background(), nil, "-h")
	if code != ExitOK {
		t.Fatalf("-h exit %d", code)
	}
	for _, v := range config.Variables() {
		if !strings.Contains(out, v.Name) {
			t.Errorf("-h does not list %s", v.Name)
		}
	}
}

func TestBadConfigExitsAtOnceNamingTheVariable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	code, _, errOut := run(t, ctx, []string{"JENKINS_URL=http://127.0.0.1:1", "WATCHDOG_PAIRS=slave01"})
	if code != ExitUsage {
		t.Fatalf("exit %d, want %d", code, ExitUsage)
	}
	if !strings.Contains(errOut, `WATCHDOG_PAIRS: "slave01": a group needs a primary and at least one standby`) {
		t.Errorf("stderr = %q", errOut)
	}
	if ctx.Err() != nil {
		t.Error("bad config did not exit at once")
	}
}

func TestUnknownCommand(t *testing.T) {
	if code, _, _ := run(t, context.Background(), nil, "frobnicate"); code != ExitUsage {
		t.Errorf("exit %d", code)
	}
}

func TestVersion(t *testing.T) {
	if code, out, _ := run(t, context.Background(), nil, "version"); code != 0 || !strings.Contains(out, "test") {
		t.Errorf("version: %d %q", code, out)
	}
}

func TestStatusWithoutDaemonIsAClearError(t *testing.T) {
	addr := freeAddr(t)
	code, _, errOut := run(t, context.Background(), nil, "status", "--addr", addr)
	if code != ExitDaemonUnreachable || !strings.Contains(errOut, "no watchdog answering at http://"+addr) {
		t.Errorf("exit %d stderr %q, want %d", code, errOut, ExitDaemonUnreachable)
	}
	code, _, _ = run(t, context.Background(), []string{"WATCHDOG_LISTEN_ADDR=" + addr}, "healthcheck")
	if code != ExitDaemonUnreachable {
		t.Errorf("healthcheck without daemon: exit %d, want %d", code, ExitDaemonUnreachable)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

// waitFor polls an HTTP endpoint of a daemon started in the same test
// until it answers want, within a bounded time.
func waitFor(t *testing.T, url string, want int, client *http.Client) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		resp, err := client.Get(url)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode == want {
				return string(b)
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s never answered %d (last: %s)", url, want, last)
	return ""
}

// TestDaemonEndToEnd runs the real daemon (TLS to Jenkins, token from a
// file, auth on /metrics) against the fake controller and stops it the way
// SIGTERM does.
func TestDaemonEndToEnd(t *testing.T) {
	lab := testlab.Start(t, testlab.Options{Fake: fakejenkins.Options{Prefix: "/jenkins"}, User: "watchdog", Token: "tls-token-123", TLS: true})
	fake, srv := lab.Fake, lab.Server
	if err := fake.KillAgent("slave01"); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	tokenFile := filepath.Join(dir, "token")
	webConfig := filepath.Join(dir, "web.yml")
	pwFile := filepath.Join(dir, "scrape-password")
	writeFile(t, ca, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})))
	writeFile(t, tokenFile, "tls-token-123\n")
	hash, err := bcrypt.GenerateFromPassword([]byte("scrape-pass"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, webConfig, "basic_auth_users:\n  prom: "+string(hash)+"\n")
	writeFile(t, pwFile, "scrape-pass\n")
	addr := freeAddr(t)
	environ := []string{
		"JENKINS_URL=" + srv.URL + "/jenkins", "JENKINS_USER=watchdog", "JENKINS_API_TOKEN_FILE=" + tokenFile,
		"JENKINS_CA_FILE=" + ca, "WATCHDOG_SCHEDULE=@every 1s", "WATCHDOG_FAILOVER_AFTER=1",
		"WATCHDOG_LISTEN_ADDR=" + addr, "WATCHDOG_WEB_CONFIG_FILE=" + webConfig, "LOG_LEVEL=debug",
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var stderr lockedBuffer
	go func() {
		done <- Main(ctx, Env{Environ: environ, Stdout: io.Discard, Stderr: &stderr, Version: "test"})
	}()
	client := &http.Client{Timeout: 2 * time.Second}
	authed := &http.Client{Timeout: 2 * time.Second, Transport: basicAuthTransport{"prom", "scrape-pass"}}
	base := "http://" + addr
	waitFor(t, base+"/readyz", 200, authed)
	waitFor(t, base+"/livez", 200, authed)
	// basic_auth_users applies to every path, health endpoints included.
	waitFor(t, base+"/livez", 401, client)
	waitFor(t, base+"/metrics", 401, client)
	waitFor(t, base+"/", 200, authed)

	// The first poll sees slave01 down; FAILOVER_AFTER=1 acts at once.
	scrape := func() string {
		req, _ := http.NewRequest(http.MethodGet, base+"/metrics", nil)
		req.SetBasicAuth("prom", "scrape-pass")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return string(body)
	}
	const toggled = `jenkins_failover_actions_total{action="online",node="slave02",result="ok"} 1`
	body := scrape()
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(body, toggled); body = scrape() {
		if time.Now().After(deadline) {
			t.Fatalf("no failover; log:\n%s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n, _ := fake.Node("slave02"); n.Offline {
		t.Errorf("slave02 still offline after the toggle was counted: %+v", n)
	}
	for _, want := range []string{`jenkins_failover_jenkins_up 1`, "go_goroutines", "process_resident_memory_bytes", `jenkins_failover_build_info{branch=`, `version="test"} 1`} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	code, out, errOut := run(t, context.Background(), []string{"WATCHDOG_LISTEN_ADDR=" + addr}, "status", "--user", "prom", "--password-file", pwFile)
	if code != 0 || !strings.Contains(out, "slave01") || !strings.Contains(out, "NODE") {
		t.Errorf("status: exit %d out %q err %q", code, out, errOut)
	}
	if code, _, errOut := run(t, context.Background(), []string{"WATCHDOG_LISTEN_ADDR=" + addr}, "healthcheck", "--user", "prom", "--password-file", pwFile); code != 0 {
		t.Errorf("healthcheck with credentials: exit %d: %s", code, errOut)
	}
	if code, _, _ := run(t, context.Background(), []string{"WATCHDOG_LISTEN_ADDR=" + addr}, "healthcheck"); code != ExitDaemonUnreachable {
		t.Errorf("healthcheck without credentials under basic auth: exit %d, want %d", code, ExitDaemonUnreachable)
	}

	cancel() // what SIGTERM does
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("daemon exit %d after shutdown; log:\n%s", code, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("daemon did not stop")
	}
	if strings.Contains(stderr.String(), "tls-token-123") || strings.Contains(stderr.String(), "scrape-pass") {
		t.Error("a secret appears in the log")
	}
	if _, err := client.Get(base + "/livez"); err == nil {
		t.Error("HTTP server still serving after shutdown")
	}
}

// basicAuthTransport sends credentials with every request, as a scraper
// configured with basic_auth does.
type basicAuthTransport struct{ user, pass string }

func (a basicAuthTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.SetBasicAuth(a.user, a.pass)
	return http.DefaultTransport.RoundTrip(r)
}

func writeFile(t *testing.T, name, content string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestDemoSucceeds(t *testing.T) {
	code, out, errOut := run(t, context.Background(), nil, "demo", "--listen", "", "--interval", "1ms")
	if code != 0 {
		t.Fatalf("demo exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"failed_over", "failback", "story complete"} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
}

func TestMaintenanceUsageErrors(t *testing.T) {
	// What was typed is checked before the environment: with no group and
	// no JENKINS_URL, the missing group is what is reported.
	for _, args := range [][]string{{"maintenance", "start"}, {"maintenance", "end"}, {"maintenance", "start", "--all", "slave01"}} {
		code, _, errOut := run(t, context.Background(), nil, args...)
		if code != ExitUsage || strings.Contains(errOut, "JENKINS_URL") || !strings.Contains(errOut, "--all") {
			t.Errorf("%v without JENKINS_URL: exit %d, stderr %q; want %d about the groups, not JENKINS_URL", args, code, errOut, ExitUsage)
		}
	}
	env := []string{"JENKINS_URL=http://127.0.0.1:1"}
	for _, args := range [][]string{{"maintenance"}, {"maintenance", "pause"}, {"maintenance", "start"},
		{"maintenance", "start", "nosuchgroup"}, {"maintenance", "end", "--all", "slave01"},
		// --force only for groups named one by one, and only to end.
		{"maintenance", "end", "--force", "--all"}, {"maintenance", "start", "--force", "slave01"}} {
		if code, _, errOut := run(t, context.Background(), env, args...); code != ExitUsage {
			t.Errorf("%v: exit %d (%s), want %d", args, code, errOut, ExitUsage)
		}
	}
	// A reachable group on an unreachable Jenkins: that group fails, exit 1.
	code, out, _ := run(t, context.Background(), env, "maintenance", "start", "slave01")
	if code != ExitFailed || !strings.Contains(out, "FAILED") {
		t.Errorf("unreachable Jenkins: exit %d, out %q", code, out)
	}
}

// The decision's knobs from the configuration: the start-up patience in
// polls of the schedule, rounded up; the failback window only when set.
func TestParamsFromConfig(t *testing.T) {
	for _, tt := range []struct {
		env      []string
		patience int
		window   bool
	}{
		{nil, 18, false}, // 3m at @every 10s
		{[]string{"WATCHDOG_SCHEDULE=@every 7s", "WATCHDOG_STARTUP_PATIENCE=1m"}, 9, false},
		{[]string{"WATCHDOG_STARTUP_PATIENCE=0s"}, 0, false},
		{[]string{"WATCHDOG_FAILBACK_WINDOW=mon-fri 08:00-17:00"}, 18, true},
	} {
		cfg, err := config.Load(append([]string{"JENKINS_URL=http://jenkins:8080"}, tt.env...), nil)
		if err != nil {
			t.Fatal(err)
		}
		p := Params(cfg, "host-1")
		if p.StartupPatience != tt.patience || (p.FailbackWindow != nil) != tt.window || p.Instance != "host-1" ||
			p.FailoverAfter != cfg.FailoverAfter || p.StandbyWait != cfg.StandbyWait {
			t.Errorf("%v: %+v", tt.env, p)
		}
	}
}

// Two processes never share an instance name, and the name survives the
// escaping of Jenkins' offline messages.
func TestInstanceID(t *testing.T) {
	id := InstanceID()
	if id != agent.SanitizeInstance(id) || !strings.Contains(id, fmt.Sprintf("-%d-", os.Getpid())) {
		t.Errorf("instance ID %q", id)
	}
	if again := InstanceID(); again == id {
		t.Errorf("two processes on one host with one PID would share the name %q", id)
	}
}
