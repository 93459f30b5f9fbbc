// Package switchover moves groups to their standby for planned maintenance
// of the primary, and back. It is what an operator runs by hand; the
// daemon itself never changes a primary. Marking the primary temporarily
// offline with a person's message makes it "held": the daemon brings a
// standby up, shows the group as "maintenance", and leaves the primary and
// its message alone until the operator ends the maintenance.
package switchover

import (
	"context"
	"fmt"
	"strings"

	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/agent"
	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/config"
)

// Jenkins is what a switchover needs; *jenkins.Client implements it.
type Jenkins interface {
	Computer(ctx context.Context, name string) (agent.NodeInfo, error)
	BringOnline(ctx context.Context, name string) error
	Park(ctx context.Context, name, message string) error
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

// Start takes each group's primary offline with message, after checking
// that a standby can carry the group. A group that fails does not stop the
// others.
func Start(ctx context.Context, j Jenkins, groups []config.Group, message string) []Result {
	if strings.TrimSpace(message) == "" {
		message = DefaultMessage
	}
	// The message must read as a person's, never as the watchdog's tag.
	message = strings.ReplaceAll(message, agent.ParkTag, "")
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
	var usable []string
	for _, s := range g.Standbys {
		n, err := j.Computer(ctx, s)
		if err != nil {
			continue // a missing or unreadable standby cannot carry
		}
		if st := agent.Classify(n, true); st == agent.Online || st == agent.Parked {
			usable = append(usable, s)
		}
	}
	if len(usable) == 0 {
		r.Err = fmt.Errorf("no standby of %s can carry the group (all held, missing or disconnected): not taking the primary offline", g.Name())
		return r
	}
	if err := j.Park(ctx, g.Primary, message); err != nil {
		r.Err = fmt.Errorf("taking primary %s offline: %w", g.Primary, err)
		return r
	}
	r.Done = true
	r.Detail = fmt.Sprintf("primary %s temporarily offline (%q); running builds finish there; the watchdog brings up %s", g.Primary, message, usable[0])
	return r
}

// End brings each group's primary back online if it is held, so that the
// daemon fails back. It toggles only after a fresh read shows the primary
// temporarily offline, and confirms with another read.
func End(ctx context.Context, j Jenkins, groups []config.Group) []Result {
	results := make([]Result, 0, len(groups))
	for _, g := range groups {
		results = append(results, endGroup(ctx, j, g))
	}
	return results
}

func endGroup(ctx context.Context, j Jenkins, g config.Group) Result {
	r := Result{Group: g.Name()}
	p, err := j.Computer(ctx, g.Primary)
	if err != nil {
		r.Err = fmt.Errorf("reading primary %s: %w", g.Primary, err)
		return r
	}
	if !p.TemporarilyOffline {
		r.Detail = fmt.Sprintf("primary %s is not temporarily offline; nothing to do", g.Primary)
		return r
	}
	if strings.Contains(p.CauseReason, agent.ParkTag) {
		r.Err = fmt.Errorf("primary %s carries the watchdog's own tag, which it never sets on a primary; check it in Jenkins", g.Primary)
		return r
	}
	if err := j.BringOnline(ctx, g.Primary); err != nil {
		r.Err = fmt.Errorf("bringing primary %s online: %w", g.Primary, err)
		return r
	}
	after, err := j.Computer(ctx, g.Primary)
	if err != nil {
		r.Err = fmt.Errorf("reading primary %s after the toggle: %w", g.Primary, err)
		return r
	}
	if after.TemporarilyOffline {
		r.Err = fmt.Errorf("primary %s is still temporarily offline after the toggle", g.Primary)
		return r
	}
	r.Done = true
	r.Detail = fmt.Sprintf("primary %s back online (connected: %t); the watchdog parks the standby after WATCHDOG_FAILBACK_AFTER polls", g.Primary, after.Connected)
	if !after.Connected {
		r.Detail += "; the agent is not connected yet"
	}
	return r
}
