package testlab_test

import (
	"context"
	"testing"

	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/internal/testlab"
	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/watcher"
)

func TestLabWiresAWatcherToTheFake(t *testing.T) {
	for _, inProcess := range []bool{false, true} {
		l := testlab.Start(t, testlab.Options{Pairs: "slave01:slave02,a:b", InProcess: inProcess})
		if n := l.Node(t, "slave02"); !n.TemporarilyOffline {
			t.Errorf("standby not parked: %+v", n)
		}
		w, reg := l.MustWatcher(t, testlab.WatcherOptions{
			Params: watcher.Params{FailoverAfter: 2, FailbackAfter: 3, StandbyWait: 3}, Kinds: testlab.ErrorKinds()})
		if err := w.Poll(context.Background()); err != nil {
			t.Fatal(err)
		}
		if p := l.Phase(w); p != watcher.PhaseNormal {
			t.Errorf("phase %s, want normal", p)
		}
		if v, ok := testlab.Metric(t, reg, "jenkins_failover_jenkins_up"); !ok || v != 1 {
			t.Errorf("jenkins_up = %v %v", v, ok)
		}
		if v := testlab.MetricSum(t, reg, "jenkins_failover_jenkins_errors_total"); v != 0 {
			t.Errorf("errors = %v", v)
		}
		if _, ok := testlab.Metric(t, reg, "jenkins_failover_jenkins_errors_total", "kind", "no-such-kind"); ok {
			t.Error("a sample found for a label value nobody set")
		}
	}
}
