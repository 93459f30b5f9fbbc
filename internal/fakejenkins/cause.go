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
	// user and message are a UserCause's parameters, from which its text
	// is worded in each language (disconnectedBy).
	user, message string
	hasMessage    bool
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
	oc := &offlineCause{class: causeUser, time: c.now(), user: user}
	if m := strings.TrimSpace(message); m != "" {
		oc.message, oc.hasMessage = m, true
	}
	oc.text = oc.in("en")
	return oc
}

// disconnectedBy is SlaveComputer.DisconnectedBy={0}{1} as some of the
// languages Jenkins core ships word it (hudson/slaves/Messages_*.properties),
// {0} the user id, {1} " : <message>" or "".
var disconnectedBy = map[string]string{
	"en": "Disconnected by {0}{1}",
	"de": "Getrennt durch Benutzer {0}{1}",
	"ja": "{0}がオフラインにしています。{1}",
	"ru": "Отключён пользователем {0}: {1}",
	"bg": "Връзката бе прекъсната от „{0}{1}“",
}

// in words a UserCause in a language, as MessageFormat fills the template.
func (oc *offlineCause) in(lang string) string {
	tmpl, ok := disconnectedBy[lang]
	if !ok {
		tmpl = disconnectedBy["en"]
	}
	msg := ""
	if oc.hasMessage {
		msg = " : " + oc.message
	}
	return strings.NewReplacer("{0}", oc.user, "{1}", msg).Replace(tmpl)
}

func (oc *offlineCause) String() string {
	if oc.class == causeDiskSpace {
		return fmt.Sprintf(oc.text, oc.path)
	}
	return oc.text
}

// description is what offlineCause.description shows in a language: the
// cause's toString, which for a UserCause is worded in the language of the
// request (or the one a locale plugin forces).
func (oc *offlineCause) description(lang string) string {
	if oc.class == causeUser {
		return oc.in(lang)
	}
	return oc.String()
}

// reason is IOfflineCause.getReason, the offlineCauseReason field, in a
// language: toString with the words of SlaveComputer.DisconnectedBy
// (filled with empty parameters) and everything up to the last " : "
// removed, then HTML-escaped since 2.483 (jenkinsci/jenkins #9883; raw
// before).
//
// Jenkins removes the prefix with the regular expressions
// "^<base>[\w\W]* \: " and then "^<base>[\w\W]*", which are greedy:
// everything up to the LAST " : " goes, so a message "tag : detail" reads
// back as "detail", and a UserCause without a message reads back as "". In
// a language whose template does not start with the words before the user
// id (ja, bg), nothing matches and the whole description shows. Reproduced
// here on purpose.
func (oc *offlineCause) reason(lang string, escape bool) string {
	s := oc.description(lang)
	tmpl, ok := disconnectedBy[lang]
	if !ok {
		tmpl = disconnectedBy["en"]
	}
	base := strings.NewReplacer("{0}", "", "{1}", "").Replace(tmpl)
	if strings.HasPrefix(s, base) {
		if i := strings.LastIndex(s, " : "); i >= len(base) {
			s = s[i+len(" : "):]
		} else {
			s = ""
		}
	}
	if !escape {
		return s
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
