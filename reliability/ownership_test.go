package reliability

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/agent"
	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/internal/testlab"
	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/switchover"
	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/watcher"
)

// heldEnv is an env on a Jenkins release where a person (bob) holds node
// with message, seen by a poll.
func heldEnv(t *testing.T, version, node, message string) *env {
	t.Helper()
	e := newEnv(t, envOptions{version: version})
	e.mustPoll()
	if err := e.fake.OperatorOffline(node, "bob", message); err != nil {
		t.Fatal(err)
	}
	e.mustPoll()
	return e
}

func pollN(e *env, n int) {
	e.t.Helper()
	for range n {
		e.mustPoll()
	}
}

func wantNodeState(t *testing.T, e *env, node string, st agent.State) {
	t.Helper()
	if got := metric(t, e.reg, "jenkins_failover_node_state", "node", node, "state", string(st)); got != 1 {
		t.Errorf("node_state{%s,%s} = %g, want 1 (%+v)", node, st, got, e.node(node))
	}
}

// Bob amends the parked standby's message: it is his hold now. When the
// primary dies the watchdog brings up the other standby, and at failback
// it leaves Bob's words as they are.
func TestAmendedParkIsAPersonsHold(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.mustPoll()
	amended := agent.ParkMessage(agent.ParkStandby) + " -- BROKEN DISK, DO NOT USE (bob)"
	if err := e.fake.OperatorOffline(standby1, "bob", amended); err != nil {
		t.Fatal(err)
	}
	e.mustPoll()
	wantNodeState(t, e, standby1, agent.Held)
	if status, _ := e.scrape(); !strings.Contains(status, `"heldBy": "bob"`) {
		t.Errorf("/status does not say Bob holds %s:\n%s", standby1, status)
	}
	_ = e.fake.KillAgent(primary)
	var posts int
	for range defaultParams.FailoverAfter + 2 {
		posts += countPosts(e.mustPoll(), standby1, "")
	}
	wantPhase(t, e, watcher.PhaseFailedOver, standby2)
	_ = e.fake.ReviveAgent(primary)
	for range defaultParams.FailbackAfter + 2 {
		posts += countPosts(e.mustPoll(), standby1, "")
	}
	wantPhase(t, e, watcher.PhaseNormal, primary)
	if posts != 0 {
		t.Errorf("%d POSTs to Bob's node", posts)
	}
	if n := e.node(standby1); n.CauseReason != amended || n.Writer != "bob" {
		t.Errorf("Bob's note is gone: %+v", n)
	}
}

// The same words, written by someone else, are no claim: a claim naming
// this very instance does not make it toggle the node.
func TestForgedClaimIsAHold(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.mustPoll()
	forged := agent.ClaimMessage(agent.SanitizeInstance(defaultParams.Instance), e.groups[0].Name())
	if err := e.fake.OperatorOffline(standby1, "mallory", forged); err != nil {
		t.Fatal(err)
	}
	_ = e.fake.KillAgent(primary)
	var toggles int
	for range defaultParams.FailoverAfter + 2 {
		toggles += countPosts(e.mustPoll(), standby1, "toggleOffline")
	}
	if toggles != 0 {
		t.Errorf("toggled the node carrying a forged claim %d times", toggles)
	}
	wantNodeState(t, e, standby1, agent.Held)
	wantPhase(t, e, watcher.PhaseFailedOver, standby2)
}

// A colleague appends to the maintenance message: `maintenance end`
// leaves the primary offline, naming who holds it.
func TestAmendedMaintenanceStaysOffline(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.mustPoll()
	c, err := e.lab.NewClient(testlab.ClientOptions{User: testUser, Token: testToken})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if res := switchover.Start(ctx, c, e.groups, "kernel upgrade"); res[0].Err != nil {
		t.Fatalf("start: %+v", res)
	}
	n := e.node(primary)
	if err := e.fake.OperatorOffline(primary, "carol", n.CauseReason+" -- PSU FAILED, DO NOT BRING BACK"); err != nil {
		t.Fatal(err)
	}
	res := switchover.End(ctx, c, e.groups, false)
	if res[0].Err == nil || res[0].Done || !strings.Contains(res[0].Err.Error(), "someone else") {
		t.Errorf("end: %+v", res)
	}
	if n := e.node(primary); !n.TemporarilyOffline || !strings.Contains(n.CauseReason, "PSU FAILED") {
		t.Errorf("primary after end: %+v", n)
	}
}

// On a release with jenkinsci/jenkins #26750 a Configuration-as-Code
// reload drops Bob's hold with every other temporary mark: the watchdog
// writes it back at once, marked restored, and fails over past it.
func TestDroppedHoldIsWrittenBack(t *testing.T) {
	e := heldEnv(t, "2.541.1", standby1, "disk check")
	e.fake.ReloadCasC()
	if n := e.node(standby1); n.TemporarilyOffline {
		t.Fatalf("the reload kept the hold: %+v", n)
	}
	recs := e.mustPoll()
	want := agent.RestoredHoldMessage("bob", "disk check")
	if n := e.node(standby1); !n.TemporarilyOffline || n.CauseReason != want {
		t.Fatalf("hold not written back: %+v", n)
	}
	if posts := countPosts(recs, standby1, ""); posts != 1 {
		t.Errorf("%d POSTs to the held node, want the one write-back", posts)
	}
	if got := metric(t, e.reg, "jenkins_failover_holds_restored_total", "group", e.groups[0].Name(), "result", "ok"); got != 1 {
		t.Errorf("holds_restored_total{ok} = %g, want 1", got)
	}
	if !strings.Contains(e.logs.String(), "wrote it back, marked as restored") {
		t.Errorf("no log of the write-back:\n%s", e.logs.String())
	}
	wantNodeState(t, e, standby1, agent.Held)
	_ = e.fake.KillAgent(primary)
	var toggles int
	for range defaultParams.FailoverAfter + 2 {
		toggles += countPosts(e.mustPoll(), standby1, "toggleOffline")
	}
	if toggles != 0 {
		t.Errorf("toggled the restored hold %d times", toggles)
	}
	wantPhase(t, e, watcher.PhaseFailedOver, standby2)

	// Bob releases the restored hold himself: his release stands.
	if err := e.fake.OperatorOnline(standby1); err != nil {
		t.Fatal(err)
	}
	pollN(e, 2)
	if n := e.node(standby1); strings.Contains(n.CauseReason, "hold restored") {
		t.Errorf("Bob's own release was undone: %+v", n)
	}
}

// On a release that keeps holds, a person releasing one is just that.
func TestPersonsReleaseStands(t *testing.T) {
	e := heldEnv(t, "", standby1, "disk check")
	if err := e.fake.OperatorOnline(standby1); err != nil {
		t.Fatal(err)
	}
	e.mustPoll()
	if got := metricSum(t, e.reg, "jenkins_failover_holds_restored_total"); got != 0 {
		t.Errorf("holds_restored_total = %g after a person's release", got)
	}
	if n := e.node(standby1); strings.Contains(n.CauseReason, "hold restored") {
		t.Errorf("a person's release was undone: %+v", n)
	}
	// A restart there keeps holds: one released across it is the person's.
	if err := e.fake.OperatorOffline(standby2, "bob", "cabling"); err != nil {
		t.Fatal(err)
	}
	e.mustPoll()
	e.fake.Restart()
	_ = e.fake.OperatorOnline(standby2)
	e.mustPoll()
	if n := e.node(standby2); strings.Contains(n.CauseReason, "hold restored") {
		t.Errorf("a release across a restart that keeps holds was undone: %+v", n)
	}
}

// Claims rewritten every poll under ever new instance names (with the
// watchdog's own user, the only one whose claims count) keep restarting
// the wait for a peer; the standby is given up all the same after
// AttemptBound polls and the healthy second standby carries.
func TestRotatingClaimDoesNotBlockFailover(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.mustPoll()
	_ = e.fake.KillAgent(primary)
	group := e.groups[0].Name()
	bound := watcher.AttemptBound(defaultParams.StandbyWait)
	var polls int
	for polls = 1; polls <= defaultParams.FailoverAfter+bound+3; polls++ {
		if n := e.node(standby1); n.TemporarilyOffline && !strings.Contains(n.CauseReason, "did not come online") {
			_ = e.fake.OperatorOffline(standby1, testUser, agent.ClaimMessage(fmt.Sprintf("ghost-%d", polls), group))
		}
		e.mustPoll()
		if e.state(group).Phase == watcher.PhaseFailedOver {
			break
		}
	}
	wantPhase(t, e, watcher.PhaseFailedOver, standby2)
	if got := metric(t, e.reg, "jenkins_failover_peer_claims_total", "group", group, "outcome", "abandoned"); got != 1 {
		t.Errorf("peer_claims_total{abandoned} = %g, want 1", got)
	}
	t.Logf("failed over to %s after %d polls (bound %d)", standby2, polls, bound)
}

// On a release with #26750 a controller restart drops holds of the nodes
// configured as code: written back.
func TestHoldDroppedByRestartIsWrittenBack(t *testing.T) {
	e := heldEnv(t, "2.541.1", primary, "kernel panic, do not use")
	e.fake.Restart()
	if n := e.node(primary); n.TemporarilyOffline {
		t.Fatalf("the restart kept the hold: %+v", n)
	}
	e.mustPoll()
	if n := e.node(primary); !n.TemporarilyOffline || n.CauseReason != agent.RestoredHoldMessage("bob", "kernel panic, do not use") {
		t.Errorf("the primary's hold was not written back: %+v", n)
	}
	wantNodeState(t, e, primary, agent.Held)
}

// On a release that drops holds, `maintenance end` still ends the
// maintenance: its release is no guess at a node save.
func TestMaintenanceEndsOnADroppingRelease(t *testing.T) {
	e := newEnv(t, envOptions{version: "2.541.1"})
	e.mustPoll()
	c, err := e.lab.NewClient(testlab.ClientOptions{User: testUser, Token: testToken})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if res := switchover.Start(ctx, c, e.groups, "kernel upgrade"); res[0].Err != nil {
		t.Fatalf("start: %+v", res)
	}
	pollN(e, 3)
	if res := switchover.End(ctx, c, e.groups, false); res[0].Err != nil {
		t.Fatalf("end: %+v", res)
	}
	pollN(e, defaultParams.FailbackAfter+2)
	if n := e.node(primary); n.TemporarilyOffline {
		t.Errorf("the primary is back in maintenance after maintenance end: %+v", n)
	}
	wantPhase(t, e, watcher.PhaseNormal, primary)
}

// A peer that never saw the hold parks the dropped node as a standby that
// came online by itself: the hold is written back over its park.
func TestHoldReparkedByAPeerIsWrittenBack(t *testing.T) {
	e := heldEnv(t, "2.541.1", standby1, "disk check")
	e.fake.ReloadCasC()
	// The peer's park lands before this instance's next poll.
	if err := e.fake.OperatorOffline(standby1, testUser, agent.ParkMessage(agent.ParkUnexpected)); err != nil {
		t.Fatal(err)
	}
	e.mustPoll()
	if n := e.node(standby1); n.CauseReason != agent.RestoredHoldMessage("bob", "disk check") {
		t.Errorf("the peer's park stands over Bob's hold: %+v", n)
	}
}

// Where a node save no longer drops holds (2.541.2 and later LTS), a
// person's release of their own hold stands even on a release that drops
// them on restart and reload.
func TestFirstReleaseStandsWhereSavesKeepHolds(t *testing.T) {
	for _, tc := range []struct {
		version  string
		restored bool
	}{{"2.541.1", true}, {"2.555.1", false}} {
		e := heldEnv(t, tc.version, standby1, "disk check")
		if err := e.fake.OperatorOnline(standby1); err != nil {
			t.Fatal(err)
		}
		e.mustPoll()
		if got := strings.Contains(e.node(standby1).CauseReason, "hold restored"); got != tc.restored {
			t.Errorf("%s: written back %t, want %t", tc.version, got, tc.restored)
		}
	}
}
