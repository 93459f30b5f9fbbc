package cli

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"

	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/agent"
	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/config"
	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/jenkins"
	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/server"
	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/watcher"
)

const shutdownGrace = 10 * time.Second

func runDaemon(ctx context.Context, e Env, args []string) error {
	fs := newFlagSet(e, "run", "[run]")
	fs.SetOutput(e.Stdout)
	fs.Usage = func() { printUsage(e.Stdout) }
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := config.Load(e.Environ, e.ReadFile)
	if err != nil {
		return &usageError{fmt.Errorf("configuration error:\n%w", err)}
	}
	log := newLogger(e.Stderr, cfg.LogLevel, cfg.LogFormat)

	client, err := newJenkinsClient(cfg)
	if err != nil {
		return err
	}
	reg := NewRegistry(e.Version)
	metrics := watcher.NewMetrics(reg, cfg.Groups, jenkinsErrorKinds())
	// The per-node and per-group families are written as text from the
	// watcher's state; the registry serves them only for other formats.
	reg.Unregister(metrics.StateCollector())
	stateReg := prometheus.NewRegistry()
	stateReg.MustRegister(metrics.StateCollector())
	pollTimeout := PollTimeout(cfg)
	instance := InstanceID()
	w := watcher.New(watcher.Options{
		Jenkins: client, Groups: cfg.Groups, DryRun: cfg.DryRun, Logger: log, Metrics: metrics,
		JenkinsURL: cfg.JenkinsURL.String(), StallAfter: 3*cfg.Interval + pollTimeout,
		Params: Params(cfg, instance),
	})
	srv, err := server.Listen(server.Options{Addr: cfg.ListenAddr, HealthAddr: cfg.HealthAddr, WebConfigFile: cfg.WebConfigFile,
		Gatherer: prometheus.Gatherers{reg, stateReg}, Text: &server.TextMetrics{Rest: reg, Write: metrics.WriteText},
		Watcher: w, Logger: log})
	if err != nil {
		// Only the listen itself fails here: a busy port or an address
		// this host does not have is a configuration mistake.
		name, addr := "WATCHDOG_LISTEN_ADDR", cfg.ListenAddr
		if le := (*server.ListenError)(nil); errors.As(err, &le) && le.Health {
			name, addr = "WATCHDOG_HEALTH_ADDR", cfg.HealthAddr
		}
		return &usageError{fmt.Errorf("%s %q: %w (another process may hold it: stop it or choose another address)", name, addr, err)}
	}
	if web, err := server.ReadWebSettings(cfg.WebConfigFile); err == nil && web.BasicAuth {
		if cfg.HealthAddr == "" {
			log.Info("basic_auth_users is set: every path asks for credentials, health endpoints included; probes must send them (or set WATCHDOG_HEALTH_ADDR)",
				"web_config", cfg.WebConfigFile)
		} else {
			log.Info("basic_auth_users is set: every path of the main listener asks for credentials; the health listener asks none",
				"web_config", cfg.WebConfigFile, "health", srv.HealthAddr().String())
		}
	}
	attrs := []any{"version", e.Version, "jenkins", cfg.JenkinsURL.String(), "user", cfg.JenkinsUser,
		"groups", len(cfg.Groups), "schedule", cfg.Schedule, "instance", instance, "failback", cfg.Failback, "dry_run", cfg.DryRun,
		"listen", srv.Addr().String()}
	if a := srv.HealthAddr(); a != nil {
		attrs = append(attrs, "health", a.String())
	}
	log.Info("starting", attrs...)
	err = serveAndWatch(ctx, srv, func(ctx context.Context) error { return w.Run(ctx, cfg.Cron, pollTimeout) })
	logStopped(ctx, log, err)
	return err
}

// logStopped says in one line why the daemon stopped and with which exit
// code, so a log read alone shows a deliberate stop from a failure.
func logStopped(ctx context.Context, log *slog.Logger, err error) {
	if err != nil {
		log.Error("stopped", "error", err, "exit_code", ExitFailed)
		return
	}
	reason := "the poll loop ended"
	if cause := context.Cause(ctx); cause != nil {
		reason = cause.Error() // "terminated signal received" from signal.NotifyContext
	}
	log.Info("stopped", "reason", reason, "exit_code", ExitOK)
}

// serveAndWatch serves HTTP while watch runs. On cancellation, watch stops
// its scheduler and finishes the poll in flight; then the server is marked
// not ready and shut down.
func serveAndWatch(ctx context.Context, srv *server.Server, watch func(context.Context) error) error {
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve() }()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	watchErr := make(chan error, 1)
	go func() { watchErr <- watch(ctx) }()

	var err error
	select {
	case err = <-serveErr:
		// The server failed (TLS files, ...): stop watching too.
		cancel()
		if werr := <-watchErr; werr != nil {
			err = errors.Join(err, werr)
		}
		return err
	case err = <-watchErr:
	}
	sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer scancel()
	if serr := srv.Shutdown(sctx); serr != nil {
		err = errors.Join(err, serr)
	}
	if serr := <-serveErr; serr != nil {
		err = errors.Join(err, serr)
	}
	return err
}

// PollTimeout bounds one poll: the read, then at most three requests per
// standby (fresh read, change, confirming read).
func PollTimeout(cfg *config.Config) time.Duration {
	n := 0
	for _, g := range cfg.Groups {
		n += len(g.Standbys)
	}
	return cfg.JenkinsTimeout * time.Duration(2+3*min(n, 10))
}

// NewRegistry is a registry with the Go and process collectors and the
// build info, never the global one.
//
// jenkins_failover_build_info is the Prometheus ecosystem's own collector:
// revision, branch and tags come from github.com/prometheus/common/version
// (its Revision and Branch when stamped with -X, else the VCS revision Go
// recorded), goversion, goos and goarch from the runtime. The version label
// is main.version, passed as a label rather than written into that
// package's variable, so nothing global changes.
func NewRegistry(version string) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg.MustRegister(versioncollector.NewCollector("jenkins_failover",
		versioncollector.WithExtraConstLabels(prometheus.Labels{"version": version})))
	return reg
}

func jenkinsErrorKinds() []string {
	kinds := make([]string, 0, len(jenkins.Kinds))
	for _, k := range jenkins.Kinds {
		kinds = append(kinds, string(k))
	}
	return kinds
}

// newJenkinsClient builds the Jenkins client the configuration describes.
func newJenkinsClient(cfg *config.Config) (*jenkins.Client, error) {
	var watched []string
	for _, g := range cfg.Groups {
		watched = append(watched, g.Nodes()...)
	}
	client, err := jenkins.New(jenkins.Options{URL: cfg.JenkinsURL.String(), User: cfg.JenkinsUser,
		Token: cfg.JenkinsToken.Reveal(), CAPEM: cfg.JenkinsCA, Timeout: cfg.JenkinsTimeout, Nodes: watched,
		TokenFile: cfg.JenkinsTokenFile, ReadTokenFile: config.ReadTokenFile, ParseToken: func(b []byte) (string, error) {
			tok, err := config.ParseTokenFile(b)
			return tok.Reveal(), err
		}})
	if err != nil {
		return nil, fmt.Errorf("building the Jenkins client: %w", err)
	}
	return client, nil
}

// Params are the decision's knobs from the configuration. The start-up
// patience is counted in polls of the schedule, rounded up.
func Params(cfg *config.Config, instance string) watcher.Params {
	patience := 0
	if cfg.Interval > 0 {
		patience = int((cfg.StartupPatience + cfg.Interval - 1) / cfg.Interval)
	}
	p := watcher.Params{FailoverAfter: cfg.FailoverAfter, FailbackAfter: cfg.FailbackAfter,
		StandbyWait: cfg.StandbyWait, StartupPatience: patience, Failback: cfg.Failback, Instance: instance,
		KeepWarm: cfg.KeepWarm}
	if !cfg.FailbackWindow.IsAlways() {
		p.FailbackWindow = cfg.FailbackWindow
	}
	return p
}

// InstanceID names this process in the claims it writes on standbys: the
// host (a pod or container name, for people reading Jenkins), the process
// ID and a random suffix, so that two copies never share a name, not even
// containers that share the host's name and are each PID 1. A restarted
// process has a new name: a claim it left is taken over after the wait.
func InstanceID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "watchdog"
	}
	var b [3]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return agent.SanitizeInstance(fmt.Sprintf("%s-%d-%x", host, os.Getpid(), b))
}
