package watcher

import "testing"

// The releases that drop holds on restart and reload (#26750) and on a
// node save (#26146), at each edge, and versions that do not parse.
func TestReleasesThatDropHolds(t *testing.T) {
	for _, tt := range []struct {
		version      string
		drops, saves bool
	}{
		{"2.479.3", false, false},
		{"2.481", false, false},
		{"2.482", true, true},
		{"2.528.3", true, true},
		{"2.541.1", true, true},
		{"2.541.2", true, false},
		{"2.542", true, true},
		{"2.547", true, true},
		{"2.548", true, false},
		{"2.555.2", true, false},
		{"2.555.3", false, false},
		{"2.555.10", false, false},
		{"2.556", true, false},
		{"2.563", true, false},
		{"2.564", false, false},
		{"3.0", false, false},
		{"2.541.1-SNAPSHOT", true, true},
		{"", false, false},
		{"jenkins", false, false},
		{"2.1234567890", false, false}, // too many digits: unparsable
		{"2..482", false, false},
	} {
		if got := DropsHolds(tt.version); got != tt.drops {
			t.Errorf("DropsHolds(%q) = %t, want %t", tt.version, got, tt.drops)
		}
		if got := DropsHoldOnSave(tt.version); got != tt.saves {
			t.Errorf("DropsHoldOnSave(%q) = %t, want %t", tt.version, got, tt.saves)
		}
	}
}
