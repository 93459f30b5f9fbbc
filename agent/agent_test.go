package agent

import (
	"strings"
	"testing"
)

// escape2483 is what Jenkins 2.483 and later show of a message in
// offlineCauseReason (hudson.Util.escape); before 2.483 it reads back raw.
func escape2483(s string) string {
	s = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&#039;", "\n", "<br>").Replace(s)
	for strings.Contains(s, "  ") {
		s = strings.Replace(s, "  ", "&nbsp; ", 1)
	}
	return s
}

func offline(writer, reason string) NodeInfo {
	return NodeInfo{Offline: true, TemporarilyOffline: true, CauseClass: CauseUser, CauseReason: reason,
		Writer: writer, ByWatchdog: SameUser(writer, "watchdog"), Connected: true}
}

// TestOwnership is the table of writers × texts: a message is the
// watchdog's own only when its user wrote exactly one of its forms, read
// back from Jenkins before or after 2.483's escaping.
func TestOwnership(t *testing.T) {
	park := ParkMessage(ParkStandby)
	claim := ClaimMessage("host-1-ab12", "slave01")
	maint := MaintenanceMessage("kernel upgrade")
	restored := RestoredHoldMessage("bob", "disk check")
	texts := []struct {
		name  string
		text  string
		form  Form
		state State // when the watchdog's user wrote it
	}{
		{"park", park, FormPark, Parked},
		{"park, primary back", ParkMessage(ParkPrimaryBack("slave 01")), FormPark, Parked},
		{"park, gave up", ParkMessage(ParkGiveUpDown), FormPark, Parked},
		{"claim", claim, FormClaim, Parked},
		{"maintenance", maint, FormMaintenance, Held},
		{"restored hold", restored, FormRestoredHold, Held},
		{"park amended", park + " -- BROKEN DISK, DO NOT USE (bob)", NotOwn, Held},
		{"park, unknown reason", ParkTag + " standby parked: because I say so", NotOwn, Held},
		{"claim amended", claim + " -- BROKEN", NotOwn, Held},
		{"claim, instance amended", ParkTag + " standby claimed by host-1 or ghost to carry group slave01", NotOwn, Held},
		{"maintenance amended", maint + " -- PSU FAILED, DO NOT BRING BACK", NotOwn, Held},
		{"restored amended", restored + " and more", NotOwn, Held},
		{"tag in the middle", "note " + park, NotOwn, Held},
		{"tag twice", park + park, NotOwn, Held},
		{"space before the tag", " " + park, NotOwn, Held},
		{"legacy maintenance form", "kernel upgrade (maintenance by jenkins-failover-watchdog)", NotOwn, Held},
		{"person's words", "disk replacement", NotOwn, Held},
		{"html in a park", ParkTag + " standby parked: <b>standby</b>", NotOwn, Held},
		{"no message", "", NotOwn, Parked},
	}
	writers := []struct {
		name   string
		writer string
		own    bool
	}{
		{"watchdog's user", "watchdog", true},
		{"watchdog's user, other case", "WatchDog", true},
		{"a person", "bob", false},
		{"unknown writer", "", false},
		{"a name containing the user", "watchdog-bob", false},
	}
	for _, w := range writers {
		for _, tt := range texts {
			for _, release := range []struct {
				name   string
				escape func(string) string
			}{{"before 2.483", func(s string) string { return s }}, {"2.483 and later", escape2483}} {
				n := offline(w.writer, release.escape(tt.text))
				wantForm, wantState := NotOwn, Held
				if w.own {
					wantForm, wantState = tt.form, tt.state
				}
				if tt.text == "" {
					wantState = Parked // no message is nobody's hold, whoever took it offline
				}
				if got := Own(n).Form; got != wantForm {
					t.Errorf("%s, %s, %s: Own = %d, want %d (%q)", w.name, tt.name, release.name, got, wantForm, n.CauseReason)
				}
				if got := Classify(n, true); got != wantState {
					t.Errorf("%s, %s, %s: Classify = %s, want %s (%q)", w.name, tt.name, release.name, got, wantState, n.CauseReason)
				}
			}
		}
	}
}

func TestFormsReadBackUnchanged(t *testing.T) {
	for _, msg := range []string{
		ParkMessage(ParkPrimaryBack(`a  b : c <x> & "q" 'r'`)),
		ClaimMessage("pod/a b:c", "grp <1>"),
		MaintenanceMessage("kernel [upgrade] : \"now\" & <then>\n  ok"),
		RestoredHoldMessage("bob smith", strings.Repeat("long words ", 100)),
	} {
		if escape2483(msg) != msg {
			t.Errorf("%q: Jenkins 2.483 and later show it as %q", msg, escape2483(msg))
		}
		if strings.Contains(msg, " : ") {
			t.Errorf("%q holds \" : \", where Jenkins cuts a message", msg)
		}
		if _, ok := ParseMessage(msg); !ok {
			t.Errorf("%q does not parse as the watchdog's own", msg)
		}
		if len(msg) > MaxNote+100 {
			t.Errorf("%q is %d bytes", msg, len(msg))
		}
	}
	for _, reason := range ParkReasons {
		if m, ok := ParseMessage(ParkMessage(reason)); !ok || m.Reason != reason {
			t.Errorf("ParkMessage(%q) reads back as %+v, %t", reason, m, ok)
		}
	}
}

func TestParsedFields(t *testing.T) {
	n := offline("watchdog", ClaimMessage("host-1-ab12", "slave01"))
	if got := ClaimOwner(n); got != "host-1-ab12" {
		t.Errorf("ClaimOwner = %q", got)
	}
	for id, want := range map[string]string{"pod/a b:c": "podabc", "": "watchdog"} {
		if got := ClaimOwner(offline("watchdog", ClaimMessage(id, "g"))); got != want {
			t.Errorf("ClaimOwner of instance %q = %q, want %q", id, got, want)
		}
	}
	if ClaimOwner(NodeInfo{CauseReason: ClaimMessage("x", "g"), CauseClass: CauseUser, ByWatchdog: true}) != "" {
		t.Error("an online node carries a claim")
	}
	r := offline("watchdog", RestoredHoldMessage("bob@example.com", "disk check"))
	if m := Own(r); m.Holder != "bob@example.com" || m.Note != "disk check" || Holder(r) != "bob@example.com" {
		t.Errorf("restored hold reads %+v, holder %q", m, Holder(r))
	}
	if got := Holder(offline("alice", "disk check")); got != "alice" {
		t.Errorf("Holder of a person's hold = %q", got)
	}
	monitor := NodeInfo{Offline: true, TemporarilyOffline: true, CauseClass: "hudson.node_monitors.DiskSpaceMonitorDescriptor$DiskSpace"}
	if got := Holder(monitor); got != "DiskSpace" {
		t.Errorf("Holder of a monitor's hold = %q", got)
	}
	if !InMaintenance(offline("watchdog", MaintenanceMessage("x"))) || InMaintenance(offline("bob", MaintenanceMessage("x"))) {
		t.Error("maintenance is the watchdog user's maintenance form only")
	}
	if n := testing.AllocsPerRun(100, func() { SanitizeInstance("host-1-ab12") }); n != 0 {
		t.Errorf("SanitizeInstance of a clean name allocates %v times", n)
	}
	if a := testing.AllocsPerRun(100, func() { ClaimOwner(n); Classify(n, true) }); a != 0 {
		t.Errorf("reading a claim allocates %v times", a)
	}
}

// TestWriter reads the writer out of every description form Jenkins core
// ships, with and without a message.
func TestWriter(t *testing.T) {
	forms := map[string]string{ // locale: SlaveComputer.DisconnectedBy
		"en": "Disconnected by {0}{1}", "bg": "Връзката бе прекъсната от „{0}{1}“", "da": "Frakoblet af {0}{1}",
		"de": "Getrennt durch Benutzer {0}{1}", "es": "Desconectado por {0}{1}", "it": "Disconnesso da {0}{1}",
		"ja": "{0}がオフラインにしています。{1}", "ru": "Отключён пользователем {0}: {1}", "zh_CN": "被 {0}{1}断开连接",
		"sr": "Прекинута веза од стране {0}{1}", "sv_SE": "Frånkopplades av {0}{1}", "zh_TW": "由 {0} 中斷連線{1}",
	}
	for locale, form := range forms {
		for _, msg := range []string{"", ParkMessage(ParkStandby), "x : y : z", "Disconnected by watchdog"} {
			for _, user := range []string{"watchdog", "bob", "alice@example.com"} {
				part := ""
				if msg != "" {
					part = " : " + msg
				}
				d := strings.NewReplacer("{0}", user, "{1}", part).Replace(form)
				if w, m, ok := ParseDescription(d); !ok || w != user || m != msg {
					t.Errorf("%s: ParseDescription(%q) = %q, %q, %t; want %q, %q", locale, d, w, m, ok, user, msg)
				}
			}
		}
	}
	if got := DisconnectedBy("bob", "m"); Writer(got) != "bob" {
		t.Errorf("DisconnectedBy reads back as %q", Writer(got))
	}
	for _, d := range []string{"", "Connection was broken", "Disconnected by ", "Disconnected by  : x"} {
		if got := Writer(d); got != "" {
			t.Errorf("Writer(%q) = %q, want none", d, got)
		}
	}
}

// Tokens keep exactly letters, digits, '.', '_' and '-' (and '@' in a
// holder), at most 256 bytes: the edges of each range, and the bytes
// next to them.
func TestTokens(t *testing.T) {
	for in, want := range map[string]string{
		"0-9.a_z-A_Z": "0-9.a_z-A_Z", "slave 01": "slave_01", "": "_", "/:@`{[": "______",
		strings.Repeat("x", 300): strings.Repeat("x", 300),
	} {
		if got := Token(in); got != want {
			t.Errorf("Token(%q) = %q, want %q", in, got, want)
		}
	}
	if got := holderToken("bob@example.com"); got != "bob@example.com" {
		t.Errorf("holderToken kept %q", got)
	}
	for s, want := range map[string]bool{strings.Repeat("a", 256): true, strings.Repeat("a", 257): false, "": false, "a b": false} {
		if got := isToken(s, false); got != want {
			t.Errorf("isToken(%d bytes %.10q) = %t", len(s), s, got)
		}
	}
	long := strings.Repeat("h", 250) + "-4711-3fa9c2"
	if got := SanitizeInstance(long); len(got) != 128 || !strings.HasSuffix(got, "-4711-3fa9c2") {
		t.Errorf("SanitizeInstance of a %d-byte id = %d bytes %q", len(long), len(got), got)
	}
	if m, ok := ParseMessage(ClaimMessage(long, strings.Repeat("g", 256))); !ok || m.Instance != SanitizeInstance(long) {
		t.Errorf("a claim by a long instance name does not read back: %+v %t", m, ok)
	}
	for in, want := range map[string]string{"09azAZ.-_": "09azAZ.-_", "a/b:c é": "abc", "/": "watchdog"} {
		if got := SanitizeInstance(in); got != want {
			t.Errorf("SanitizeInstance(%q) = %q, want %q", in, got, want)
		}
	}
}

// Disconnected with a person's message (doDisconnect) is theirs; a node
// monitor's cause on a node whose channel is down is no hold.
func TestDisconnectedByAPerson(t *testing.T) {
	person := NodeInfo{Offline: true, CauseClass: CauseUser, CauseReason: "unplugged for repair", Writer: "bob"}
	monitor := NodeInfo{Offline: true, CauseClass: "hudson.node_monitors.DiskSpaceMonitorDescriptor$DiskSpace", CauseReason: "disk"}
	if got := Classify(person, true); got != Held {
		t.Errorf("disconnected by a person: %s", got)
	}
	if got := Classify(monitor, true); got != Disconnected {
		t.Errorf("channel down with a monitor's cause: %s", got)
	}
}

// Whatever words a person gave, the forms the watchdog writes with them
// read back as its own.
func TestNotesAlwaysReadBack(t *testing.T) {
	for _, words := range []string{"a : : b", "x  :  :  y", "a <: b", "a : <> : b", "[[x]]", " : ", "::", "& : &", strings.Repeat("é : ", 200), "tab\t:\tsep"} {
		if _, ok := ParseMessage(MaintenanceMessage(words)); !ok {
			t.Errorf("MaintenanceMessage(%q) = %q does not read back", words, MaintenanceMessage(words))
		}
		holder := strings.Repeat("h", 300)
		if m, ok := ParseMessage(RestoredHoldMessage(holder, words)); !ok || len(m.Holder) > 128 {
			t.Errorf("RestoredHoldMessage(%d-byte holder, %q) = %q does not read back", len(holder), words, RestoredHoldMessage(holder, words))
		}
	}
}
