package cli

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/server"
	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/watcher"
)

// fakeDaemon answers /status with st and /livez with 200, as a daemon
// whose loop turns whatever Jenkins does.
func fakeDaemon(t *testing.T, st watcher.Status) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, _ *http.Request) { _ = json.NewEncoder(w).Encode(st) })
	mux.HandleFunc("GET /livez", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// status exits with a code a script can branch on for each finding, with
// and without --json, and says what it found on stderr; healthcheck is
// liveness only and exits 0 whatever Jenkins does.
func TestStatusExitCodes(t *testing.T) {
	now := time.Now()
	normal := []watcher.GroupStatus{{Name: "slave01", State: watcher.PhaseNormal}, {Name: "slave03", State: watcher.PhaseFailedOver}}
	for _, tt := range []struct {
		name   string
		st     watcher.Status
		code   int
		stderr string
	}{
		{"healthy", watcher.Status{Controller: watcher.ControllerStatus{Up: true, LastSuccess: &now}, Groups: normal}, ExitOK, ""},
		{"not polled yet", watcher.Status{}, ExitJenkinsUnreachable, "has not read Jenkins yet"},
		{"jenkins unreachable", watcher.Status{Controller: watcher.ControllerStatus{LastError: "dial tcp: connection refused",
			LastErrorKind: "network"}, Groups: normal}, ExitJenkinsUnreachable, "cannot read Jenkins: dial tcp"},
		{"token refused", watcher.Status{Controller: watcher.ControllerStatus{LastError: "401 Unauthorized",
			LastErrorKind: "auth"}}, ExitJenkinsRefused, "refused the watchdog's credentials (auth)"},
		{"permission refused", watcher.Status{Controller: watcher.ControllerStatus{LastError: "403 Forbidden",
			LastErrorKind: "forbidden"}}, ExitJenkinsRefused, "(forbidden)"},
		{"group down", watcher.Status{Controller: watcher.ControllerStatus{Up: true},
			Groups: append(normal, watcher.GroupStatus{Name: "slave05", State: watcher.PhaseDown})}, ExitGroupDown, "groups down (no node can carry them): slave05"},
		// A Jenkins problem comes first: the group states are stale then.
		{"down and unreachable", watcher.Status{Controller: watcher.ControllerStatus{LastError: "timeout", LastErrorKind: "timeout"},
			Groups: []watcher.GroupStatus{{Name: "slave05", State: watcher.PhaseDown}}}, ExitJenkinsUnreachable, "cannot read Jenkins"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			addr := fakeDaemon(t, tt.st)
			for _, args := range [][]string{{"status", "--addr", addr}, {"status", "--json", "--addr", addr}} {
				code, out, errOut := run(t, context.Background(), nil, args...)
				if code != tt.code || !strings.Contains(errOut, tt.stderr) || tt.stderr == "" && errOut != "" {
					t.Errorf("%v: exit %d, stderr %q; want %d and %q", args, code, errOut, tt.code, tt.stderr)
				}
				if out == "" {
					t.Errorf("%v: printed nothing; the state is printed whatever the finding", args)
				}
			}
			if code, _, errOut := run(t, context.Background(), nil, "healthcheck", "--addr", addr); code != ExitOK {
				t.Errorf("healthcheck: exit %d (%s); want 0, liveness does not depend on Jenkins", code, errOut)
			}
		})
	}
}

// A daemon that answers but not with a status is a broken daemon, not a
// finding about Jenkins.
func TestStatusOfSomethingElseIsDaemonUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/status" {
			_, _ = w.Write([]byte("<html>"))
			return
		}
		http.NotFound(w, r)
	}))
	defer srv.Close()
	addr := srv.Listener.Addr().String()
	if code, _, errOut := run(t, context.Background(), nil, "status", "--addr", addr); code != ExitDaemonUnreachable {
		t.Errorf("not a status: exit %d (%s)", code, errOut)
	}
	if code, _, errOut := run(t, context.Background(), nil, "healthcheck", "--addr", addr); code != ExitDaemonUnreachable {
		t.Errorf("healthcheck, /livez 404: exit %d (%s)", code, errOut)
	}
}

// A listen address another process holds is a configuration mistake:
// exit 2, naming the variable and the address, before any poll.
func TestBusyListenAddressExitsTwoNamingTheVariable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	addr := ln.Addr().String()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	code, _, errOut := run(t, ctx, []string{"JENKINS_URL=http://127.0.0.1:1", "WATCHDOG_LISTEN_ADDR=" + addr})
	if code != ExitUsage || !strings.Contains(errOut, "WATCHDOG_LISTEN_ADDR "+strconv.Quote(addr)) {
		t.Errorf("exit %d, stderr %q; want %d naming WATCHDOG_LISTEN_ADDR and %s", code, errOut, ExitUsage, addr)
	}
	if ctx.Err() != nil {
		t.Error("a busy address did not stop the daemon at once")
	}
}

// A busy health address is the same mistake, named by its own variable;
// the main listener, bound first, is let go.
func TestBusyHealthAddressExitsTwoNamingTheVariable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	addr := ln.Addr().String()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	code, _, errOut := run(t, ctx, []string{"JENKINS_URL=http://127.0.0.1:1", "WATCHDOG_LISTEN_ADDR=127.0.0.1:0", "WATCHDOG_HEALTH_ADDR=" + addr})
	if code != ExitUsage || !strings.Contains(errOut, "WATCHDOG_HEALTH_ADDR "+strconv.Quote(addr)) || strings.Contains(errOut, "WATCHDOG_LISTEN_ADDR \"") {
		t.Errorf("exit %d, stderr %q; want %d naming WATCHDOG_HEALTH_ADDR and %s", code, errOut, ExitUsage, addr)
	}
	if ctx.Err() != nil {
		t.Error("a busy address did not stop the daemon at once")
	}
}

// -h lists every endpoint the server serves, the status page included,
// and every exit code.
func TestHelpListsEveryEndpointAndExitCode(t *testing.T) {
	_, out, _ := run(t, context.Background(), nil, "-h")
	for _, ep := range server.Endpoints {
		if !strings.Contains(out, "\n  "+ep.Path+" ") {
			t.Errorf("-h does not list %s:\n%s", ep.Path, out)
		}
	}
	for _, c := range ExitCodes {
		if !strings.Contains(out, "\n  "+strconv.Itoa(c.Code)+"  ") {
			t.Errorf("-h does not list exit code %d", c.Code)
		}
	}
	if len(ExitCodes) != ExitGroupDown+1 {
		t.Errorf("ExitCodes lists %d codes; every code from 0 to %d needs a line", len(ExitCodes), ExitGroupDown)
	}
}
