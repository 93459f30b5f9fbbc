package switchover_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/agent"
	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/config"
	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/internal/fakejenkins"
	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/internal/testlab"
	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/switchover"
	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/watcher"
)

func TestPlannedSwitchoverGroupByGroup(t *testing.T) {
	l := testlab.Start(t, testlab.Options{Pairs: "slave01:slave02,build-a:build-b,lonely-a:lonely-b"})
	fake, groups := l.Fake, l.Groups
	// lonely-b is held by someone: lonely-a's group has no standby to move to.
	if err := fake.OperatorOffline("lonely-b", "bob", "broken disk"); err != nil {
		t.Fatal(err)
	}
	client, err := l.NewClient(testlab.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	build, err := fake.StartBuild("slave01")
	if err != nil {
		t.Fatal(err)
	}

	res := switchover.Start(ctx, client, groups, "kernel upgrade")
	if len(res) != 3 || !res[0].Done || !res[1].Done || res[2].Err == nil {
		t.Fatalf("start results = %+v; want the first two done and lonely-a refused", res)
	}
	for _, n := range []string{"slave01", "build-a"} {
		if s, _ := fake.Node(n); !s.TemporarilyOffline || s.CauseReason != agent.MaintenanceMessage("kernel upgrade") {
			t.Errorf("%s after start: %+v", n, s)
		}
	}
	if s, _ := fake.Node("lonely-a"); s.Offline {
		t.Error("lonely-a was taken offline although no standby could carry its group")
	}
	if _, state, _ := fake.Build(build); state != fakejenkins.BuildRunning {
		t.Errorf("build on the primary %s: maintenance must let it finish", state)
	}

	// The daemon fails the two groups over and shows them in maintenance.
	w, _ := l.MustWatcher(t, testlab.WatcherOptions{
		Params: watcher.Params{FailoverAfter: 1, FailbackAfter: 1, StandbyWait: 3, Failback: config.FailbackAuto}})
	for range 3 { // claim, toggle, carried

		if err := w.Poll(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for _, g := range []string{"slave01", "build-a"} {
		if st := w.GroupState(g); st.Phase != watcher.PhaseMaintenance {
			t.Errorf("group %s = %s, want maintenance", g, st.Phase)
		}
	}
	if st := w.GroupState("lonely-a"); st.Phase != watcher.PhaseNormal {
		t.Errorf("group lonely-a = %s, want normal", st.Phase)
	}

	// End: primaries back; one end fails (injected), the other goes ahead.
	fake.InjectFault(fakejenkins.Fault{Kind: fakejenkins.FaultStatus, Status: http.StatusInternalServerError, Method: http.MethodPost, Node: "build-a"})
	res = switchover.End(ctx, client, groups, false)
	if !res[0].Done || res[1].Err == nil || res[2].Done || res[2].Err != nil {
		t.Fatalf("end results = %+v", res)
	}
	for range 2 {
		if err := w.Poll(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if st := w.GroupState("slave01"); st.Phase != watcher.PhaseNormal {
		t.Errorf("slave01 after end = %s, want normal (failed back)", st.Phase)
	}
	if s, _ := fake.Node("slave02"); !s.TemporarilyOffline || !strings.Contains(s.CauseReason, agent.ParkTag) {
		t.Errorf("slave02 not parked after failback: %+v", s)
	}
	if st := w.GroupState("build-a"); st.Phase != watcher.PhaseMaintenance {
		t.Errorf("build-a = %s, want still in maintenance after its end failed", st.Phase)
	}
	// The daemon itself never sent a change to a primary.
	for _, r := range fake.Requests() {
		if r.Method == http.MethodPost && r.Action == "changeOfflineCause" && strings.Contains(r.RawQuery, "%5Bjenkins-failover-watchdog%5D+standby") {
			for _, g := range groups {
				if strings.Contains(r.Path, "/computer/"+g.Primary+"/") {
					t.Errorf("watchdog parked primary: %+v", r)
				}
			}
		}
	}
}

// maintenance end brings back only the primaries maintenance start took
// offline: one a person took offline with their own message, or that a
// node monitor took offline, is reported and left alone; --force (for a
// group named on its own) brings a person's back.
func TestMaintenanceEndOnlyEndsWhatItStarted(t *testing.T) {
	l := testlab.Start(t, testlab.Options{Pairs: "ours:ours-b,raid:raid-b,disk:disk-b"})
	client, err := l.NewClient(testlab.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if res := switchover.Start(ctx, client, l.Groups[:1], "kernel upgrade"); !res[0].Done {
		t.Fatalf("start: %+v", res)
	}
	if err := l.Fake.OperatorOffline("raid", "bob", "RAID degraded, do not use"); err != nil {
		t.Fatal(err)
	}
	if err := l.Fake.MonitorOffline("disk"); err != nil {
		t.Fatal(err)
	}
	res := switchover.End(ctx, client, l.Groups, false)
	if !res[0].Done || res[1].Done || res[1].Err == nil || res[2].Done || res[2].Err == nil {
		t.Fatalf("end --all: %+v", res)
	}
	if !strings.Contains(res[1].Err.Error(), "RAID degraded") || !strings.Contains(res[2].Err.Error(), "DiskSpace") {
		t.Errorf("the report does not say who holds them: %v / %v", res[1].Err, res[2].Err)
	}
	if n := l.Node(t, "raid"); !n.TemporarilyOffline || n.CauseReason != "RAID degraded, do not use" {
		t.Errorf("a person's primary was changed: %+v", n)
	}
	if n := l.Node(t, "disk"); !n.TemporarilyOffline {
		t.Errorf("the monitor's primary was brought back: %+v", n)
	}
	if n := l.Node(t, "ours"); n.Offline {
		t.Errorf("the primary maintenance start took offline is still offline: %+v", n)
	}
	res = switchover.End(ctx, client, l.Groups[1:2], true)
	if !res[0].Done {
		t.Fatalf("end --force raid: %+v", res)
	}
	if n := l.Node(t, "raid"); n.Offline {
		t.Errorf("--force did not bring the named primary back: %+v", n)
	}
}

// A standby that is parked with its channel down carries only if Jenkins
// can launch it: maintenance start refuses a group whose only standby is a
// dead inbound agent, rather than leave it down.
func TestMaintenanceStartNeedsAStandbyThatCanConnect(t *testing.T) {
	l := testlab.Start(t, testlab.Options{Inbound: map[string]bool{"slave02": true}})
	if err := l.Fake.KillAgent("slave02"); err != nil { // parked, disconnected, inbound
		t.Fatal(err)
	}
	client, err := l.NewClient(testlab.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	res := switchover.Start(context.Background(), client, l.Groups, "kernel upgrade")
	if res[0].Done || res[0].Err == nil {
		t.Fatalf("start with only a dead inbound standby: %+v", res[0])
	}
	if n := l.Node(t, "slave01"); n.Offline {
		t.Errorf("the primary was taken offline: %+v", n)
	}
}

// maintenance start with no standby that can carry refuses that group
// with a clear error naming each standby and why it cannot carry, leaves
// its primary online and untouched, and goes on with the other groups:
// before and after the refused ones. Without the check the primary would
// be taken offline before anything noticed there was no standby.
func TestMaintenanceStartWithNoUsableStandby(t *testing.T) {
	agents := []fakejenkins.AgentSpec{{Name: "held"}, {Name: "held-b"}, {Name: "ok"}, {Name: "ok-b"},
		{Name: "gone"}, {Name: "dead"}, {Name: "dead-b", Launch: fakejenkins.Inbound}, {Name: "two"}, {Name: "two-b"}, {Name: "two-c"}}
	l := testlab.Start(t, testlab.Options{Pairs: "held:held-b,ok:ok-b,gone:gone-b,dead:dead-b,two:two-b:two-c",
		Agents: agents, Parked: []string{"ok-b", "dead-b", "two-c"}})
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(l.Fake.OperatorOffline("held-b", "bob", "broken disk"))
	must(l.Fake.KillAgent("dead-b")) // parked, channel down, inbound: Jenkins cannot launch it
	must(l.Fake.OperatorOffline("two-b", "carol", "RAID rebuild"))
	must(l.Fake.MonitorOffline("two-c"))
	client, err := l.NewClient(testlab.ClientOptions{})
	must(err)

	res := switchover.Start(context.Background(), client, l.Groups, "kernel upgrade")
	if len(res) != 5 {
		t.Fatalf("%d results, want 5: %+v", len(res), res)
	}
	want := map[string]string{
		"held": `no standby of group held can carry it (held-b is held ("broken disk", a person)): primary held left online`,
		"gone": `no standby of group gone can carry it (gone-b is not on the controller): primary gone left online`,
		"dead": `no standby of group dead can carry it (dead-b is parked with its channel down, and Jenkins cannot launch an inbound agent): primary dead left online`,
		"two": `no standby of group two can carry it (two-b is held ("RAID rebuild", a person); ` +
			`two-c is held ("` + l.Node(t, "two-c").CauseReason + `", a node monitor: DiskSpace)): primary two left online`,
	}
	for _, r := range res {
		if r.Group == "ok" {
			if !r.Done || r.Err != nil {
				t.Errorf("group ok, whose standby can carry, was not started: %+v", r)
			}
			continue
		}
		if r.Done || r.Err == nil || r.Err.Error() != want[r.Group] {
			t.Errorf("group %s: done %t, error %v\nwant error %s", r.Group, r.Done, r.Err, want[r.Group])
		}
		if n := l.Node(t, r.Group); n.Offline {
			t.Errorf("primary %s was taken offline with no standby to carry: %+v", r.Group, n)
		}
	}
	if n := l.Node(t, "ok"); !n.TemporarilyOffline || n.CauseReason != agent.MaintenanceMessage("kernel upgrade") {
		t.Errorf("primary ok after start: %+v", n)
	}
	for _, r := range l.Fake.Requests() {
		if r.Method == http.MethodPost && !strings.Contains(r.Path, "/computer/ok/") {
			t.Errorf("a change was sent outside group ok: %+v", r)
		}
	}
}

// A primary that carries the watchdog's own park or claim (its user wrote
// exactly that form) was never taken offline by maintenance start nor by
// the daemon (which never parks a primary): something is wrong, and
// maintenance end leaves it offline and says so, even with --force, which
// stands for a person's own message only. Nothing is sent to it. (The
// same words by another user, or amended, are a person's hold.)
func TestMaintenanceEndForceLeavesAPrimaryWithTheParkTag(t *testing.T) {
	messages := map[string]string{
		"parked":  agent.ParkMessage(agent.ParkStandby),
		"claimed": agent.ClaimMessage("lab-1", "parked"),
	}
	for _, force := range []bool{true, false} {
		for name, msg := range messages {
			t.Run(fmt.Sprintf("%s force=%t", name, force), func(t *testing.T) {
				l := testlab.Start(t, testlab.Options{Pairs: name + ":" + name + "-b"})
				if err := l.Fake.OperatorOffline(name, testlab.DefaultUser, msg); err != nil {
					t.Fatal(err)
				}
				client, err := l.NewClient(testlab.ClientOptions{})
				if err != nil {
					t.Fatal(err)
				}
				before := l.Node(t, name)
				res := switchover.End(context.Background(), client, l.Groups, force)
				want := fmt.Sprintf("primary %s left offline: it carries the watchdog's park tag, which the watchdog never sets on a primary (%q); check it in Jenkins", name, before.CauseReason)
				if res[0].Done || res[0].Err == nil || res[0].Err.Error() != want {
					t.Errorf("end: done %t, error %v\nwant error %s", res[0].Done, res[0].Err, want)
				}
				if n := l.Node(t, name); n != before {
					t.Errorf("primary changed: %+v, was %+v", n, before)
				}
				for _, r := range l.Fake.Requests() {
					if r.Method == http.MethodPost {
						t.Errorf("a change was sent: %+v", r)
					}
				}
			})
		}
	}
}
