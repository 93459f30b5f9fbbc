package config

import (
	"strings"
	"testing"
)

// The built-in node is never managed, under any of the names Jenkins has
// given it (the URL name today and before 2.307, the display name, and
// the bare words people write), in any case and wherever it stands in a
// group. A name that only contains one of them is an ordinary agent.
func TestParsePairsRefusesTheBuiltInNode(t *testing.T) {
	for _, name := range []string{
		"(built-in)", "(master)", "built-in", "master", "Built-In Node",
		"(Built-In)", "(MASTER)", "Master", "BUILT-IN", "built-in node", " master ",
	} {
		for _, pairs := range []string{name + ":b", "a:" + name, "a:b:" + name, "a:b," + name + ":c"} {
			t.Run(pairs, func(t *testing.T) {
				groups, err := ParsePairs(pairs)
				if err == nil {
					t.Fatalf("ParsePairs(%q) = %v, want the built-in node refused", pairs, groups)
				}
				want := "is the built-in node, which the watchdog never manages"
				if !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), strings.TrimSpace(name)) {
					t.Errorf("error %q does not say that %q is the built-in node", err, name)
				}
			})
		}
	}
	for _, pairs := range []string{"master-1:b", "a:built-in-2", "build-master:b", "a:Built-In Node 2", "mastermind:b"} {
		if _, err := ParsePairs(pairs); err != nil {
			t.Errorf("ParsePairs(%q): %v, want an ordinary agent accepted", pairs, err)
		}
	}
}

// Through Load the refusal names the variable to fix.
func TestLoadRefusesTheBuiltInNode(t *testing.T) {
	for _, name := range []string{"master", "(master)", "built-in", "Built-In Node", "(built-in)"} {
		_, err := Load([]string{"JENKINS_URL=http://jenkins:8080", "WATCHDOG_PAIRS=slave01:" + name}, files(nil))
		want := `WATCHDOG_PAIRS: "slave01:` + name + `": "` + name + `" is the built-in node`
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("WATCHDOG_PAIRS=slave01:%s: error %v, want it to contain %q", name, err, want)
		}
	}
}
