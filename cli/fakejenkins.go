package cli

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/jenkins/fakejenkins"
)

func runFakeJenkins(ctx context.Context, e Env, args []string) error {
	fs := newFlagSet(e, "fake-jenkins", "fake-jenkins [--listen addr] [--agents N [--groups G]]")
	listen := fs.String("listen", "127.0.0.1:8080", "address to serve the fake controller on (port 0 picks a free one; the log says which)")
	agents := fs.Int("agents", 0, "create N agents agent-0000 … instead of slave01 and slave02; the first 2×G are primary/standby pairs (agent-0000:agent-0001, …), standbys parked")
	groups := fs.Int("groups", -1, "with --agents: number of pairs; default N/4, so that half of the agents are in pairs")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *agents < 0 || (*agents > 0 && *groups > *agents/2) {
		return &usageError{fmt.Errorf("--groups %d needs at least %d agents", *groups, 2**groups)}
	}
	fake := fakejenkins.New(fakejenkins.Options{ControlAPI: true})
	defer fake.Close()
	fake.AddUser("watchdog", "fake-token", fakejenkins.PermRead, fakejenkins.PermDisconnect)
	if err := populate(fake, *agents, *groups); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: fake, ReadHeaderTimeout: 5 * time.Second}
	log := slog.New(slog.NewTextHandler(e.Stderr, nil))
	log.Info("fake Jenkins serving (user watchdog, token fake-token; control API without auth under /-/fake/)", "addr", ln.Addr().String())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
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
			if err := fake.AddAgent(fakejenkins.AgentSpec{Name: n, Launch: fakejenkins.SSH}); err != nil {
				return err
			}
		}
		return fake.OperatorOffline("slave02", "admin", "")
	}
	if groups < 0 {
		groups = agents / 4
	}
	for i := range agents {
		if err := fake.AddAgent(fakejenkins.AgentSpec{Name: fmt.Sprintf("agent-%04d", i), Launch: fakejenkins.SSH}); err != nil {
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
