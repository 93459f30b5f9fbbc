// Package cli is the command line: it parses the subcommand, wires the
// parts together and turns errors into exit codes. main only calls Main.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
)

// Exit codes.
const (
	ExitOK     = 0
	ExitFailed = 1
	ExitUsage  = 2
)

// Env is what a command gets from the process.
type Env struct {
	Args     []string // without the program name
	Environ  []string
	Stdout   io.Writer
	Stderr   io.Writer
	Version  string
	ReadFile func(string) ([]byte, error)
}

// Main runs the command line and returns the exit code.
func Main(ctx context.Context, e Env) int {
	if e.ReadFile == nil {
		e.ReadFile = os.ReadFile
	}
	cmd, args := "run", e.Args
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "run":
		err = runDaemon(ctx, e, args)
	case "demo":
		err = runDemo(ctx, e, args)
	case "status":
		err = runStatus(ctx, e, args)
	case "healthcheck":
		err = runHealthcheck(ctx, e, args)
	case "maintenance":
		err = runMaintenance(ctx, e, args)
	case "version":
		fmt.Fprintf(e.Stdout, "jenkins-failover-watchdog %s\n", e.Version)
	case "help":
		printUsage(e.Stdout)
	default:
		fmt.Fprintf(e.Stderr, "jenkins-failover-watchdog: unknown command %q\n\n", cmd)
		printUsage(e.Stderr)
		return ExitUsage
	}
	var usage *usageError
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, flag.ErrHelp):
		return ExitOK
	case errors.As(err, &usage):
		fmt.Fprintf(e.Stderr, "jenkins-failover-watchdog %s: %v\n", cmd, usage.err)
		return ExitUsage
	default:
		fmt.Fprintf(e.Stderr, "jenkins-failover-watchdog %s: %v\n", cmd, err)
		return ExitFailed
	}
}

// usageError is a mistake in the command line or configuration: exit 2.
type usageError struct{ err error }

func (u *usageError) Error() string { return u.err.Error() }
func (u *usageError) Unwrap() error { return u.err }

func newFlagSet(e Env, name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(e.Stderr, "usage: jenkins-failover-watchdog %s\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &usageError{err}
	}
	if fs.NArg() > 0 {
		return &usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	return nil
}

func newLogger(w io.Writer, level slog.Level, format string) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}
