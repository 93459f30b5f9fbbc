package watcher_test

import (
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/agent"
	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/config"
	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/watcher"
)

// byteReader hands out the fuzzer's bytes, zeros once they run out.
type byteReader struct{ b []byte }

func (r *byteReader) next() byte {
	if len(r.b) == 0 {
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *byteReader) pick(n int) int { return int(r.next()) % n }

var (
	fuzzNodes  = []string{"p", "s1", "s2", "s3"}
	fuzzCauses = []string{"", agent.CauseUser, agent.CauseChannelTermination, agent.CauseLaunchFailed,
		"hudson.node_monitors.DiskSpaceMonitorDescriptor$DiskSpace"}
	fuzzReasons = []string{"", agent.ParkMessage(agent.ParkStandby), "disk replacement", "Connection was broken", "  ",
		agent.ParkMessage(agent.ParkGiveUpUp),
		agent.ParkMessage(agent.ParkGiveUpDown),
		agent.ClaimMessage("me", "p"), agent.ClaimMessage("peer", "p")}
)

// decideInput builds a group, a reading of its nodes, a previous state and
// the knobs from the fuzzer's bytes.
func decideInput(data []byte) (config.Group, watcher.GroupState, map[string]agent.NodeInfo, watcher.Params) {
	r := &byteReader{b: data}
	g := config.Group{Primary: "p", Standbys: fuzzNodes[1 : 2+r.pick(3)]}
	nodes := map[string]agent.NodeInfo{}
	for _, name := range g.Nodes() {
		bits := r.next()
		if bits&1 != 0 { // missing
			continue
		}
		n := agent.NodeInfo{Name: name, Offline: bits&2 != 0, Launchable: bits&8 != 0, Idle: bits&16 != 0}
		n.TemporarilyOffline = n.Offline && bits&4 != 0
		// offline is temporarilyOffline || no channel: an offline node that
		// is not temporarily offline has no channel.
		n.Connected = !n.Offline || (n.TemporarilyOffline && bits&32 != 0)
		if n.Offline {
			n.CauseClass = fuzzCauses[r.pick(len(fuzzCauses))]
			n.CauseReason = fuzzReasons[r.pick(len(fuzzReasons))]
			// Mostly the watchdog's own user, sometimes a person who
			// wrote the very same words.
			n.ByWatchdog = bits&64 == 0
		}
		nodes[name] = n
	}
	// A node outside the group must change nothing.
	nodes["other"] = agent.NodeInfo{Name: "other"}
	all := append([]string{""}, g.Nodes()...)
	prev := watcher.GroupState{
		Phase:            watcher.Phases[r.pick(len(watcher.Phases))],
		Active:           all[r.pick(len(all))],
		PrimaryDownPolls: int(r.next()) % 8,
		PrimaryUpPolls:   int(r.next()) % 8,
		// Only Decide sets a candidate, always a standby.
		Attempt: watcher.Attempt{
			Candidate:      append([]string{""}, g.Standbys...)[r.pick(len(g.Standbys)+1)],
			CandidatePolls: int(r.next()) % 6,
		},
		Grace: int(r.next()) % 3,
	}
	if r.next()&1 != 0 {
		prev.PrimaryDownPolls = 1<<30 - r.pick(2) // the counters' cap
	}
	tried := r.next()
	for i, s := range g.Standbys {
		if tried&(1<<i) != 0 {
			if prev.Tried == nil {
				prev.Tried = map[string]bool{}
			}
			prev.Tried[s] = tried&(1<<(i+4)) != 0
		}
	}
	p := watcher.Params{FailoverAfter: 1 + r.pick(4), FailbackAfter: 1 + r.pick(4), StandbyWait: 1 + r.pick(4),
		StartupPatience: r.pick(6), Failback: config.FailbackAuto, Instance: "me", DryRun: r.next()&2 != 0}
	prev.Claimed = append([]string{""}, g.Standbys...)[r.pick(len(g.Standbys)+1)]
	prev.PeerClaim = []string{"", "peer"}[r.pick(2)]
	prev.PeerClaimPolls = r.pick(5)
	prev.Polls = r.pick(12)
	if r.next()&1 != 0 {
		p.Failback = config.FailbackManual
	}
	return g, prev, nodes, p
}

// FuzzDecide checks the decision's invariants on random readings and
// previous states: never an action on the primary, a node outside the
// group, or a held or missing node; at most one standby brought online;
// the active node is the primary or a standby that reads online; the
// previous state is not modified; the same input gives the same decision.
func FuzzDecide(f *testing.F) {
	for _, s := range []string{
		"", "\x00\x00\x00", "\x01\x00\x06\x00", "\x02\x02\x06\x00\x00\x02\x03\x01", "\x00\x06\x00\x06\x01\x06\x02",
		"\x01\x02\x06\x01\x01\x06\x00\x00\x04\x03\x02\x01\x02\x00\x00\x33\x01\x01\x01\x00",
		"\x02\x02\x26\x02\x01\x0e\x04\x02\x08\x02\x00\x02\x05\x00\x05\x02\x00\x01\xff\x03\x03\x03\x01",
		"\x01\x00\x08\x02\x00\x03\x02\x00\x02\x07\x00\x02\x00\x01\x00\x00",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		g, prev, nodes, p := decideInput(data)
		triedBefore := maps.Clone(prev.Tried)
		in := watcher.Input{Nodes: nodes, Jitter: 1}
		d := watcher.Decide(g, prev, in, p)
		if !maps.Equal(prev.Tried, triedBefore) {
			t.Fatalf("Decide modified prev.Tried: %v -> %v", triedBefore, prev.Tried)
		}
		if again := watcher.Decide(g, prev, in, p); !reflect.DeepEqual(again, d) {
			t.Fatalf("not deterministic:\n%+v\n%+v", d, again)
		}
		state := func(n string) agent.State { info, ok := nodes[n]; return agent.Classify(info, ok) }
		explain := func() string {
			var b strings.Builder
			for _, n := range g.Nodes() {
				b.WriteString(n + "=" + string(state(n)) + " ")
			}
			return b.String()
		}
		online, launches := 0, 0
		seen := map[string]bool{}
		for _, a := range d.Actions {
			switch {
			case a.Node == g.Primary:
				t.Fatalf("action on the primary: %+v (%s)", a, explain())
			case !slices.Contains(g.Standbys, a.Node):
				t.Fatalf("action on a node outside the group: %+v", a)
			case state(a.Node) == agent.Held || state(a.Node) == agent.Missing:
				t.Fatalf("action on a %s node: %+v (%s)", state(a.Node), a, explain())
			case seen[string(a.Kind)+" "+a.Node]:
				t.Fatalf("the same action twice: %+v", d.Actions)
			}
			seen[string(a.Kind)+" "+a.Node] = true
			// Whatever the watchdog writes, it reads back as its own.
			if m, ok := agent.ParseMessage(a.Message); a.Message != "" && (!ok || m.Form != agent.FormPark && m.Form != agent.FormClaim) {
				t.Fatalf("the watchdog writes %q, which it would not read back as its own park or claim", a.Message)
			}
			switch a.Kind {
			case watcher.ActionOnline:
				online++
				if state(a.Node) != agent.Parked {
					t.Fatalf("online action on a %s node: %+v", state(a.Node), a)
				}
				// A dry run remembers no attempt: the candidate stays as it was.
				if !p.DryRun && d.Next.Candidate != a.Node {
					t.Fatalf("brought %s up but the candidate is %q", a.Node, d.Next.Candidate)
				}
			case watcher.ActionLaunch:
				launches++
				if n := nodes[a.Node]; n.Connected || !n.Launchable {
					t.Fatalf("launch of a connected or inbound node: %+v %+v", a, n)
				}
			}
		}
		// In down, every tried standby whose channel is down is launched.
		if online > 1 || (launches > 1 && d.Next.Phase != watcher.PhaseDown) {
			t.Fatalf("%d online and %d launch actions: %+v", online, launches, d.Actions)
		}
		for _, s := range []watcher.GroupState{d.Next, d.OnFailure} {
			if s.Phase == watcher.PhaseUnknown || !slices.Contains(watcher.Phases, s.Phase) {
				t.Fatalf("phase %q", s.Phase)
			}
			switch {
			case s.Active == "":
			case s.Active == g.Primary:
				if state(g.Primary) != agent.Online {
					t.Fatalf("active primary reads %s (%+v)", state(g.Primary), s)
				}
			case slices.Contains(g.Standbys, s.Active):
				// A carrier reconnecting after a channel drop is held
				// while the primary is back (no failback for a blip).
				reconnecting := s.Active == prev.Active && state(s.Active) == agent.Disconnected && prev.Phase.StandbyCarries()
				if state(s.Active) != agent.Online && !reconnecting {
					t.Fatalf("active standby %s reads %s (%+v, %s)", s.Active, state(s.Active), s, explain())
				}
			default:
				t.Fatalf("active %q is not in the group", s.Active)
			}
			if s.Phase.StandbyCarries() && !slices.Contains(g.Standbys, s.Active) {
				t.Fatalf("phase %s without a carrying standby: %+v", s.Phase, s)
			}
			if s.Phase == watcher.PhaseNormal && s.Active != g.Primary {
				t.Fatalf("normal with active %q", s.Active)
			}
			if s.Candidate != "" && !slices.Contains(g.Standbys, s.Candidate) {
				t.Fatalf("candidate %q is not a standby", s.Candidate)
			}
			// During a grace period after a controller restart a primary
			// reading offline is not counted: both counters may be zero.
			inGrace := prev.Grace > 0 && state(g.Primary) != agent.Online && s.PrimaryUpPolls == 0
			if ((s.PrimaryDownPolls == 0) == (s.PrimaryUpPolls == 0) && !inGrace) || s.PrimaryDownPolls < 0 || s.PrimaryUpPolls < 0 {
				t.Fatalf("poll counters %d down, %d up", s.PrimaryDownPolls, s.PrimaryUpPolls)
			}
		}
		if up := state(g.Primary) == agent.Online; up != (d.Next.PrimaryUpPolls > 0) {
			t.Fatalf("primary online=%v but counters %+v", up, d.Next)
		}
		if d.Failback && !slices.ContainsFunc(d.Actions, func(a watcher.Action) bool { return a.Kind == watcher.ActionPark && a.Commits }) {
			t.Fatalf("failback without parking the carrier: %+v", d)
		}
	})
}
