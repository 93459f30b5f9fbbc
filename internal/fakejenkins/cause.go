package fakejenkins

import (
	"fmt"
	"strings"
	"time"
)

// Offline cause classes, as "_class" shows them.
const (
	causeUser               = "hudson.slaves.OfflineCause$UserCause"
	causeChannelTermination = "hudson.slaves.OfflineCause$ChannelTermination"
	causeLaunchFailed       = "hudson.slaves.OfflineCause$LaunchFailed"
	causeDiskSpace          = "hudson.node_monitors.DiskSpaceMonitorDescriptor$DiskSpace"
)

// offlineCause is a hudson.slaves.OfflineCause.
type offlineCause struct {
	class string
	// text is the cause's toString(), from which Jenkins derives
	// offlineCauseReason. For a UserCause it is "Disconnected by <user>" or
	// "Disconnected by <user> : <message>".
	text string
	time time.Time
	path string // DiskSpace only
}

// Numbers behind the DiskSpace cause's text and fields.
const (
	diskSpaceFree      = int64(512 << 20)
	diskSpaceTotal     = int64(100 << 30)
	diskSpaceThreshold = int64(1 << 30)
)

// cause makes a cause of a class without parameters. Callers hold c.mu.
func (c *Controller) cause(class string) *offlineCause {
	oc := &offlineCause{class: class, time: c.now()}
	switch class {
	case causeChannelTermination:
		oc.text = "Connection was broken"
	case causeLaunchFailed:
		oc.text = "This agent is offline because Jenkins failed to launch the agent process on it."
	case causeDiskSpace:
		oc.text = "Disk space is below threshold of 1.00 GiB. Only 512.00 MiB out of 100.00 GiB left on %s."
	}
	return oc
}

// userCause is OfflineCause.UserCause(user, Util.fixEmptyAndTrim(message)):
// an empty message leaves no " : " part; an unknown user is "anonymous".
func (c *Controller) userCause(user, message string) *offlineCause {
	if user == "" {
		user = "anonymous"
	}
	text := "Disconnected by " + user
	if m := strings.TrimSpace(message); m != "" {
		text += " : " + m
	}
	return &offlineCause{class: causeUser, text: text, time: c.now()}
}

func (oc *offlineCause) String() string {
	if oc.class == causeDiskSpace {
		return fmt.Sprintf(oc.text, oc.path)
	}
	return oc.text
}

// reason is IOfflineCause.getReason, the offlineCauseReason field: toString
// with the "Disconnected by <user> : " prefix removed, then HTML-escaped.
//
// Jenkins removes the prefix with the regular expression
// "^Disconnected by [\w\W]* \: ", which is greedy: everything up to the
// LAST " : " goes, so a message "tag : detail" reads back as "detail". A
// UserCause without a message reads back as "". Reproduced here on purpose:
// a client that tags its offline messages must not put " : " in the tag.
func (oc *offlineCause) reason() string {
	const base = "Disconnected by "
	s := oc.String()
	if strings.HasPrefix(s, base) {
		if i := strings.LastIndex(s, " : "); i >= len(base) {
			s = s[i+len(" : "):]
		} else {
			s = ""
		}
	}
	return escapeHTML(s)
}

// escapeHTML is hudson.Util.escape, character for character:
//
//	'\n' -> "<br>"   '<' -> "&lt;"   '>' -> "&gt;"   '&' -> "&amp;"
//	'"'  -> "&quot;" '\'' -> "&#039;"
//
// and in a run of spaces every space but the last becomes "&nbsp;" (so two
// spaces read "&nbsp; ", and a single space is unchanged). Tabs, '\r' and
// non-ASCII text pass through untouched.
func escapeHTML(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch ch := s[i]; ch {
		case '\n':
			b.WriteString("<br>")
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '&':
			b.WriteString("&amp;")
		case '"':
			b.WriteString("&quot;")
		case '\'':
			b.WriteString("&#039;")
		case ' ':
			if i+1 < len(s) && s[i+1] == ' ' {
				b.WriteString("&nbsp;")
			} else {
				b.WriteByte(' ')
			}
		default:
			b.WriteByte(ch)
		}
	}
	return b.String()
}
