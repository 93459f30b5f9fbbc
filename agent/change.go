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

// maxInstance bounds an instance ID in a claim, well within a token's 256
// bytes: a long host name keeps its tail, where the pid and the random
// part are.
const maxInstance = 128

// SanitizeInstance keeps an instance ID to the characters a claim can
// carry through Jenkins' escaping, at most maxInstance bytes.
func SanitizeInstance(id string) string {
	if len(id) > maxInstance {
		id = id[len(id)-maxInstance:]
	}
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

func instanceByte(c byte) bool {
	return c == '.' || c == '_' || c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// ClaimOwner returns the instance that claimed the node, or "" when its
// message is no claim of the watchdog's. It runs for every parked standby
// on every poll, so it allocates nothing.
func ClaimOwner(n NodeInfo) string {
	if m := Own(n); m.Form == FormClaim {
		return m.Instance
	}
	return ""
}

// InMaintenance reports a node taken offline by `maintenance start`: the
// watchdog's user wrote its maintenance form. It reads as held, which the
// daemon never touches; `maintenance end` brings back only these.
func InMaintenance(n NodeInfo) bool {
	return Own(n).Form == FormMaintenance
}
