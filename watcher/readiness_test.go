package watcher_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/agent"
	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/watcher"
)

func nodeStatus(t *testing.T, st watcher.Status, name string) watcher.NodeStatus {
	t.Helper()
	for _, n := range st.Nodes {
		if n.Name == name {
			return n
		}
	}
	t.Fatalf("node %s not in /status", name)
	return watcher.NodeStatus{}
}

// A standby whose machine died reads parked, like a healthy one: /status
// and the metrics tell them apart by the channel, remember since when it
// has been down, and keep the last failed launch Jenkins showed.
func TestReadinessOfADeadStandby(t *testing.T) {
	l := newLab(t, labOptions{pairs: "slave01:slave02:slave03"})
	ready := `
# HELP jenkins_failover_group_ready_standbys Standbys of the group that could take over now (jenkins_failover_standby_ready summed).
# TYPE jenkins_failover_group_ready_standbys gauge
jenkins_failover_group_ready_standbys{group="slave01"} %d
# HELP jenkins_failover_standby_ready 1 when the standby could take over now: parked (or carrying) with its channel up, else 0.
# TYPE jenkins_failover_standby_ready gauge
jenkins_failover_standby_ready{group="slave01",node="slave02"} %d
jenkins_failover_standby_ready{group="slave01",node="slave03"} %d
`
	compare := func(group, s2, s3 int) {
		t.Helper()
		if err := testutil.GatherAndCompare(l.reg, strings.NewReader(fmt.Sprintf(ready, group, s2, s3)),
			"jenkins_failover_group_ready_standbys", "jenkins_failover_standby_ready"); err != nil {
			t.Error(err)
		}
	}
	compare(0, 0, 0) // before the first poll: nothing is known to be ready
	if st := l.w.Status(); st.Groups[0].Redundancy != "0 of 2 standbys ready" || nodeStatus(t, st, "slave02").Readiness.Why != agent.WhyUnknown {
		t.Errorf("before the first poll: %q, %+v", st.Groups[0].Redundancy, nodeStatus(t, st, "slave02").Readiness)
	}
	l.mustPoll()
	compare(2, 1, 1)

	must(t, l.fake.KillAgent("slave02"))
	down := l.clock.Now()
	l.mustPoll()
	l.mustPoll()
	compare(1, 0, 1)
	st := l.w.Status()
	if g := st.Groups[0]; g.ReadyStandbys != 1 || g.Redundancy != "1 of 2 standbys ready" {
		t.Errorf("group: %d ready, %q", g.ReadyStandbys, g.Redundancy)
	}
	r := nodeStatus(t, st, "slave02").Readiness
	if r == nil || r.Ready || r.Why != agent.WhyParkedDown || r.DisconnectedSince == nil || !r.DisconnectedSince.Equal(down) {
		t.Fatalf("slave02 readiness: %+v, want not ready, disconnected since %v", r, down)
	}
	if r := nodeStatus(t, st, "slave03").Readiness; r == nil || !r.Ready || r.Why != agent.WhyParkedConnected || r.DisconnectedSince != nil {
		t.Errorf("slave03 readiness: %+v", r)
	}
	if nodeStatus(t, st, "slave01").Readiness != nil {
		t.Error("the primary has a readiness")
	}

	// Someone unparks it and Jenkins fails to launch it: the failure
	// shows, and is remembered once it is parked again.
	must(t, l.fake.OperatorOnline("slave02"))
	must(t, l.fake.Relaunch("slave02"))
	failedAt := l.clock.Now()
	l.mustPoll() // reads the failure, parks it again
	l.mustPoll()
	if n := l.node("slave02"); !n.TemporarilyOffline {
		t.Fatalf("slave02 was not parked again: %+v", n)
	}
	r = nodeStatus(t, l.w.Status(), "slave02").Readiness
	if r.LastLaunchFailure == nil || !r.LastLaunchFailure.Seen.Equal(failedAt) || !strings.Contains(r.LastLaunchFailure.Reason, "failed to launch") ||
		!r.DisconnectedSince.Equal(down) {
		t.Errorf("slave02 readiness after a failed launch: %+v (failure %+v)", r, r.LastLaunchFailure)
	}

	// The machine comes back and is launched: ready, and the memory of
	// the outage is gone.
	must(t, l.fake.ReviveAgent("slave02"))
	must(t, l.fake.Relaunch("slave02"))
	l.mustPoll()
	compare(2, 1, 1)
	if r := nodeStatus(t, l.w.Status(), "slave02").Readiness; !r.Ready || r.DisconnectedSince != nil || r.LastLaunchFailure != nil {
		t.Errorf("slave02 back: %+v", r)
	}
}
