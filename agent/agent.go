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

// Sanitize rewrites a message so that Jenkins shows it back unchanged in
// offlineCauseReason.
func Sanitize(msg string) string {
	msg = strings.Join(strings.Fields(msg), " ")
	// Once more until nothing changes: a removal can bring a " : " or
	// two spaces together ("a <: b", "a : : b").
	for {
		out := strings.Join(strings.Fields(sanitizer.Replace(msg)), " ")
		if out == msg {
			return out
		}
		msg = out
	}
}

var sanitizer = strings.NewReplacer(" : ", " - ", "<", "", ">", "", "&", "and", `"`, "", "'", "")

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
	// Writer is the user id that wrote a UserCause's message, read from
	// offlineCause.description ("" for other causes, or when unknown).
	Writer string `json:"writer,omitempty"`
	// ByWatchdog is true when Writer is the watchdog's Jenkins user: only
	// then can the message be the watchdog's own (see Own).
	ByWatchdog bool `json:"byWatchdog,omitempty"`
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
	Parked       State = "parked"       // temporarily offline with the watchdog's own park or claim, or with no message
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
		if strings.TrimSpace(n.CauseReason) == "" {
			return false // no message: nobody's hold
		}
		switch Own(n).Form {
		case FormPark, FormClaim:
			return false
		}
		return true // a person's words, or the watchdog's maintenance or restored hold
	case "", CauseChannelTermination, CauseLaunchFailed:
		// Temporarily offline with no message of anyone's: the channel
		// cause shows through, nobody claimed the node.
		return false
	default:
		return true
	}
}

// Holder says who holds a node that reads Held: the person whose hold the
// watchdog restored, the writer of a person's message, or the class of a
// cause Jenkins set itself (a node monitor).
func Holder(n NodeInfo) string {
	if m := Own(n); m.Form == FormRestoredHold {
		return m.Holder
	}
	if n.CauseClass == CauseUser {
		if n.Writer == "" {
			return "unknown user"
		}
		return n.Writer
	}
	class := n.CauseClass
	if i := strings.LastIndexAny(class, ".$"); i >= 0 {
		class = class[i+1:]
	}
	return class
}
