package watcher

import (
	"fmt"
	"testing"

	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/agent"
	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/config"
)

func TestAttemptTransitions(t *testing.T) {
	tried := map[string]bool{"s0": true}
	full := Attempt{Candidate: "s1", CandidatePolls: 2, Polls: 5, Claimed: "s1", PeerClaim: "peer", PeerClaimPolls: 3, PeerClaimWait: 4, Tried: tried}
	for _, tt := range []struct {
		name string
		do   func(*Attempt)
		want Attempt
	}{
		{"reset forgets everything", func(a *Attempt) { a.reset() }, Attempt{}},
		{"start: a new candidate, its counts from zero, no peer", func(a *Attempt) { a.start("s2") },
			Attempt{Candidate: "s2", Claimed: "s1", Tried: tried}},
		{"drop: tried, with its channel", func(a *Attempt) { a.drop(true) },
			Attempt{Claimed: "s1", Tried: map[string]bool{"s0": true, "s1": true}}},
		{"carried: only who carries and what was tried stay", func(a *Attempt) { a.carried("s1") },
			Attempt{Claimed: "s1", Tried: tried}},
		{"a new peer gets a wait of its own", func(a *Attempt) { a.waitForPeer(full, "other", 7) },
			Attempt{Candidate: "s1", CandidatePolls: 2, Polls: 5, Claimed: "s1", PeerClaim: "other", PeerClaimPolls: 1, PeerClaimWait: 7, Tried: tried}},
		{"the same peer keeps the wait drawn for it", func(a *Attempt) { a.waitForPeer(full, "peer", 7) },
			Attempt{Candidate: "s1", CandidatePolls: 2, Polls: 5, Claimed: "s1", PeerClaim: "peer", PeerClaimPolls: 4, PeerClaimWait: 4, Tried: tried}},
	} {
		a := full
		a.Tried = map[string]bool{"s0": true}
		tt.do(&a)
		if fmt.Sprint(a) != fmt.Sprint(tt.want) {
			t.Errorf("%s: %+v, want %+v", tt.name, a, tt.want)
		}
	}
	over := full
	over.PeerClaimPolls = over.PeerClaimWait
	if full.peerWaitOver("peer") || !over.peerWaitOver("peer") || over.peerWaitOver("other") {
		t.Error("peerWaitOver: the claim that stood its wait is over, another one is not")
	}
	if b := AttemptBound(3); b != 10 {
		t.Errorf("AttemptBound(3) = %d", b)
	}
}

// run plays polls of Decide, carrying the state over as the watcher does.
func run(g config.Group, prev GroupState, p Params, polls int, nodes func(poll int) map[string]agent.NodeInfo, jitter func(int) int) (GroupState, []Decision) {
	var ds []Decision
	for i := range polls {
		d := Decide(g, prev, Input{Nodes: nodesOf(nodes(i)), Jitter: jitter(i)}, p)
		ds = append(ds, d)
		prev = d.Next
	}
	return prev, ds
}

// A claim that changes hands every poll never stands its wait: the
// standby is given up after AttemptBound polls all the same, and the next
// one is claimed.
func TestRotatingClaimIsBounded(t *testing.T) {
	g := config.Group{Primary: "p", Standbys: []string{"s1", "s2"}}
	p := Params{FailoverAfter: 1, FailbackAfter: 1, StandbyWait: 3, Failback: config.FailbackAuto, Instance: "me"}
	start := GroupState{Phase: PhaseFailingOver, PrimaryDownPolls: 5, Settled: true, Attempt: Attempt{Candidate: "s1"}}
	ghost := func(i int) agent.NodeInfo {
		n := parkedPeer
		n.CauseReason = agent.ClaimMessage(fmt.Sprintf("ghost-%d", i), "p")
		return n
	}
	bound := AttemptBound(p.StandbyWait)
	_, ds := run(g, start, p, bound+1, func(i int) map[string]agent.NodeInfo {
		return map[string]agent.NodeInfo{"p": killed, "s1": ghost(i), "s2": parked}
	}, func(int) int { return p.StandbyWait })
	gaveUp := -1
	for i, d := range ds {
		if d.ClaimAbandoned != "" {
			gaveUp = i
			if len(d.Actions) == 0 || d.Actions[0].Kind != ActionPark || d.Actions[0].Node != "s1" {
				t.Errorf("poll %d: gave s1 up without parking it: %+v", i, d.Actions)
			}
			break
		}
		if d.Next.Candidate != "s1" {
			t.Fatalf("poll %d: candidate %q before the bound", i, d.Next.Candidate)
		}
	}
	if gaveUp != bound-1 {
		t.Fatalf("s1 given up on poll %d, want %d (AttemptBound)", gaveUp, bound-1)
	}
	if next := ds[gaveUp+1]; next.Next.Candidate != "s2" || len(next.Actions) == 0 || next.Actions[0].Kind != ActionClaim {
		t.Errorf("after giving s1 up: %+v, %+v", next.Next.Attempt, next.Actions)
	}
}

// The take-over wait is drawn once per claim and kept across polls,
// whatever jitter later polls draw; the claim is taken over when it has
// stood that long.
func TestTakeOverWaitDrawnOnce(t *testing.T) {
	g := config.Group{Primary: "p", Standbys: []string{"s1", "s2"}}
	p := Params{FailoverAfter: 1, FailbackAfter: 1, StandbyWait: 3, Failback: config.FailbackAuto, Instance: "me"}
	start := GroupState{Phase: PhaseFailingOver, PrimaryDownPolls: 5, Settled: true, Attempt: Attempt{Candidate: "s1"}}
	const first = 2
	_, ds := run(g, start, p, 8, func(int) map[string]agent.NodeInfo {
		return map[string]agent.NodeInfo{"p": killed, "s1": parkedPeer, "s2": parked}
	}, func(i int) int {
		if i == 0 {
			return first
		}
		return 0 // later draws would shorten the wait if they counted
	})
	wait := p.StandbyWait + first
	for i, d := range ds {
		if d.ClaimTakenOver != "" {
			if i != wait {
				t.Errorf("taken over on poll %d, want %d", i, wait)
			}
			if len(d.Actions) == 0 || d.Actions[0].Kind != ActionClaim || d.Actions[0].Replaces != "peer" {
				t.Errorf("take-over actions %+v", d.Actions)
			}
			return
		}
		if d.Next.PeerClaimWait != wait {
			t.Fatalf("poll %d: wait %d, want the %d drawn first", i, d.Next.PeerClaimWait, wait)
		}
	}
	t.Fatal("the claim was never taken over")
}
