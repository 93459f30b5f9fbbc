package watcher

import (
	"bufio"
	"cmp"
	"io"
	"slices"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/agent"
)

// Even with every label pair and value shared, a scrape through the
// registry allocates some 200 bytes per series of its own (a dto.Metric,
// its hash, its place in the family) and holds all of them until the
// answer is written: about 5 MB at a thousand agents, which is what a 2 s
// scrape interval turns into resident memory. WriteText writes the same
// series, in the text format, straight from a copy of the values: a few
// tens of kilobytes per scrape. A /metrics handler can serve the registry
// without the per-node and per-group families and append these.

// WriteText writes the per-node and per-group families (actions_total,
// active_node, group_state, group_state_since_timestamp_seconds,
// node_online, node_state, standby_active_since_timestamp_seconds) in the Prometheus
// text format, exactly as the registry path exports them: families by name,
// series by label values, same HELP, TYPE and number formatting.
func (m *Metrics) WriteText(w io.Writer) error {
	return m.state.writeText(w)
}

// StateCollector is the collector of the per-node and per-group series
// that NewMetrics registered. A /metrics handler that writes them with
// WriteText unregisters it from the registry it serves as text, and keeps
// it in a registry of its own for the formats WriteText does not write
// (protobuf, OpenMetrics).
func (m *Metrics) StateCollector() prometheus.Collector { return m.state }

// textOrder is the order the registry sorts series into, fixed once: by
// family name, then by label values in the order of the label names.
type textOrder struct {
	groups                           []int // c.groups by name
	nodes                            []*nodeSeries
	members                          [][]int // per group: its nodes by name
	at                               [][]int // per group: where each of its nodes is in nodes
	phases, states, actions, results []int
}

func newTextOrder(groups []*groupSeries) textOrder {
	var o textOrder
	o.groups = sortedIndex(len(groups), func(i int) string { return groups[i].group.GetValue() })
	seen := map[*nodeSeries]bool{}
	for _, g := range groups {
		for _, n := range g.nodes {
			if !seen[n] {
				seen[n] = true
				o.nodes = append(o.nodes, n)
			}
		}
		o.members = append(o.members, sortedIndex(len(g.nodes), func(i int) string { return g.nodes[i].node.GetValue() }))
	}
	slices.SortFunc(o.nodes, func(a, b *nodeSeries) int { return cmp.Compare(a.node.GetValue(), b.node.GetValue()) })
	pos := make(map[*nodeSeries]int, len(o.nodes))
	for i, n := range o.nodes {
		pos[n] = i
	}
	for _, g := range groups {
		at := make([]int, len(g.nodes))
		for k, n := range g.nodes {
			at[k] = pos[n]
		}
		o.at = append(o.at, at)
	}
	o.phases = sortedIndex(len(Phases), func(i int) string { return string(Phases[i]) })
	o.states = sortedIndex(len(agent.States), func(i int) string { return string(agent.States[i]) })
	o.actions = sortedIndex(len(actionKinds), func(i int) string { return string(actionKinds[i]) })
	o.results = sortedIndex(len(actionResults), func(i int) string { return actionResults[i] })
	return o
}

// sortedIndex returns 0..n-1 ordered by key.
func sortedIndex(n int, key func(int) string) []int {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(key(a), key(b)) })
	return idx
}

// textSnapshot is the values a scrape writes, copied under the lock so
// that a slow reader never holds up a poll.
type textSnapshot struct {
	states []int          // per o.nodes
	ready  []bool         // per o.nodes
	counts []*dto.Counter // per o.nodes, len(actionKinds)*len(actionResults) each
	groups []groupValues  // per c.groups
}

type groupValues struct {
	phase, active       int
	since, standbySince float64
}

func (c *stateCollector) snapshot() textSnapshot {
	o := &c.text
	k := len(actionKinds) * len(actionResults)
	s := textSnapshot{
		states: make([]int, len(o.nodes)),
		ready:  make([]bool, len(o.nodes)),
		counts: make([]*dto.Counter, len(o.nodes)*k),
		groups: make([]groupValues, len(c.groups)),
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.refresh()
	for i, n := range o.nodes {
		s.states[i], s.ready[i] = n.state, n.ready
		copy(s.counts[i*k:], n.counts)
	}
	for i, g := range c.groups {
		s.groups[i] = groupValues{g.phase, g.active, g.since.GetValue(), g.standbySince.GetValue()}
	}
	return s
}

func (c *stateCollector) writeText(w io.Writer) error {
	s := c.snapshot()
	o := &c.text
	t := textWriter{w: bufio.NewWriterSize(w, 32<<10)}
	k := len(actionResults)

	t.header(famActions)
	for _, a := range o.actions {
		for i, n := range o.nodes {
			for _, r := range o.results {
				if v := s.counts[(i*len(actionKinds)+a)*k+r]; v != nil {
					t.series(famActions, "action", string(actionKinds[a]), "node", n.node.GetValue(), "result", actionResults[r], v.GetValue())
				}
			}
		}
	}
	t.header(famActiveNode)
	for _, gi := range o.groups {
		g := c.groups[gi]
		for _, ni := range o.members[gi] {
			t.series(famActiveNode, "group", g.group.GetValue(), "node", g.nodes[ni].node.GetValue(), "", "",
				oneIf(ni == s.groups[gi].active))
		}
	}
	t.header(famReadyStandbys)
	for _, gi := range o.groups {
		g := c.groups[gi]
		ready := 0
		for _, i := range o.at[gi][1:] {
			if s.ready[i] {
				ready++
			}
		}
		t.series(famReadyStandbys, "group", g.group.GetValue(), "", "", "", "", float64(ready))
	}
	t.header(famGroupState)
	for _, gi := range o.groups {
		for _, p := range o.phases {
			t.series(famGroupState, "group", c.groups[gi].group.GetValue(), "state", string(Phases[p]), "", "", oneIf(p == s.groups[gi].phase))
		}
	}
	t.header(famGroupSince)
	for _, gi := range o.groups {
		t.series(famGroupSince, "group", c.groups[gi].group.GetValue(), "", "", "", "", s.groups[gi].since)
	}
	t.header(famNodeOnline)
	online := slices.Index(agent.States, agent.Online)
	for i, n := range o.nodes {
		t.series(famNodeOnline, "node", n.node.GetValue(), "", "", "", "", oneIf(s.states[i] == online))
	}
	t.header(famNodeState)
	for i, n := range o.nodes {
		for _, st := range o.states {
			t.series(famNodeState, "node", n.node.GetValue(), "state", string(agent.States[st]), "", "", oneIf(st == s.states[i]))
		}
	}
	t.header(famStandbySince)
	for _, gi := range o.groups {
		t.series(famStandbySince, "group", c.groups[gi].group.GetValue(), "", "", "", "", s.groups[gi].standbySince)
	}
	t.header(famStandbyReady)
	for _, gi := range o.groups {
		g := c.groups[gi]
		for _, ni := range o.members[gi] {
			if ni == 0 {
				continue // the primary
			}
			t.series(famStandbyReady, "group", g.group.GetValue(), "node", g.nodes[ni].node.GetValue(), "", "", oneIf(s.ready[o.at[gi][ni]]))
		}
	}
	if t.err != nil {
		return t.err
	}
	return t.w.Flush()
}

func oneIf(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// textWriter writes the text format; the first error sticks.
type textWriter struct {
	w   *bufio.Writer
	num []byte
	err error
}

const familyPrefix = "jenkins_failover_"

func (t *textWriter) header(f Family) {
	t.str("# HELP " + f.FullName() + " ")
	t.escaped(f.Help, false)
	t.str("\n# TYPE " + f.FullName() + " " + f.Type + "\n")
}

// series writes one line with up to three labels (an empty name ends
// them). Names are valid Prometheus names; values are escaped.
func (t *textWriter) series(f Family, l1, v1, l2, v2, l3, v3 string, value float64) {
	t.str(familyPrefix)
	t.str(f.Name)
	t.str("{")
	t.label(l1, v1)
	if l2 != "" {
		t.str(",")
		t.label(l2, v2)
	}
	if l3 != "" {
		t.str(",")
		t.label(l3, v3)
	}
	t.str("} ")
	switch value {
	case 0:
		t.str("0")
	case 1:
		t.str("1")
	default:
		t.num = strconv.AppendFloat(t.num[:0], value, 'g', -1, 64)
		if t.err == nil {
			_, t.err = t.w.Write(t.num)
		}
	}
	t.str("\n")
}

func (t *textWriter) label(name, value string) {
	t.str(name)
	t.str(`="`)
	t.escaped(value, true)
	t.str(`"`)
}

func (t *textWriter) str(s string) {
	if t.err == nil {
		_, t.err = t.w.WriteString(s)
	}
}

// escaped writes s as the text format escapes it: backslash and newline
// always, double quotes inside label values.
func (t *textWriter) escaped(s string, quotes bool) {
	start := 0
	for i := 0; i < len(s); i++ {
		var esc string
		switch {
		case s[i] == '\\':
			esc = `\\`
		case s[i] == '\n':
			esc = `\n`
		case s[i] == '"' && quotes:
			esc = `\"`
		default:
			continue
		}
		t.str(s[start:i])
		t.str(esc)
		start = i + 1
	}
	t.str(s[start:])
}
