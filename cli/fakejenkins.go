package cli

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/jenkins/fakejenkins"
)

func runFakeJenkins(ctx context.Context, e Env, args []string) error {
	fs := newFlagSet(e, "fake-jenkins", "fake-jenkins [--listen addr]")
	listen := fs.String("listen", "127.0.0.1:8080", "address to serve the fake controller on")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	fake := fakejenkins.New(fakejenkins.Options{ControlAPI: true})
	defer fake.Close()
	fake.AddUser("watchdog", "fake-token", fakejenkins.PermRead, fakejenkins.PermDisconnect)
	for _, n := range []string{"slave01", "slave02"} {
		if err := fake.AddAgent(fakejenkins.AgentSpec{Name: n, Launch: fakejenkins.SSH}); err != nil {
			return err
		}
	}
	if err := fake.OperatorOffline("slave02", "admin", ""); err != nil {
		return err
	}
	srv := &http.Server{Addr: *listen, Handler: fake, ReadHeaderTimeout: 5 * time.Second}
	log := slog.New(slog.NewTextHandler(e.Stderr, nil))
	log.Info("fake Jenkins serving (user watchdog, token fake-token; control API without auth under /-/fake/)", "addr", *listen)
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}
