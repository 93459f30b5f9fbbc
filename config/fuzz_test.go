package config

import (
	"strings"
	"testing"
)

// FuzzParsePairs: WATCHDOG_PAIRS parsing never panics, and whatever it
// accepts is a valid set of groups: every node in exactly one group, at
// least two nodes per group, every name one the watchdog may manage, and
// printing the groups back parses to the same groups.
func FuzzParsePairs(f *testing.F) {
	for _, s := range []string{
		"slave01:slave02", "slave01:slave02:slave03,build-a:build-b", " a : b , c:d ", "agent 01:ağent",
		"", ",", "a", "a:", ":b", "a:a", "a:b,b:c", "a:b,,c:d", "(built-in):a", "master:a", "a/b:c",
		"a:b\x00", "a:b:c:d:e:f", "ÅÄÖ:日本", "a:b,a:c", ". :..", "a\t:b\n", strings.Repeat("n:", 50) + "z",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		groups, err := ParsePairs(s)
		if err != nil {
			if groups != nil {
				t.Fatalf("error %v with groups %v", err, groups)
			}
			return
		}
		if len(groups) == 0 {
			t.Fatal("no error and no group")
		}
		seen := map[string]bool{}
		var specs []string
		for _, g := range groups {
			nodes := g.Nodes()
			if len(nodes) < 2 {
				t.Fatalf("group %v has fewer than 2 nodes", nodes)
			}
			for _, n := range nodes {
				if seen[n] {
					t.Fatalf("node %q in two places: %v", n, groups)
				}
				seen[n] = true
				if err := checkNodeName(n); err != nil {
					t.Fatalf("accepted a bad name: %v", err)
				}
				if n != strings.TrimSpace(n) || strings.ContainsAny(n, ":,") {
					t.Fatalf("name %q not trimmed or holds a separator", n)
				}
			}
			specs = append(specs, strings.Join(nodes, ":"))
		}
		again, err := ParsePairs(strings.Join(specs, ","))
		if err != nil {
			t.Fatalf("groups %v do not parse back: %v", groups, err)
		}
		if len(again) != len(groups) {
			t.Fatalf("round trip: %v became %v", groups, again)
		}
		for i := range groups {
			if strings.Join(again[i].Nodes(), ":") != specs[i] {
				t.Fatalf("round trip: %v became %v", groups, again)
			}
		}
	})
}
