package agent

import "testing"

func TestClaimOwner(t *testing.T) {
	offline := func(reason string) NodeInfo {
		return NodeInfo{Offline: true, TemporarilyOffline: true, CauseClass: CauseUser, CauseReason: reason}
	}
	for _, tt := range []struct {
		name string
		n    NodeInfo
		want string
	}{
		{"own message reads back", offline(ClaimMessage("host-1-ab12", "slave01")), "host-1-ab12"},
		{"name sanitised as Jenkins shows it", offline(ClaimMessage("pod/a b:c", "g")), "podabc"},
		{"empty name", offline(ClaimMessage("", "g")), "watchdog"},
		{"plain park", offline(ParkMessage("primary is back")), ""},
		{"a person's words are no claim", offline("claimed by bob for testing"), ""},
		{"the tag must come first", offline("claimed by bob " + ParkTag), ""},
		{"online node has no claim", NodeInfo{CauseReason: ClaimMessage("x", "g")}, ""},
		{"no message", offline(""), ""},
	} {
		if got := ClaimOwner(tt.n); got != tt.want {
			t.Errorf("%s: ClaimOwner = %q, want %q", tt.name, got, tt.want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { SanitizeInstance("host-1-ab12") }); n != 0 {
		t.Errorf("SanitizeInstance of a clean name allocates %v times", n)
	}
	claimed := offline(ClaimMessage("h", "g"))
	if n := testing.AllocsPerRun(100, func() { ClaimOwner(claimed) }); n != 0 {
		t.Errorf("ClaimOwner allocates %v times", n)
	}
}

func TestMaintenanceMessage(t *testing.T) {
	msg := MaintenanceMessage("kernel upgrade " + ParkTag)
	n := NodeInfo{Offline: true, TemporarilyOffline: true, CauseClass: CauseUser, CauseReason: msg}
	if !InMaintenance(n) || Classify(n, true) != Held {
		t.Errorf("%q: in maintenance %t, state %s; want a held primary in maintenance", msg, InMaintenance(n), Classify(n, true))
	}
	if InMaintenance(NodeInfo{Offline: true, TemporarilyOffline: true, CauseClass: CauseUser, CauseReason: "RAID degraded, do not use"}) {
		t.Error("a person's own message reads as maintenance")
	}
}
