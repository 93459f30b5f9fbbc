package cli

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/internal/testlab"
)

// Every subcommand answers -h and --help with its usage on stdout, nothing
// on stderr, exit 0, and does nothing else: no configuration is read, no
// daemon is contacted.
func TestHelpOfEverySubcommand(t *testing.T) {
	for _, cmd := range [][]string{
		nil, {"run"}, {"demo"}, {"status"}, {"healthcheck"}, {"maintenance"},
		{"maintenance", "start"}, {"maintenance", "end"}, {"version"}, {"help"},
	} {
		for _, flag := range []string{"-h", "--help", "-help"} {
			args := append(append([]string(nil), cmd...), flag)
			code, out, errOut := run(t, context.Background(), nil, args...)
			if code != ExitOK || errOut != "" || !strings.Contains(out, "usage") && !strings.Contains(out, "Usage") {
				t.Errorf("%v: exit %d, stdout %q, stderr %q; want 0 and the usage on stdout only", args, code, out, errOut)
			}
		}
	}
	// help COMMAND is COMMAND -h.
	_, want, _ := run(t, context.Background(), nil, "demo", "-h")
	if code, out, _ := run(t, context.Background(), nil, "help", "demo"); code != ExitOK || out != want {
		t.Errorf("help demo: exit %d\n%s\nwant\n%s", code, out, want)
	}
}

func TestVersionFlag(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}, {"-version"}} {
		if code, out, errOut := run(t, context.Background(), nil, args...); code != ExitOK || out != "jenkins-failover-watchdog test\n" || errOut != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, out, errOut)
		}
	}
}

// A zero or negative duration or count, an unknown flag or a stray
// argument exits 2 at once, names the flag on stderr and points at -h.
func TestBadFlagsExitTwo(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"demo", "--interval", "0s"}, "--interval 0s: must be positive"},
		{[]string{"demo", "--interval", "-1s"}, "--interval -1s: must be positive"},
		{[]string{"demo", "--interval", "soon"}, `invalid value "soon" for flag -interval`},
		{[]string{"demo", "--linger", "0s"}, "--linger 0s: must be positive"},
		{[]string{"demo", "--linger", "-5m"}, "--linger -5m0s: must be positive"},
		{[]string{"demo", "--nosuch"}, "flag provided but not defined: -nosuch"},
		{[]string{"status", "--timeout", "0s"}, "--timeout 0s: must be positive"},
		{[]string{"healthcheck", "--timeout", "-2s"}, "--timeout -2s: must be positive"},
		{[]string{"status", "extra"}, `unexpected argument "extra"`},
		{[]string{"--nosuch"}, "flag provided but not defined"},
		{[]string{"run", "extra"}, `unexpected argument "extra"`},
		{[]string{"version", "extra"}, `unexpected argument "extra"`},
		{[]string{"help", "frobnicate"}, `unexpected argument "frobnicate"`},
		{[]string{"maintenance"}, "want maintenance start or maintenance end"},
		{[]string{"maintenance", "pause"}, "want maintenance start or maintenance end"},
		{[]string{"maintenance", "start", "--nosuch"}, "flag provided but not defined"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		code, out, errOut := run(t, ctx, nil, tt.args...)
		cancel()
		if code != ExitUsage || out != "" || !strings.Contains(errOut, tt.want) || !strings.Contains(errOut, " -h' for usage") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want %d and %q", tt.args, code, out, errOut, ExitUsage, tt.want)
		}
	}
}

// The daemon's last log line says that it stopped, why, and with which
// exit code.
func TestDaemonLogsWhyItStopped(t *testing.T) {
	// Neither node parked: the daemon only has to run.
	srv := testlab.Start(t, testlab.Options{User: "watchdog", Token: "stop-token", Parked: []string{}}).Server
	addr := freeAddr(t)
	environ := []string{"JENKINS_URL=" + srv.URL, "JENKINS_USER=watchdog", "JENKINS_API_TOKEN=stop-token",
		"WATCHDOG_SCHEDULE=@every 1s", "WATCHDOG_LISTEN_ADDR=" + addr}
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	var stderr lockedBuffer
	done := make(chan int, 1)
	go func() {
		done <- Main(ctx, Env{Environ: environ, Stdout: &lockedBuffer{}, Stderr: &stderr, Version: "test"})
	}()
	waitFor(t, "http://"+addr+"/readyz", http.StatusOK, &http.Client{Timeout: 2 * time.Second})

	cancel(errors.New("terminated signal received")) // what signal.NotifyContext gives on SIGTERM
	select {
	case code := <-done:
		if code != ExitOK {
			t.Fatalf("exit %d; log:\n%s", code, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("daemon did not stop")
	}
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	var last struct {
		Level, Msg, Reason string
		ExitCode           *int `json:"exit_code"`
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); err != nil {
		t.Fatalf("last log line %q: %v", lines[len(lines)-1], err)
	}
	if last.Msg != "stopped" || last.Level != "INFO" || last.Reason != "terminated signal received" || last.ExitCode == nil || *last.ExitCode != ExitOK {
		t.Errorf("last log line %q, want msg stopped, the reason and exit_code 0", lines[len(lines)-1])
	}
	if n := strings.Count(stderr.String(), `"msg":"stopped"`); n != 1 {
		t.Errorf("%d stopped lines, want 1", n)
	}
}

// The demo says where it serves and that the address lives only while the
// story runs, unless --linger keeps it.
func TestDemoSaysHowLongItServes(t *testing.T) {
	code, out, errOut := run(t, context.Background(), nil, "demo", "--listen", "127.0.0.1:0", "--interval", "1ms")
	if code != ExitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"metrics: http://127.0.0.1:", "(served while the demo runs; --linger 10m keeps them up afterwards)",
		"stops answering now that the demo is over (--linger keeps it up)"} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
}
