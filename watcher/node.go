// Package watcher decides and acts: it reads every node once per poll,
// works out for each group which node should carry the work, and asks
// Jenkins for the few changes that makes true.
package watcher

import (
	"context"
	"strings"
)

// Jenkins is what the watcher needs from a controller. The jenkins package
// implements it over HTTP; tests use the fake controller behind it.
type Jenkins interface {
	// Computers reads every node in one request.
	Computers(ctx context.Context) (Snapshot, error)
	// Computer reads one node afresh, right before a change.
	Computer(ctx context.Context, name string) (NodeInfo, error)
	// BringOnline clears temporarily-offline (Jenkins' toggleOffline).
	// Callers must have just read the node as temporarily offline.
	BringOnline(ctx context.Context, name string) error
	// Park marks the node temporarily offline with message (Jenkins'
	// idempotent changeOfflineCause). Running builds go on.
	Park(ctx context.Context, name, message string) error
	// Launch asks Jenkins to connect the agent (launchSlaveAgent).
	Launch(ctx context.Context, name string) error
}

// Offline cause classes as Jenkins reports them.
const (
	CauseUser               = "hudson.slaves.OfflineCause$UserCause"
	CauseChannelTermination = "hudson.slaves.OfflineCause$ChannelTermination"
	CauseLaunchFailed       = "hudson.slaves.OfflineCause$LaunchFailed"
)

// ParkTag marks the offline messages the watchdog writes. Plain ASCII with
// no character that Jenkins' HTML escaping changes, so it reads back as
// written in offlineCauseReason.
const ParkTag = "[jenkins-failover-watchdog]"

// giveUpMarker marks a standby parked because it did not come online in
// time, and whether its channel was up then. The message is the memory of
// a failover in progress that a restarted watchdog reads back from Jenkins.
const (
	giveUpMarker = "did not come online in time"
	giveUpUp     = giveUpMarker + " with its channel up"
	giveUpDown   = giveUpMarker + " with its channel down"
)

func giveUpMessage(connected bool) string {
	if connected {
		return giveUpUp
	}
	return giveUpDown
}

// triedByTag reports whether Jenkins shows the node as a standby the
// watchdog gave up on, and whether its channel was up at the time.
func triedByTag(n NodeInfo) (tried, wasConnected bool) {
	if !n.TemporarilyOffline || !strings.Contains(n.CauseReason, ParkTag) || !strings.Contains(n.CauseReason, giveUpMarker) {
		return false, false
	}
	return true, strings.Contains(n.CauseReason, giveUpUp)
}

// ParkMessage is the offline message for a node the watchdog parks. It is
// kept to characters and spacing that read back unchanged: Jenkins escapes
// HTML characters and runs of spaces, and strips everything up to the last
// " : " when it shows a user's message.
func ParkMessage(why string) string {
	msg := ParkTag + " standby parked: " + why
	msg = strings.Join(strings.Fields(msg), " ")
	return strings.NewReplacer(" : ", " - ", "<", "", ">", "", "&", "and", `"`, "", "'", "").Replace(msg)
}

// NodeInfo is what one read of a computer says.
type NodeInfo struct {
	Name               string `json:"name"`
	Offline            bool   `json:"offline"`
	TemporarilyOffline bool   `json:"temporarilyOffline"`
	CauseClass         string `json:"offlineCause,omitempty"`
	CauseReason        string `json:"offlineCauseReason,omitempty"`
	// Connected is true when the agent's channel is up. Jenkins only shows
	// it through absoluteRemotePath, which is null when the channel is down.
	Connected bool `json:"connected"`
	// Launchable is false for inbound agents: Jenkins cannot start them,
	// they connect by themselves.
	Launchable bool `json:"launchable"`
	Idle       bool `json:"idle"`
}

// Snapshot is one poll's reading of the controller.
type Snapshot struct {
	Nodes   map[string]NodeInfo
	Version string // X-Jenkins
	Session string // X-Jenkins-Session, changes on every controller restart
}

// NodeState is the watchdog's reading of a node.
type NodeState string

const (
	NodeOnline       NodeState = "online"       // takes builds
	NodeParked       NodeState = "parked"       // temporarily offline by the watchdog or with no message
	NodeHeld         NodeState = "held"         // temporarily offline by a person's message or a node monitor: hands off
	NodeDisconnected NodeState = "disconnected" // channel down, not temporarily offline
	NodeMissing      NodeState = "missing"      // not on the controller
	NodeUnknown      NodeState = "unknown"      // not read yet
)

// NodeStates lists every node state, for metrics.
var NodeStates = []NodeState{NodeOnline, NodeParked, NodeHeld, NodeDisconnected, NodeMissing, NodeUnknown}

// Classify turns a reading into a NodeState.
func Classify(n NodeInfo, present bool) NodeState {
	switch {
	case !present:
		return NodeMissing
	case !n.Offline:
		return NodeOnline
	case !n.TemporarilyOffline:
		// A person who disconnected the agent with a message
		// (doDisconnect) owns it as much as one who took it offline.
		if n.CauseClass == CauseUser && isHeld(n) {
			return NodeHeld
		}
		return NodeDisconnected
	case isHeld(n):
		return NodeHeld
	default:
		return NodeParked
	}
}

// isHeld tells a node someone else owns: a person's own message, or a
// cause Jenkins set itself (a node monitor such as disk space).
func isHeld(n NodeInfo) bool {
	switch n.CauseClass {
	case CauseUser:
		reason := strings.TrimSpace(n.CauseReason)
		return reason != "" && !strings.Contains(reason, ParkTag)
	case "", CauseChannelTermination, CauseLaunchFailed:
		// Temporarily offline with no message of anyone's: the channel
		// cause shows through, nobody claimed the node.
		return false
	default:
		return true
	}
}
