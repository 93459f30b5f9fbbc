package cli

import (
	"fmt"
	"io"

	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/config"
)

func printUsage(w io.Writer) {
	fmt.Fprint(w, `jenkins-failover-watchdog keeps Jenkins builds running when an agent dies:
it watches groups of agents (a primary and standbys in priority order) and
brings a parked standby online when the primary goes offline, then parks it
again when the primary is back, without aborting builds.

Usage:
  jenkins-failover-watchdog [run]      run the daemon (configured by the environment)
  jenkins-failover-watchdog demo       run a failover story against a built-in fake Jenkins
  jenkins-failover-watchdog status     print a running daemon's state (--addr, --json)
  jenkins-failover-watchdog healthcheck  exit 0 when the daemon's /livez answers 200
  jenkins-failover-watchdog maintenance start|end [--message M] (--all | GROUP...)
                                       planned switchover: take primaries offline for
                                       maintenance (the daemon fails over), then back
  jenkins-failover-watchdog version    print the version (also --version)
  jenkins-failover-watchdog help COMMAND  a command's flags (also COMMAND -h)

Environment:
`)
	fmt.Fprint(w, config.Usage())
	fmt.Fprint(w, `
HTTP endpoints (WATCHDOG_LISTEN_ADDR): /metrics /status /livez /healthz /readyz
`)
}
