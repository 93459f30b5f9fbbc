// Package switchover moves groups to their standby for planned maintenance
// of the primary, and back. It is what an operator runs by hand; the
// daemon itself never changes a primary. Marking the primary temporarily
// offline with a person's message makes it "held": the daemon brings a
// standby up, shows the group as "maintenance", and leaves the primary and
// its message alone until the operator ends the maintenance.
package switchover

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/agent"
	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/config"
)

// Jenkins is what a switchover needs; *jenkins.Client implements it. Each
// change is preceded by a fresh read judged by the guard and confirmed by
// another read.
type Jenkins interface {
	Computer(ctx context.Context, name string) (agent.NodeInfo, error)
	BringOnline(ctx context.Context, name string, guard agent.Guard) (agent.Change, error)
	Park(ctx context.Context, name, message string, guard agent.Guard) (agent.Change, error)
}

// DefaultMessage marks a primary taken offline for maintenance.
const DefaultMessage = "planned maintenance"

// Result is the outcome for one group.
type Result struct {
	Group  string
	Done   bool   // the change was made
	Detail string // what happened, for people
	Err    error
}

// Start takes each group's primary offline with message and the
// maintenance tag, after checking that a standby can carry the group. A
// group that fails does not stop the others.
func Start(ctx context.Context, j Jenkins, groups []config.Group, message string) []Result {
	if strings.TrimSpace(message) == "" {
		message = DefaultMessage
	}
	// The message must read as a person's, never as the watchdog's park
	// tag, and carry the maintenance tag that End looks for.
	message = agent.MaintenanceMessage(message)
	results := make([]Result, 0, len(groups))
	for _, g := range groups {
		results = append(results, startGroup(ctx, j, g, message))
	}
	return results
}

func startGroup(ctx context.Context, j Jenkins, g config.Group, message string) Result {
	r := Result{Group: g.Name()}
	p, err := j.Computer(ctx, g.Primary)
	if err != nil {
		r.Err = fmt.Errorf("reading primary %s: %w", g.Primary, err)
		return r
	}
	switch agent.Classify(p, true) {
	case agent.Held:
		r.Detail = fmt.Sprintf("primary %s is already held (%q); nothing to do", g.Primary, p.CauseReason)
		return r
	case agent.Parked:
		r.Err = fmt.Errorf("primary %s is temporarily offline without a message; mark it with a message in Jenkins or bring it online first", g.Primary)
		return r
	}
	// Every standby is read before the primary is touched: without one
	// that can carry, the group is refused with each standby's reason, and
	// the other groups go on.
	var usable, unusable []string
	for _, s := range g.Standbys {
		n, err := j.Computer(ctx, s)
		if err != nil {
			unusable = append(unusable, s+" "+unreadable(err))
			continue // a missing or unreadable standby cannot carry
		}
		if why := cannotCarry(n); why != "" {
			unusable = append(unusable, s+" "+why)
			continue
		}
		usable = append(usable, s)
	}
	if len(usable) == 0 {
		r.Err = fmt.Errorf("no standby of group %s can carry it (%s): primary %s left online", g.Name(), strings.Join(unusable, "; "), g.Primary)
		return r
	}
	ch, err := j.Park(ctx, g.Primary, message, func(n agent.NodeInfo) error {
		if st := agent.Classify(n, true); st == agent.Held || st == agent.Parked {
			return fmt.Errorf("it was taken offline meanwhile (%q)", n.CauseReason)
		}
		return nil
	})
	switch {
	case err != nil:
		r.Err = fmt.Errorf("taking primary %s offline: %w", g.Primary, err)
		return r
	case ch.Outcome == agent.Declined:
		r.Detail = fmt.Sprintf("primary %s left alone: %v", g.Primary, ch.Reason)
		return r
	}
	r.Done = true
	r.Detail = fmt.Sprintf("primary %s temporarily offline (%q); running builds finish there; the watchdog brings up %s", g.Primary, message, usable[0])
	return r
}

// End brings back each group's primary that `maintenance start` took
// offline (it carries the maintenance tag), so that the daemon fails back.
// A primary held by a person's own message or by a node monitor is
// reported and left alone, unless force is set (for groups named one by
// one: a person decided for that primary).
func End(ctx context.Context, j Jenkins, groups []config.Group, force bool) []Result {
	results := make([]Result, 0, len(groups))
	for _, g := range groups {
		results = append(results, endGroup(ctx, j, g, force))
	}
	return results
}

func endGroup(ctx context.Context, j Jenkins, g config.Group, force bool) Result {
	r := Result{Group: g.Name()}
	ch, err := j.BringOnline(ctx, g.Primary, func(n agent.NodeInfo) error {
		switch m := agent.Own(n); {
		case m.Form == agent.FormPark || m.Form == agent.FormClaim:
			return fmt.Errorf("it carries the watchdog's park tag, which the watchdog never sets on a primary (%q); check it in Jenkins", n.CauseReason)
		case m.Form == agent.FormMaintenance, force:
			return nil
		default:
			return fmt.Errorf("it was taken offline by someone else, not by maintenance start (%q, %s); bring it back in Jenkins, or name the group with --force", n.CauseReason, causeName(n.CauseClass))
		}
	})
	switch {
	case err != nil:
		r.Err = fmt.Errorf("bringing primary %s online: %w", g.Primary, err)
	case ch.Outcome == agent.Already:
		r.Detail = fmt.Sprintf("primary %s is not temporarily offline; nothing to do", g.Primary)
	case ch.Outcome == agent.Declined:
		r.Err = fmt.Errorf("primary %s left offline: %v", g.Primary, ch.Reason)
	default:
		r.Done = true
		r.Detail = fmt.Sprintf("primary %s back online (connected: %t); the watchdog parks the standby after WATCHDOG_FAILBACK_AFTER polls", g.Primary, ch.After.Connected)
		if !ch.After.Connected {
			r.Detail += "; the agent is not connected yet"
		}
	}
	return r
}

// cannotCarry says why a standby cannot carry the group, or "" when it
// can: online, or parked and either connected or launchable (a parked
// inbound agent whose channel is down cannot be launched by Jenkins).
func cannotCarry(n agent.NodeInfo) string {
	switch st := agent.Classify(n, true); {
	case st == agent.Online:
		return ""
	case st == agent.Parked && (n.Connected || n.Launchable):
		return ""
	case st == agent.Held:
		return fmt.Sprintf("is held (%q, %s)", n.CauseReason, causeName(n.CauseClass))
	case st == agent.Parked:
		return "is parked with its channel down, and Jenkins cannot launch an inbound agent"
	default:
		return "is " + string(st)
	}
}

// unreadable says why a standby could not be read; the jenkins package's
// errors carry their kind.
func unreadable(err error) string {
	var k interface{ ErrorKind() string }
	if errors.As(err, &k) && k.ErrorKind() == "not_found" {
		return "is not on the controller"
	}
	return fmt.Sprintf("could not be read (%v)", err)
}

func causeName(class string) string {
	switch class {
	case agent.CauseUser:
		return "a person"
	case "":
		return "no cause"
	}
	if i := strings.LastIndexAny(class, ".$"); i >= 0 {
		return "a node monitor: " + class[i+1:]
	}
	return class
}
