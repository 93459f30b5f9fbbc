package agent

import "strings"

// Guard looks at a fresh read of a node, taken right before a change, and
// returns nil when the change is still wanted, or why it is not.
type Guard func(NodeInfo) error

// Outcome says what a change request came to.
type Outcome string

const (
	// Changed: the change was sent and a read confirmed it.
	Changed Outcome = "changed"
	// Already: a fresh read showed the node already as wanted.
	Already Outcome = "already"
	// Declined: a fresh read showed the change is no longer wanted (the
	// guard said why); nothing was sent.
	Declined Outcome = "declined"
)

// Change is the result of one change request.
type Change struct {
	Outcome Outcome
	// Reason is the guard's answer when Declined.
	Reason error
	// After is the last read of the node: the confirming read when
	// Changed, the fresh read otherwise.
	After NodeInfo
}

// claimWord introduces the instance that claims a standby in its offline
// message. Instance IDs are kept to characters Jenkins shows back as
// written.
const claimWord = "claimed by "

// SanitizeInstance keeps an instance ID to the characters a claim can
// carry through Jenkins' escaping.
func SanitizeInstance(id string) string {
	clean := id != ""
	for i := 0; i < len(id) && clean; i++ {
		clean = instanceByte(id[i])
	}
	if clean {
		return id // the common case, every poll: no copy
	}
	var b strings.Builder
	for _, r := range id {
		if r < 128 && instanceByte(byte(r)) {
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 {
		return "watchdog"
	}
	return b.String()
}

// ClaimMessage is the offline message with which an instance claims a
// parked standby before bringing it online, so that a second instance
// polling the same controller waits instead of toggling too.
func ClaimMessage(instance, group string) string {
	return Sanitize(ParkTag + " standby " + claimWord + SanitizeInstance(instance) + " to carry group " + group)
}

func instanceByte(c byte) bool {
	return c == '.' || c == '_' || c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// ClaimOwner returns the instance that claimed the node, or "" when its
// message is no claim. Only a temporarily-offline node carries one. It
// runs for every parked standby on every poll, so it allocates nothing.
func ClaimOwner(n NodeInfo) string {
	if !n.TemporarilyOffline {
		return ""
	}
	tag := strings.Index(n.CauseReason, ParkTag)
	if tag < 0 {
		return ""
	}
	rest := n.CauseReason[tag+len(ParkTag):]
	i := strings.Index(rest, claimWord)
	if i < 0 {
		return ""
	}
	rest = rest[i+len(claimWord):]
	end := 0
	for end < len(rest) && instanceByte(rest[end]) {
		end++
	}
	return rest[:end]
}

// MaintenanceTag marks a primary taken offline by `maintenance start`. It
// is not ParkTag: the node must read as held, a person's, which the daemon
// never touches; `maintenance end` brings back only primaries that carry
// it.
const MaintenanceTag = "(maintenance by jenkins-failover-watchdog)"

// MaintenanceMessage is the offline message `maintenance start` writes.
func MaintenanceMessage(message string) string {
	message = strings.ReplaceAll(message, ParkTag, "")
	message = strings.ReplaceAll(message, MaintenanceTag, "")
	return Sanitize(message + " " + MaintenanceTag)
}

// InMaintenance reports a node taken offline by `maintenance start`.
func InMaintenance(n NodeInfo) bool {
	return n.TemporarilyOffline && strings.Contains(n.CauseReason, MaintenanceTag)
}
