package cli

import (
	"fmt"
	"io"

	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/config"
	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/server"
)

func printUsage(w io.Writer) {
	fmt.Fprint(w, `jenkins-failover-watchdog keeps Jenkins builds running when an agent dies:
it watches groups of agents (a primary and standbys in priority order) and
brings a parked standby online when the primary goes offline, then parks it
again when the primary is back, without aborting builds.

Usage:
  jenkins-failover-watchdog [run]      run the daemon (configured by the environment)
  jenkins-failover-watchdog demo       run a failover story against a built-in fake Jenkins
  jenkins-failover-watchdog status     print a running daemon's state (--addr, --json);
                                       exits 3 to 6 on a finding (below)
  jenkins-failover-watchdog healthcheck  exit 0 when the daemon's /livez answers 200,
                                       even while Jenkins is unreachable (liveness)
  jenkins-failover-watchdog maintenance start|end [--message M] (--all | GROUP...)
                                       planned switchover: take primaries offline for
                                       maintenance (the daemon fails over), then back
  jenkins-failover-watchdog version    print the version (also --version)
  jenkins-failover-watchdog help COMMAND  a command's flags (also COMMAND -h)

Environment:
`)
	fmt.Fprint(w, config.Usage())
	fmt.Fprint(w, "\nHTTP endpoints (WATCHDOG_LISTEN_ADDR):\n")
	for _, ep := range server.Endpoints {
		fmt.Fprintf(w, "  %-10s %s\n", ep.Path, ep.What)
	}
	fmt.Fprint(w, "With WATCHDOG_HEALTH_ADDR set, /livez, /healthz and /readyz are also served there,\n"+
		"in plain HTTP with no authentication, for probes.\n")
	fmt.Fprint(w, "\nExit codes:\n")
	for _, c := range ExitCodes {
		fmt.Fprintf(w, "  %d  %s\n", c.Code, c.Meaning)
	}
}

// ExitCode is one exit code and what it means, as -h and the docs' table
// of exit codes list them.
type ExitCode struct {
	Code    int
	Meaning string
}

// ExitCodes lists every exit code a command returns.
var ExitCodes = []ExitCode{
	{ExitOK, "done; for status, Jenkins answered the daemon and no group is down"},
	{ExitFailed, "the command failed: a maintenance group failed, or the daemon stopped on an error"},
	{ExitUsage, "a mistake in the command line or the configuration (a busy WATCHDOG_LISTEN_ADDR too), named on stderr"},
	{ExitDaemonUnreachable, "status, healthcheck: no watchdog answered at --addr, or it answered an error"},
	{ExitJenkinsUnreachable, "status: the daemon's last poll of Jenkins failed, or it has not polled yet"},
	{ExitJenkinsRefused, "status: Jenkins refused the daemon's user or token (401), or a permission (403)"},
	{ExitGroupDown, "status: a group is down, no node can carry it"},
}
