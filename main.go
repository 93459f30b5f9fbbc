// Command jenkins-failover-watchdog keeps Jenkins builds running when an
// agent machine dies. All logic lives in the packages; main only wires.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/cli"
)

// version is stamped at build time: -ldflags "-X main.version=v1.2.3".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, cli.Env{
		Args: os.Args[1:], Environ: os.Environ(), Stdout: os.Stdout, Stderr: os.Stderr, Version: version,
	})
	stop()
	os.Exit(code)
}
