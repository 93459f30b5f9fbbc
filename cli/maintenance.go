package cli

import (
	"context"
	"fmt"
	"slices"
	"text/tabwriter"

	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/config"
	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/switchover"
)

const maintenanceSynopsis = "maintenance start [--message text] (--all | GROUP...) | maintenance end [--force] (--all | GROUP...)"

// runMaintenance is the planned switchover: start takes primaries offline
// with an operator's message (the daemon then fails their groups over and
// shows them as "maintenance"); end brings them back (the daemon fails back).
func runMaintenance(ctx context.Context, e Env, args []string) error {
	verb, rest := "", args
	if len(args) > 0 && (args[0] == "start" || args[0] == "end") {
		verb, rest = args[0], args[1:]
	}
	fs := newFlagSet(e, "maintenance", maintenanceSynopsis)
	message := fs.String("message", switchover.DefaultMessage, "offline message shown in Jenkins (start only)")
	all := fs.Bool("all", false, "every group of WATCHDOG_PAIRS")
	force := fs.Bool("force", false, "end only: bring back a named group's primary even if someone else took it offline (never with --all)")
	if err := parseArgs(fs, rest); err != nil {
		return err
	}
	if verb == "" {
		return &flagError{fmt.Errorf("want maintenance start or maintenance end")}
	}
	if *force && (*all || verb != "end") {
		return &usageError{fmt.Errorf("--force is for maintenance end with groups named one by one, never with --all")}
	}
	// The command line is checked before the environment, so that a
	// mistake in what was typed is reported first.
	if err := checkSelection(fs.Args(), *all); err != nil {
		return &flagError{err}
	}
	cfg, err := config.Load(e.Environ, e.ReadFile)
	if err != nil {
		return &usageError{fmt.Errorf("configuration error:\n%w", err)}
	}
	groups, err := selectGroups(cfg.Groups, fs.Args(), *all)
	if err != nil {
		return &usageError{err}
	}
	client, err := newJenkinsClient(cfg)
	if err != nil {
		return err
	}
	var results []switchover.Result
	if verb == "start" {
		results = switchover.Start(ctx, client, groups, *message)
	} else {
		results = switchover.End(ctx, client, groups, *force)
	}
	tw := tabwriter.NewWriter(e.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "GROUP\tRESULT\tDETAIL")
	failed := 0
	for _, r := range results {
		result, detail := "unchanged", r.Detail
		switch {
		case r.Err != nil:
			result, detail = "FAILED", r.Err.Error()
			failed++
		case r.Done:
			result = "done"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", r.Group, result, detail)
	}
	_ = tw.Flush()
	if failed > 0 {
		return fmt.Errorf("%d of %d groups failed; the others went ahead", failed, len(results))
	}
	return nil
}

// checkSelection checks what the command line names, before the
// configuration says which groups exist.
func checkSelection(names []string, all bool) error {
	switch {
	case all && len(names) > 0:
		return fmt.Errorf("name groups or use --all, not both")
	case !all && len(names) == 0:
		return fmt.Errorf("name a group (by its primary) or use --all")
	}
	return nil
}

func selectGroups(groups []config.Group, names []string, all bool) ([]config.Group, error) {
	if err := checkSelection(names, all); err != nil {
		return nil, err
	}
	if all {
		return groups, nil
	}
	var out []config.Group
	for _, n := range names {
		i := slices.IndexFunc(groups, func(g config.Group) bool { return g.Name() == n })
		if i < 0 {
			return nil, fmt.Errorf("%q is not a group of WATCHDOG_PAIRS (groups are named by their primary)", n)
		}
		out = append(out, groups[i])
	}
	return out, nil
}
