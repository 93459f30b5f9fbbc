package reliability

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/internal/fakejenkins"
	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/watcher"
)

// Several instances with the same configuration and the same Jenkins user,
// polling in lock step, the worst case: each round starts every instance's
// poll at once, so they read the same state and act on it together.
// Jenkins is the only thing they share; the claims written on the standby
// make exactly one of them toggle it. Every failover and failback happens
// once, no toggle is undone, no group is left down while a standby could
// carry it, and every instance ends up reporting the same state.
func TestInstancesInLockStep(t *testing.T) {
	for _, n := range []int{2, 3} {
		t.Run(fmt.Sprintf("%d instances", n), func(t *testing.T) { lockStep(t, n) })
	}
}

func lockStep(t *testing.T, instances int) {
	e := newEnv(t, envOptions{version: "2.541.3"})
	ws := []*watcher.Watcher{}
	regs := []*prometheus.Registry{}
	for i := range instances {
		p := defaultParams
		p.Instance = fmt.Sprintf("peer-%d", i)
		w, reg := e.newWatcher(testUser, testToken, 5*time.Second, p, e.logs)
		ws, regs = append(ws, w), append(regs, reg)
	}
	// In lock step, every instance reads the controller before any of
	// them changes it: a change waits until each instance's read of
	// this round has been answered. Without the gate, the goroutines'
	// scheduling decides whether a late reader sees a standby that a
	// faster instance already parked again (and so counts one unparked
	// standby where its peers count two).
	gate := newReadGate(instances)
	e.tr.mu.Lock()
	e.tr.hook, e.tr.after = gate.beforeRequest, gate.afterRequest
	e.tr.mu.Unlock()
	var history []bool // standby1 online after each round
	round := func() {
		t.Helper()
		gate.newRound()
		var wg sync.WaitGroup
		errs := make([]error, len(ws))
		for i, w := range ws {
			wg.Go(func() { errs[i] = w.Poll(context.Background()) })
		}
		wg.Wait()
		e.tr.waitIdle(t)
		for i, err := range errs {
			if err != nil {
				t.Fatalf("instance %d: %v", i, err)
			}
		}
		for i, w := range ws {
			if s := w.GroupState(primary); s.Phase == watcher.PhaseDown {
				t.Fatalf("instance %d left the group down while %s could carry it: %+v", i, standby1, s)
			}
		}
		if online := e.onlineStandbys(); len(online) > 1 {
			t.Fatalf("two standbys online: %v", online)
		}
		history = append(history, !e.node(standby1).Offline)
	}
	agree := func(phase watcher.Phase, active string) {
		t.Helper()
		for i, w := range ws {
			if s := w.GroupState(primary); s.Phase != phase || s.Active != active {
				t.Errorf("instance %d: %s active %q, want %s active %q", i, s.Phase, s.Active, phase, active)
			}
		}
	}

	round()
	agree(watcher.PhaseNormal, primary)
	_ = e.fake.KillAgent(primary)
	for range defaultParams.FailoverAfter + 2 {
		round()
	}
	agree(watcher.PhaseFailedOver, standby1)
	_ = e.fake.ReviveAgent(primary)
	_ = e.fake.Relaunch(primary)
	for range defaultParams.FailbackAfter + 2 {
		round()
	}
	agree(watcher.PhaseNormal, primary)

	// Jenkins drops the standby's parked state on a configuration
	// reload: every instance parks it again, none counts a failback.
	before := len(e.fake.Requests())
	e.fake.ReloadCasC()
	history = append(history, !e.node(standby1).Offline)
	if online := e.onlineStandbys(); len(online) != 2 {
		t.Fatalf("the reload should have unparked both standbys: %v", online)
	}
	round()
	round()
	agree(watcher.PhaseNormal, primary)

	recs := e.fake.Requests()
	if n := countPosts(recs, standby1, "toggleOffline"); n != 1 {
		t.Errorf("%s toggled %d times, want once", standby1, n)
	}
	if n := countPosts(recs[:before], standby2, ""); n != 0 {
		t.Errorf("%d changes asked of %s, the second standby, before the reload; want none", n, standby2)
	}
	if n := countPosts(recs[before:], standby2, "toggleOffline"); n != 0 {
		t.Errorf("%s toggled %d times after the reload; want parked only", standby2, n)
	}
	for i, node := range []string{standby1, standby2} {
		if n := e.node(node); !n.TemporarilyOffline {
			t.Errorf("standby %d (%s) not parked again after the reload: %+v", i+1, node, n)
		}
	}
	if up, down := transitions(history); up != 2 || down != 2 {
		// Online by the failover, parked by the failback; online by
		// Jenkins' reload, parked again.
		t.Errorf("%s went online %d times and offline %d times, want 2 and 2: %v", standby1, up, down, history)
	}
	// Every instance tells the same story: one failover, one failback,
	// two standbys unparked by Jenkins and parked again.
	for i, reg := range regs {
		for name, want := range map[string]float64{"jenkins_failover_failovers_total": 1, "jenkins_failover_failbacks_total": 1,
			"jenkins_failover_standby_unparked_total": 2} {
			if got := metric(t, reg, name, "group", primary); got != want {
				t.Errorf("instance %d: %s = %g, want %g", i, name, got, want)
			}
		}
	}
	for i, w := range ws {
		st := w.Status()
		if !st.Controller.Up || st.Groups[0].State != watcher.PhaseNormal {
			t.Errorf("instance %d /status: %+v", i, st.Groups[0])
		}
	}
	if n := countPostsWhere(recs, func(r fakejenkins.RequestRecord) bool { return r.Status >= 400 }); n != 0 {
		t.Errorf("%d changes refused by Jenkins", n)
	}
}

func transitions(history []bool) (up, down int) {
	for i := 1; i < len(history); i++ {
		switch {
		case history[i] && !history[i-1]:
			up++
		case !history[i] && history[i-1]:
			down++
		}
	}
	return up, down
}

func countPostsWhere(recs []fakejenkins.RequestRecord, f func(fakejenkins.RequestRecord) bool) int {
	n := 0
	for _, r := range recs {
		if r.Method == http.MethodPost && f(r) {
			n++
		}
	}
	return n
}

// readGate holds back every POST of a round until n reads of the list of
// computers have been answered in that round (or 10 s passed, so that an
// instance whose poll failed cannot hang the test).
type readGate struct {
	mu    sync.Mutex
	cond  *sync.Cond
	n     int
	reads int
}

func newReadGate(n int) *readGate {
	g := &readGate{n: n}
	g.cond = sync.NewCond(&g.mu)
	return g
}

func (g *readGate) newRound() {
	g.mu.Lock()
	g.reads = 0
	g.mu.Unlock()
}

func isListRead(r *http.Request) bool {
	return r.Method == http.MethodGet && strings.HasSuffix(strings.TrimSuffix(r.URL.Path, "/"), "/computer/api/json")
}

func (g *readGate) afterRequest(r *http.Request) {
	if !isListRead(r) {
		return
	}
	g.mu.Lock()
	g.reads++
	g.cond.Broadcast()
	g.mu.Unlock()
}

func (g *readGate) beforeRequest(r *http.Request) {
	if r.Method != http.MethodPost {
		return
	}
	expired := false
	timer := time.AfterFunc(10*time.Second, func() {
		g.mu.Lock()
		expired = true
		g.cond.Broadcast()
		g.mu.Unlock()
	})
	defer timer.Stop()
	g.mu.Lock()
	for g.reads < g.n && !expired {
		g.cond.Wait()
	}
	g.mu.Unlock()
}
