// Package watcher decides and acts: it reads every node once per poll,
// works out for each group which node should carry the work, and asks
// Jenkins for the few changes that makes true.
package watcher

import (
	"context"

	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/agent"
)

// Jenkins is what the watcher needs from a controller. The jenkins package
// implements it over HTTP, with every change preceded by a fresh read that
// the guard judges and followed by a confirming read.
type Jenkins interface {
	// Computers reads every node in one request.
	Computers(ctx context.Context) (agent.Snapshot, error)
	// BringOnline clears temporarily-offline (Jenkins' toggleOffline).
	BringOnline(ctx context.Context, name string, guard agent.Guard) (agent.Change, error)
	// Park marks the node temporarily offline with message (Jenkins'
	// idempotent changeOfflineCause). Running builds go on.
	Park(ctx context.Context, name, message string, guard agent.Guard) (agent.Change, error)
	// Launch asks Jenkins to connect the agent (launchSlaveAgent).
	Launch(ctx context.Context, name string, guard agent.Guard) (agent.Change, error)
}

// A standby parked because it did not come online in time carries a
// message that says whether its channel was up then: the memory of a
// failover in progress that a restarted watchdog reads back from Jenkins.
func giveUpMessage(connected bool) string {
	if connected {
		return agent.ParkGiveUpUp
	}
	return agent.ParkGiveUpDown
}

// triedByTag reports whether Jenkins shows the node as a standby the
// watchdog gave up on, and whether its channel was up at the time.
func triedByTag(n agent.NodeInfo) (tried, wasConnected bool) {
	m := agent.Own(n)
	if m.Form != agent.FormPark || m.Reason != agent.ParkGiveUpUp && m.Reason != agent.ParkGiveUpDown {
		return false, false
	}
	return true, m.Reason == agent.ParkGiveUpUp
}
