// Command fake-jenkins serves the project's fake Jenkins controller for
// trials and scripts: slave01 online and slave02 parked (or N agents), a
// user "watchdog" with token "fake-token", and an unauthenticated control
// API under /-/fake/ that plays the outside world. A development tool:
// never expose it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/internal/fakejenkins"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("fake-jenkins", flag.ContinueOnError)
	// The flag package would print a mistake and the usage to one writer;
	// -h prints the usage to stdout, a mistake goes to stderr, once.
	fs.SetOutput(io.Discard)
	listen := fs.String("listen", "127.0.0.1:8080", "address to serve the fake controller on (port 0 picks a free one; the log says which)")
	agents := fs.Int("agents", 0, "create N agents agent-0000 … instead of slave01 and slave02; the first 2×G are primary/standby pairs (agent-0000:agent-0001, …), standbys parked")
	groups := fs.Int("groups", -1, "with --agents: number of pairs; default N/4, so that half of the agents are in pairs")
	relaunch := fs.Duration("relaunch-every", 5*time.Second, "how often the fake plays Jenkins' Always retention strategy, launching every disconnected SSH agent (0 turns it off)")
	version := fs.String("jenkins-version", fakejenkins.DefaultVersion, "version the fake reports in X-Jenkins; 2.482 to 2.555.2 unpark agents configured as code on restart and reload, as those Jenkins releases do")
	fs.Usage = func() {}
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		fs.SetOutput(stdout)
		fmt.Fprintf(stdout, "usage: fake-jenkins [--listen addr] [--agents N [--groups G]] [--jenkins-version V] [--relaunch-every D]\n\n")
		fs.PrintDefaults()
		fmt.Fprintf(stdout, "\n%s", fakejenkins.ControlAPIHelp)
		return 0
	}
	if err == nil {
		err = checkFlags(fs, *agents, *groups, *relaunch)
	}
	if err != nil {
		fmt.Fprintf(stderr, "fake-jenkins: %v\nrun 'go run ./cmd/fake-jenkins -h' for usage\n", err)
		return 2
	}
	if err := serve(ctx, *listen, *agents, *groups, *version, *relaunch, stderr); err != nil {
		fmt.Fprintf(stderr, "fake-jenkins: %v\n", err)
		return 1
	}
	return 0
}

// checkFlags refuses counts that are zero or negative when given, as the
// watchdog's commands do; --relaunch-every 0 is the documented way to turn
// the relaunching off.
func checkFlags(fs *flag.FlagSet, agents, groups int, relaunch time.Duration) error {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	switch {
	case fs.NArg() > 0:
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case set["agents"] && agents <= 0:
		return fmt.Errorf("--agents %d: must be positive (leave it out for slave01 and slave02)", agents)
	case set["groups"] && !set["agents"]:
		return fmt.Errorf("--groups needs --agents")
	case set["groups"] && (groups <= 0 || groups > agents/2):
		return fmt.Errorf("--groups %d: want 1 to half of --agents (%d)", groups, agents/2)
	case relaunch < 0:
		return fmt.Errorf("--relaunch-every %s: must not be negative (0 turns it off)", relaunch)
	}
	return nil
}

func serve(ctx context.Context, listen string, agents, groups int, version string, relaunch time.Duration, stderr io.Writer) error {
	fake := fakejenkins.New(fakejenkins.Options{ControlAPI: true, Version: version, RetentionAlways: true})
	defer fake.Close()
	fake.AddUser("watchdog", "fake-token", fakejenkins.PermRead, fakejenkins.PermDisconnect)
	if err := populate(fake, agents, groups); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: fake, ReadHeaderTimeout: 5 * time.Second}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	log.Info("fake Jenkins serving (user watchdog, token fake-token; control API without auth under /-/fake/)", "addr", ln.Addr().String())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	if relaunch > 0 {
		go func() {
			t := time.NewTicker(relaunch)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					fake.RelaunchAll()
				}
			}
		}()
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}

// populate adds the agents: slave01 online and slave02 parked when agents
// is 0; else agents agent-NNNN, the first 2×groups in pairs whose standby
// is parked (temporarily offline with no message, as an administrator
// leaves it), the rest online and unmanaged. scripts/bench.sh builds its
// WATCHDOG_PAIRS from the same names.
func populate(fake *fakejenkins.Controller, agents, groups int) error {
	if agents == 0 {
		for _, n := range []string{"slave01", "slave02"} {
			if err := fake.AddAgent(fakejenkins.AgentSpec{Name: n, Launch: fakejenkins.SSH, CasC: true}); err != nil {
				return err
			}
		}
		return fake.OperatorOffline("slave02", "admin", "")
	}
	if groups < 0 {
		groups = agents / 4
	}
	for i := range agents {
		if err := fake.AddAgent(fakejenkins.AgentSpec{Name: fmt.Sprintf("agent-%04d", i), Launch: fakejenkins.SSH, CasC: true}); err != nil {
			return err
		}
	}
	for g := range groups {
		if err := fake.OperatorOffline(fmt.Sprintf("agent-%04d", 2*g+1), "admin", ""); err != nil {
			return err
		}
	}
	return nil
}
