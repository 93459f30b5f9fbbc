package watcher_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/config"
	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/internal/fakejenkins"
	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/internal/testlab"
	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/watcher"
)

// The life of an installation around the steady state: the controller and
// the watchdog starting together, and Jenkins releases that unpark the
// standby on every start and reload.

const affectedJenkins = "2.541.3" // drops the parked state of agents configured as code

func lifecycleParams(patience int) watcher.Params {
	return watcher.Params{FailoverAfter: 2, FailbackAfter: 3, StandbyWait: 3, StartupPatience: patience,
		Failback: config.FailbackAuto, Instance: "lifecycle"}
}

func casc(names ...string) []fakejenkins.AgentSpec {
	var out []fakejenkins.AgentSpec
	for _, n := range names {
		out = append(out, fakejenkins.AgentSpec{Name: n, CasC: true})
	}
	return out
}

func pollN(t *testing.T, w *watcher.Watcher, n int) {
	t.Helper()
	for range n {
		if err := w.Poll(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}

func postsTo(l *testlab.Lab, node, action string) int {
	n := 0
	for _, r := range l.Fake.Requests() {
		if r.Method == http.MethodPost && strings.Contains(r.Path, "/computer/"+node+"/") && (action == "" || r.Action == action) {
			n++
		}
	}
	return n
}

// A watchdog that starts with the controller (a sidecar, docker compose
// up) sees the agents before their first connection: offline with no
// cause. Without patience it failed the group over on its second poll.
func TestColdStartWaitsForThePrimaryToConnect(t *testing.T) {
	for _, tt := range []struct {
		name     string
		patience int
		toggles  int
	}{
		{"with start-up patience", 5, 0},
		{"without it, the old behaviour", 0, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l := testlab.Start(t, testlab.Options{})
			l.Fake.Restart() // the controller starts: nothing connected yet
			w, _ := l.MustWatcher(t, testlab.WatcherOptions{Params: lifecycleParams(tt.patience)})
			pollN(t, w, 4) // Jenkins takes a while to launch the SSH agents
			l.Fake.RelaunchAll()
			pollN(t, w, 2)
			if got := postsTo(l, "slave02", "toggleOffline"); got != tt.toggles {
				t.Fatalf("standby toggled %d times during a cold start, want %d", got, tt.toggles)
			}
			if tt.toggles == 0 && l.Phase(w) != watcher.PhaseNormal {
				t.Errorf("phase %s after the agents connected, want normal", l.Phase(w))
			}
		})
	}
}

// A primary that is dead when the controller starts still fails over: at
// the end of the patience, or at once when Jenkins reports the launch
// failed.
func TestColdStartDeadPrimaryFailsOver(t *testing.T) {
	t.Run("launch failure ends the patience", func(t *testing.T) {
		l := testlab.Start(t, testlab.Options{})
		must(t, l.Fake.KillAgent("slave01"))
		l.Fake.Restart()
		w, _ := l.MustWatcher(t, testlab.WatcherOptions{Params: lifecycleParams(30)})
		pollN(t, w, 2)
		if l.Phase(w) != watcher.PhaseSuspect {
			t.Fatalf("phase %s while Jenkins still launches the primary, want suspect", l.Phase(w))
		}
		l.Fake.RelaunchAll() // slave01's machine is down: LaunchFailed; slave02 connects
		pollN(t, w, 3)       // claim, toggle, carried
		if ph := l.Phase(w); ph != watcher.PhaseFailedOver {
			t.Fatalf("phase %s after the primary's launch failed, want failed_over", ph)
		}
	})
	t.Run("patience runs out", func(t *testing.T) {
		l := testlab.Start(t, testlab.Options{})
		must(t, l.Fake.KillAgent("slave01"))
		l.Fake.Restart()
		must(t, l.Fake.Relaunch("slave02"))
		w, _ := l.MustWatcher(t, testlab.WatcherOptions{Params: lifecycleParams(4)})
		pollN(t, w, 3)
		if l.Phase(w) != watcher.PhaseSuspect {
			t.Fatalf("phase %s inside the patience, want suspect", l.Phase(w))
		}
		pollN(t, w, 2)
		if ph := l.Phase(w); ph != watcher.PhaseFailedOver {
			t.Fatalf("phase %s after the patience, want failed_over", ph)
		}
	})
}

// Jenkins 2.482 to 2.555.2 put a parked standby configured as code back
// online on every start and Configuration-as-Code reload. It is parked
// again at once, in auto and manual mode alike, and no failback is
// counted.
func TestStandbyUnparkedByJenkinsIsParkedAgain(t *testing.T) {
	for _, mode := range []config.FailbackMode{config.FailbackAuto, config.FailbackManual} {
		for _, event := range []string{"restart", "reload"} {
			t.Run(string(mode)+" "+event, func(t *testing.T) {
				logs := &testlab.SyncBuffer{}
				l := testlab.Start(t, testlab.Options{Agents: casc("slave01", "slave02"), Fake: fakejenkins.Options{Version: affectedJenkins}})
				p := lifecycleParams(5)
				p.Failback = mode
				w, reg := l.MustWatcher(t, testlab.WatcherOptions{Params: p, Log: logs})
				pollN(t, w, 2)
				if event == "restart" {
					l.Fake.Restart()
					l.Fake.RelaunchAll()
				} else {
					l.Fake.ReloadCasC()
				}
				if n := l.Node(t, "slave02"); n.Offline {
					t.Fatalf("the fake did not unpark the standby: %+v", n)
				}
				pollN(t, w, 1)
				if n := l.Node(t, "slave02"); !n.TemporarilyOffline {
					t.Fatalf("standby not parked again on the next poll: %+v", n)
				}
				pollN(t, w, 2)
				if ph := l.Phase(w); ph != watcher.PhaseNormal {
					t.Errorf("phase %s, want normal", ph)
				}
				if v, _ := testlab.Metric(t, reg, "jenkins_failover_standby_unparked_total", "group", "slave01"); v != 1 {
					t.Errorf("standby_unparked_total = %g, want 1", v)
				}
				if v, _ := testlab.Metric(t, reg, "jenkins_failover_failbacks_total", "group", "slave01"); v != 0 {
					t.Errorf("failbacks_total = %g, want 0: nothing failed over", v)
				}
				if got := postsTo(l, "slave02", "toggleOffline"); got != 0 {
					t.Errorf("standby toggled %d times", got)
				}
				if !strings.Contains(logs.String(), "came online with no failover in progress") {
					t.Error("no log line says what happened")
				}
			})
		}
	}
}

// Jenkins relaunching a dead primary shows it with no cause, as at a cold
// start. A watchdog that starts then (restarted, or a peer joining) has not
// seen the group parked: it takes the online standby for carrying, and
// leaves it alone.
func TestNewWatchdogDuringAnOutageKeepsTheCarrier(t *testing.T) {
	l := testlab.Start(t, testlab.Options{})
	w, _ := l.MustWatcher(t, testlab.WatcherOptions{Params: lifecycleParams(12)})
	pollN(t, w, 1)
	must(t, l.Fake.KillAgent("slave01"))
	pollN(t, w, 3)
	if ph := l.Phase(w); ph != watcher.PhaseFailedOver {
		t.Fatalf("setup: %s, want failed_over", ph)
	}
	must(t, l.Fake.LaunchInProgress("slave01"))
	p := lifecycleParams(12)
	p.Instance = "restarted"
	fresh, _ := l.MustWatcher(t, testlab.WatcherOptions{Params: p})
	l.Fake.ResetRequests()
	pollN(t, fresh, 3)
	pollN(t, w, 3)
	if n := l.Node(t, "slave02"); n.Offline {
		t.Fatalf("the carrying standby was parked: %+v", n)
	}
	if got := postsTo(l, "slave02", ""); got != 0 {
		t.Errorf("%d changes asked of the carrier", got)
	}
	for _, x := range []*watcher.Watcher{fresh, w} {
		if st := x.GroupState("slave01"); st.Phase != watcher.PhaseFailedOver || st.Active != "slave02" {
			t.Errorf("%+v, want failed_over on slave02", st)
		}
	}
}
