// Package agent says what a Jenkins node is to the watchdog: what one read
// of it shows, how that reading is classified, and the tags the watchdog
// writes into offline messages. It imports nothing of the project, so the
// Jenkins adapter, the switchover and the watcher share it without pulling
// each other in.
package agent

import "strings"

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

// ParkMessage is the offline message for a node the watchdog parks. It is
// kept to characters and spacing that read back unchanged: Jenkins escapes
// HTML characters and runs of spaces, and strips everything up to the last
// " : " when it shows a user's message.
func ParkMessage(why string) string {
	return Sanitize(ParkTag + " standby parked: " + why)
}

// Sanitize rewrites a message so that Jenkins shows it back unchanged in
// offlineCauseReason.
func Sanitize(msg string) string {
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

// NeverConnected reports a node that reads offline with no cause at all:
// not taken offline by anyone, no broken channel, no failed launch. Jenkins
// shows agents so until their first connection after the controller
// starts.
func (n NodeInfo) NeverConnected() bool {
	return n.Offline && !n.TemporarilyOffline && n.CauseClass == "" && strings.TrimSpace(n.CauseReason) == ""
}

// Snapshot is one poll's reading of the controller.
type Snapshot struct {
	Nodes   map[string]NodeInfo
	Version string // X-Jenkins
	Session string // X-Jenkins-Session, changes on every controller restart
}

// State is the watchdog's reading of a node.
type State string

const (
	Online       State = "online"       // takes builds
	Parked       State = "parked"       // temporarily offline by the watchdog or with no message
	Held         State = "held"         // temporarily offline by a person's message or a node monitor: hands off
	Disconnected State = "disconnected" // channel down, not temporarily offline
	Missing      State = "missing"      // not on the controller
	Unknown      State = "unknown"      // not read yet
)

// States lists every node state, for metrics.
var States = []State{Online, Parked, Held, Disconnected, Missing, Unknown}

// Classify turns a reading into a State.
func Classify(n NodeInfo, present bool) State {
	switch {
	case !present:
		return Missing
	case !n.Offline:
		return Online
	case !n.TemporarilyOffline:
		// A person who disconnected the agent with a message
		// (doDisconnect) owns it as much as one who took it offline.
		if n.CauseClass == CauseUser && isHeld(n) {
			return Held
		}
		return Disconnected
	case isHeld(n):
		return Held
	default:
		return Parked
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
