package config

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/agent"
)

// ParsePairs parses WATCHDOG_PAIRS: groups separated by commas, each a
// colon-separated priority list, primary first. Node names are trimmed of
// surrounding spaces; inner spaces are kept because Jenkins allows them.
func ParsePairs(s string) ([]Group, error) {
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("empty: want at least one group such as slave01:slave02")
	}
	seen := map[string]string{} // node -> group primary
	var groups []Group
	for i, spec := range strings.Split(s, ",") {
		spec = strings.TrimSpace(spec)
		if spec == "" {
			return nil, fmt.Errorf("group %d is empty", i+1)
		}
		parts := strings.Split(spec, ":")
		nodes := make([]string, 0, len(parts))
		for _, p := range parts {
			name := strings.TrimSpace(p)
			if err := checkNodeName(name); err != nil {
				return nil, fmt.Errorf("%q: %w", spec, err)
			}
			if g, dup := seen[name]; dup {
				if g == parts[0] || g == strings.TrimSpace(parts[0]) {
					return nil, fmt.Errorf("%q: node %q appears twice in the group", spec, name)
				}
				return nil, fmt.Errorf("%q: node %q is already in group %q; a node belongs to one group", spec, name, g)
			}
			seen[name] = strings.TrimSpace(parts[0])
			nodes = append(nodes, name)
		}
		if len(nodes) < 2 {
			return nil, fmt.Errorf("%q: a group needs a primary and at least one standby", spec)
		}
		groups = append(groups, Group{Primary: nodes[0], Standbys: nodes[1:]})
	}
	return groups, nil
}

// checkNodeName refuses names Jenkins would refuse and the built-in node,
// which the watchdog must never manage.
func checkNodeName(name string) error {
	if name == "" {
		return fmt.Errorf("empty node name")
	}
	if len(name) > agent.MaxNameBytes {
		return fmt.Errorf("node name %.40q... is %d bytes long, more than the %d a watched node name may have", name, len(name), agent.MaxNameBytes)
	}
	switch strings.ToLower(name) {
	case "(built-in)", "(master)", "built-in", "master", "built-in node":
		return fmt.Errorf("%q is the built-in node, which the watchdog never manages", name)
	}
	if strings.ContainsAny(name, `/\?*%!@#$^&|<>[];"'`) {
		return fmt.Errorf("node name %q has a character Jenkins does not allow", name)
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return fmt.Errorf("node name %q has a control character", name)
		}
	}
	if name == "." || name == ".." {
		return fmt.Errorf("node name %q is not allowed", name)
	}
	return nil
}
