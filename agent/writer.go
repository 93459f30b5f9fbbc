package agent

import "strings"

// A UserCause's offlineCause.description is Jenkins' message
// SlaveComputer.DisconnectedBy with {0} the writer's user id and {1}
// " : <message>" (or "" when there is no message), in the language of the
// request's Accept-Language or the one a locale plugin forces. The
// watchdog asks in English, and reads every translation Jenkins core ships
// (core/src/main/resources/hudson/slaves/Messages_*.properties), so that a
// forced locale does not make its own messages read as a person's.
type disconnectedBy struct{ before, between, after string }

var disconnectedByForms = []disconnectedBy{
	{"Disconnected by ", "", ""},             // default (English)
	{"Връзката бе прекъсната от „", "", "“"}, // bg
	{"Frakoblet af ", "", ""},                // da
	{"Getrennt durch Benutzer ", "", ""},     // de
	{"Desconectado por ", "", ""},            // es, pt_BR
	{"Disconnesso da ", "", ""},              // it
	{"", "がオフラインにしています。", ""},                // ja
	{"Отключён пользователем ", ": ", ""},    // ru
	{"Прекинута веза од стране ", "", ""},    // sr
	{"Frånkopplades av ", "", ""},            // sv_SE
	{"由 ", " 中斷連線", ""},                      // zh_TW
	{"被 ", "", "断开连接"},                       // zh_CN (in core until its Chinese files moved to a plugin)
}

// DisconnectedBy renders a description as Jenkins does in English, for
// the fake controller's tests and the table test of Writer.
func DisconnectedBy(user, message string) string {
	if message != "" {
		message = " : " + message
	}
	return "Disconnected by " + user + message
}

// ParseDescription returns the writer's user id and the message, as
// written (not HTML-escaped), of a UserCause's description; ok is false
// when the description has none of the known forms. A user id with an API
// token cannot hold ':' (HTTP Basic splits there), so the id ends at the
// first " : ". The message is read from here rather than from
// offlineCauseReason: Jenkins escapes that one since 2.483, cuts it at the
// last " : ", and in a language whose form does not start with the
// words before the id (ja, bg) shows the whole description there.
func ParseDescription(description string) (writer, message string, ok bool) {
	for _, f := range disconnectedByForms {
		if w, m, ok := f.parse(description); ok {
			return w, m, true
		}
	}
	return "", "", false
}

// Writer returns the user id in a UserCause's description, or "".
func Writer(description string) string {
	w, _, _ := ParseDescription(description)
	return w
}

func (f disconnectedBy) parse(d string) (user, message string, ok bool) {
	inner, ok := strings.CutPrefix(d, f.before)
	if !ok {
		return "", "", false
	}
	if inner, ok = strings.CutSuffix(inner, f.after); !ok {
		return "", "", false
	}
	if f.between == "" {
		user, message, _ = strings.Cut(inner, " : ")
	} else {
		// "<id><between>" or "<id><between> : <message>"
		var found bool
		if user, message, found = strings.Cut(inner, f.between+" : "); !found {
			if user, ok = strings.CutSuffix(inner, f.between); !ok {
				return "", "", false
			}
		}
	}
	if user == "" || strings.ContainsAny(user, ":\n") {
		return "", "", false
	}
	return user, message, true
}

// SameUser reports whether a writer id is the watchdog's Jenkins user.
// Jenkins compares user ids without regard to case unless configured
// otherwise (the default IdStrategy), so two spellings are one user.
func SameUser(writer, user string) bool {
	return writer != "" && user != "" && strings.EqualFold(writer, user)
}
