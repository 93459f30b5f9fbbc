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
	"slices"
	"strings"
	"time"
)

// Exit codes; ExitCodes says what each means. A script can branch on
// them: those from 3 up are what status and healthcheck found.
const (
	ExitOK     = 0
	ExitFailed = 1
	ExitUsage  = 2

	ExitDaemonUnreachable  = 3
	ExitJenkinsUnreachable = 4
	ExitJenkinsRefused     = 5
	ExitGroupDown          = 6
)

// exitError is an error that ends the command with its own exit code.
type exitError struct {
	code int
	err  error
}

func (x *exitError) Error() string { return x.err.Error() }
func (x *exitError) Unwrap() error { return x.err }

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
	switch {
	case len(args) > 0 && (args[0] == "--version" || args[0] == "-version"):
		cmd, args = "version", args[1:]
	case len(args) > 0 && !strings.HasPrefix(args[0], "-"):
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
		err = runVersion(e, args)
	case "help":
		if len(args) == 1 && slices.Contains(commands, args[0]) {
			// help COMMAND is COMMAND -h.
			e.Args = []string{args[0], "-h"}
			return Main(ctx, e)
		}
		err = runHelp(e, args)
	default:
		fmt.Fprintf(e.Stderr, "jenkins-failover-watchdog: unknown command %q\n\n", cmd)
		printUsage(e.Stderr)
		return ExitUsage
	}
	var usage *usageError
	var flags *flagError
	var exit *exitError
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, flag.ErrHelp):
		return ExitOK
	case errors.As(err, &flags):
		fmt.Fprintf(e.Stderr, "jenkins-failover-watchdog %s: %v\nrun 'jenkins-failover-watchdog %s -h' for usage\n", cmd, flags.err, cmd)
		return ExitUsage
	case errors.As(err, &usage):
		fmt.Fprintf(e.Stderr, "jenkins-failover-watchdog %s: %v\n", cmd, usage.err)
		return ExitUsage
	case errors.As(err, &exit):
		fmt.Fprintf(e.Stderr, "jenkins-failover-watchdog %s: %v\n", cmd, exit.err)
		return exit.code
	default:
		fmt.Fprintf(e.Stderr, "jenkins-failover-watchdog %s: %v\n", cmd, err)
		return ExitFailed
	}
}

// commands are the subcommands, as help COMMAND accepts them.
var commands = []string{"run", "demo", "status", "healthcheck", "maintenance", "version", "help"}

func runVersion(e Env, args []string) error {
	fs := newFlagSet(e, "version", "version (or --version): print the version")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	fmt.Fprintf(e.Stdout, "jenkins-failover-watchdog %s\n", e.Version)
	return nil
}

func runHelp(e Env, args []string) error {
	fs := newFlagSet(e, "help", "help [COMMAND]")
	fs.Usage = func() { printUsage(fs.Output()) }
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	printUsage(e.Stdout)
	return nil
}

// usageError is a mistake in the command line or configuration: exit 2.
type usageError struct{ err error }

func (u *usageError) Error() string { return u.err.Error() }
func (u *usageError) Unwrap() error { return u.err }

// flagError is a mistake in a subcommand's flags: exit 2, and Main points
// at the subcommand's -h.
type flagError struct{ err error }

func (f *flagError) Error() string { return f.err.Error() }
func (f *flagError) Unwrap() error { return f.err }

// newFlagSet starts a subcommand's flags. -h and --help print the usage to
// stdout; a mistake is returned by parseFlags and reported by Main on
// stderr, once.
func newFlagSet(e Env, name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.Stdout)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: jenkins-failover-watchdog %s\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses a subcommand that takes flags only.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := parseArgs(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return &flagError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	return nil
}

// parseArgs parses flags followed by arguments. It returns flag.ErrHelp
// once the usage is printed for -h.
func parseArgs(fs *flag.FlagSet, args []string) error {
	out, usage := fs.Output(), fs.Usage
	// The flag package would print the error and the usage to the same
	// writer as -h does; Main reports the error on stderr instead.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	err := fs.Parse(args)
	fs.SetOutput(out)
	fs.Usage = usage
	switch {
	case errors.Is(err, flag.ErrHelp):
		fs.Usage()
		return err
	case err != nil:
		return &flagError{err}
	}
	return checkPositive(fs)
}

// checkPositive refuses a zero or negative duration or count given on the
// command line: no command has a use for one, and a zero interval or
// timeout would spin or give up at once.
func checkPositive(fs *flag.FlagSet) error {
	var err error
	fs.Visit(func(f *flag.Flag) {
		g, ok := f.Value.(flag.Getter)
		if !ok || err != nil {
			return
		}
		positive := true
		switch v := g.Get().(type) {
		case time.Duration:
			positive = v > 0
		case int:
			positive = v > 0
		case int64:
			positive = v > 0
		case uint:
			positive = v > 0
		case uint64:
			positive = v > 0
		}
		if !positive {
			err = &flagError{fmt.Errorf("--%s %s: must be positive", f.Name, f.Value)}
		}
	})
	return err
}

func newLogger(w io.Writer, level slog.Level, format string) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}
