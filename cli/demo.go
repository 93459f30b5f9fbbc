package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/demo"
	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/server"
	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/watcher"
)

func runDemo(ctx context.Context, e Env, args []string) error {
	fs := newFlagSet(e, "demo", "demo [--listen addr] [--interval d] [--linger d]")
	listen := fs.String("listen", "127.0.0.1:9723", "serve the status page, /metrics and /status here while the demo runs (\"\" to not serve; a taken port falls back to a free one)")
	interval := fs.Duration("interval", 500*time.Millisecond, "time between polls")
	linger := fs.Duration("linger", 0, "keep serving them this long after the story ends (default: stop with the story)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	reg := NewRegistry(e.Version)
	var srv *server.Server
	defer func() {
		if srv != nil {
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			_ = srv.Shutdown(sctx)
		}
	}()
	fmt.Fprintln(e.Stdout, "jenkins-failover-watchdog demo: a failover and a failback against a built-in fake Jenkins")
	err := demo.Run(ctx, demo.Options{
		Out: e.Stdout, Interval: *interval, Registry: reg,
		OnStart: func(w *watcher.Watcher) {
			if *listen == "" {
				return
			}
			opts := server.Options{Addr: *listen, Gatherer: reg, Watcher: w}
			s, err := server.Listen(opts)
			if err != nil {
				// The default port may be taken by a real daemon: any port will do.
				opts.Addr = "127.0.0.1:0"
				if s, err = server.Listen(opts); err != nil {
					fmt.Fprintf(e.Stderr, "not serving metrics: %v\n", err)
					return
				}
			}
			srv = s
			go func() { _ = s.Serve() }()
			lives := "while the demo runs; --linger 10m keeps them up afterwards"
			if *linger > 0 {
				lives = fmt.Sprintf("while the demo runs and %s after", *linger)
			}
			fmt.Fprintf(e.Stdout, "status page: http://%s/   metrics: http://%s/metrics   status: http://%s/status   (served %s)\n", s.Addr(), s.Addr(), s.Addr(), lives)
		},
	})
	if err != nil {
		return fmt.Errorf("the watchdog misbehaved: %w", err)
	}
	if srv == nil {
		return nil
	}
	if *linger == 0 {
		fmt.Fprintf(e.Stdout, "http://%s stops answering now that the demo is over (--linger keeps it up)\n", srv.Addr())
		return nil
	}
	fmt.Fprintf(e.Stdout, "serving http://%s for another %s (Ctrl-C to stop)\n", srv.Addr(), *linger)
	t := time.NewTimer(*linger)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
	return nil
}
