package agent

import "strings"

// The watchdog keeps its state in offline messages, which anyone with
// Computer/Disconnect can write too. This file is the one grammar of the
// messages it writes. A message is the watchdog's own only when
//
//   - its writer is the watchdog's Jenkins user (NodeInfo.ByWatchdog, which
//     the Jenkins adapter sets from offlineCause.description), and
//   - its whole text is exactly one of the forms below, from the tag at the
//     start to the last byte, nothing appended.
//
// Anything else is a person's: a hold, hands off. The forms are:
//
//	[jenkins-failover-watchdog] standby parked: <reason>
//	[jenkins-failover-watchdog] standby claimed by <instance> to carry group <group>
//	[jenkins-failover-watchdog] maintenance [<note>]
//	[jenkins-failover-watchdog] hold restored for <holder> [<note>]
//
// <reason> is one of ParkReasons or "primary <node> is back"; <instance>,
// <group>, <node> and <holder> are tokens (letters, digits, '.', '_', '-',
// and '@' in a holder), so no text can be appended to them unseen; <note>
// is text that reads back unchanged through Jenkins' escaping (Sanitize)
// with no brackets. Every form reads back the same from Jenkins before and
// after 2.483, which HTML-escapes offlineCauseReason: none of them holds a
// character the escaping changes.

// Form is the kind of an offline message the watchdog writes.
type Form uint8

const (
	// NotOwn: not a message of the watchdog's (a person's, or no message).
	NotOwn Form = iota
	// FormPark: a standby the watchdog parked.
	FormPark
	// FormClaim: a standby an instance claimed before bringing it online.
	FormClaim
	// FormMaintenance: a primary taken offline by `maintenance start`.
	FormMaintenance
	// FormRestoredHold: a person's hold that Jenkins dropped and the
	// watchdog wrote back. It is a hold: hands off.
	FormRestoredHold
)

// Message is one parsed message of the watchdog's. Its strings are slices
// of the text it was parsed from.
type Message struct {
	Form Form
	// Reason is why a standby was parked (FormPark).
	Reason string
	// Instance and Group name the claim's owner and group (FormClaim).
	Instance, Group string
	// Holder is the person whose hold was restored (FormRestoredHold).
	Holder string
	// Note is the operator's words (FormMaintenance) or the person's
	// message that was restored (FormRestoredHold).
	Note string
}

// Reasons a standby is parked for, the only ones a park message carries
// besides "primary <node> is back".
const (
	ParkStandby       = "standby"
	ParkUnexpected    = "came online with no failover in progress"
	ParkGiveUpUp      = "did not come online in time with its channel up"
	ParkGiveUpDown    = "did not come online in time with its channel down"
	ParkOtherCarries  = "another standby already carries the group"
	ParkStray         = "standby must stay parked while another node carries the group"
	ParkKeptWarm      = "kept warm"
	parkPrimaryPrefix = "primary "
	parkPrimarySuffix = " is back"
)

// ParkReasons lists the fixed reasons.
var ParkReasons = []string{ParkStandby, ParkUnexpected, ParkGiveUpUp, ParkGiveUpDown, ParkOtherCarries, ParkStray, ParkKeptWarm}

// ParkPrimaryBack is the reason a carrier is parked at failback.
func ParkPrimaryBack(primary string) string {
	return parkPrimaryPrefix + Token(primary) + parkPrimarySuffix
}

const (
	formPark        = " standby parked: "
	formClaim       = " standby claimed by "
	formClaimGroup  = " to carry group "
	formMaintenance = " maintenance ["
	formRestored    = " hold restored for "
	noteOpen        = " ["
	noteClose       = "]"
	// MaxNote bounds the words a maintenance or restored message carries,
	// so that the whole message stays well under what Jenkins keeps.
	MaxNote = 512
)

// ParkMessage is the offline message for a node the watchdog parks.
// reason is one of ParkReasons or ParkPrimaryBack's; any other reason
// would write a message the watchdog does not read back as its own.
func ParkMessage(reason string) string {
	return ParkTag + formPark + reason
}

// ClaimMessage is the offline message with which an instance claims a
// parked standby before bringing it online, so that a second instance
// polling the same controller waits instead of toggling too.
func ClaimMessage(instance, group string) string {
	return ParkTag + formClaim + SanitizeInstance(instance) + formClaimGroup + Token(group)
}

// MaintenanceMessage is the offline message `maintenance start` writes.
func MaintenanceMessage(note string) string {
	return ParkTag + formMaintenance + Note(note) + noteClose
}

// RestoredHoldMessage is the message written back on a node whose
// person's hold Jenkins dropped: the person's words, marked as restored.
func RestoredHoldMessage(holder, note string) string {
	return ParkTag + formRestored + holderToken(holder) + noteOpen + Note(note) + noteClose
}

// Note makes text fit a note: it reads back unchanged through Jenkins,
// holds no bracket, and is at most MaxNote bytes.
func Note(text string) string {
	text = strings.NewReplacer("[", "(", "]", ")").Replace(Sanitize(text))
	if len(text) > MaxNote {
		text = strings.TrimSpace(strings.ToValidUTF8(text[:MaxNote], ""))
	}
	return text
}

// ParseMessage reads text as one of the watchdog's forms. It reports
// false unless the whole text is exactly one form. It allocates nothing:
// it runs for every watched temporarily-offline node on every poll.
func ParseMessage(text string) (Message, bool) {
	rest, ok := strings.CutPrefix(text, ParkTag)
	if !ok {
		return Message{}, false
	}
	if r, ok := strings.CutPrefix(rest, formPark); ok {
		return Message{Form: FormPark, Reason: r}, validReason(r)
	}
	if r, ok := strings.CutPrefix(rest, formClaim); ok {
		inst, group, ok := strings.Cut(r, formClaimGroup)
		return Message{Form: FormClaim, Instance: inst, Group: group}, ok && isToken(inst, false) && isToken(group, false)
	}
	if r, ok := strings.CutPrefix(rest, formMaintenance); ok {
		note, ok := strings.CutSuffix(r, noteClose)
		return Message{Form: FormMaintenance, Note: note}, ok && isNote(note)
	}
	if r, ok := strings.CutPrefix(rest, formRestored); ok {
		holder, r, ok := strings.Cut(r, noteOpen)
		if !ok {
			return Message{}, false
		}
		note, ok := strings.CutSuffix(r, noteClose)
		return Message{Form: FormRestoredHold, Holder: holder, Note: note}, ok && isToken(holder, true) && isNote(note)
	}
	return Message{}, false
}

// Own returns the node's offline message as the watchdog's own, or
// NotOwn: only a temporarily-offline node whose message the watchdog's
// user wrote, in exactly one of its forms, carries one.
func Own(n NodeInfo) Message {
	if !n.TemporarilyOffline || n.CauseClass != CauseUser || !n.ByWatchdog {
		return Message{}
	}
	m, ok := ParseMessage(n.CauseReason)
	if !ok {
		return Message{}
	}
	return m
}

func validReason(r string) bool {
	for _, known := range ParkReasons {
		if r == known {
			return true
		}
	}
	node, ok := strings.CutPrefix(r, parkPrimaryPrefix)
	if !ok {
		return false
	}
	node, ok = strings.CutSuffix(node, parkPrimarySuffix)
	return ok && isToken(node, false)
}

// Token makes a name fit a message: every byte that is not a letter,
// digit, '.', '_' or '-' becomes '_'. Names in messages are for people to
// read; the watchdog never looks a node up by them.
func Token(name string) string {
	return tokenize(name, false)
}

// maxHolder bounds a holder's id in a restored message, within a token's
// 256 bytes.
const maxHolder = 128

func holderToken(name string) string {
	if len(name) > maxHolder {
		name = strings.ToValidUTF8(name[:maxHolder], "")
	}
	return tokenize(name, true)
}

func tokenize(name string, holder bool) string {
	if isToken(name, holder) {
		return name
	}
	if name == "" {
		return "_"
	}
	b := []byte(name)
	for i, c := range b {
		if !tokenByte(c, holder) {
			b[i] = '_'
		}
	}
	return string(b)
}

func isToken(s string, holder bool) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !tokenByte(s[i], holder) {
			return false
		}
	}
	return true
}

func tokenByte(c byte, holder bool) bool {
	return instanceByte(c) || holder && c == '@'
}

// isNote reports text that Note leaves as it is.
func isNote(s string) bool {
	if len(s) > MaxNote || strings.TrimSpace(s) != s || strings.Contains(s, "  ") || strings.Contains(s, " : ") {
		return false
	}
	return !strings.ContainsAny(s, "[]<>&\"'\n\r\t")
}
