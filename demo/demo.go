// Package demo tells the failover story end to end with nothing installed:
// a fake Jenkins controller on loopback, the real watcher and Jenkins client
// against it over HTTP, an agent killed and brought back. It checks the
// watchdog's behaviour at every step and fails if it misbehaves.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/agent"
	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/config"
	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/internal/fakejenkins"
	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/internal/testlab"
	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/watcher"
)

// Options shape a demo run.
type Options struct {
	Out      io.Writer
	Interval time.Duration // time between polls; 0 for tests
	Registry *prometheus.Registry
	Sleep    func(context.Context, time.Duration) error // default: a real timer
	// Params are the watchdog's counts; unset means the package's Params.
	Params watcher.Params
	// OnStart, when set, receives the watcher once built so its status
	// and metrics can be served while the story runs.
	OnStart func(w *watcher.Watcher)
}

const (
	primary  = "slave01"
	standby  = "slave02"
	user     = "watchdog"
	token    = "demo-token"
	maxPolls = 12 // per chapter: a watchdog that needs more is misbehaving
)

// Params used by the demo: short counts so the story is quick to watch.
var Params = watcher.Params{FailoverAfter: 2, FailbackAfter: 3, StandbyWait: 3, Failback: config.FailbackAuto}

// Run plays the story. It returns an error if the watchdog did anything it
// should not, or failed to do what it should.
func Run(ctx context.Context, o Options) error {
	if o.Sleep == nil {
		o.Sleep = sleep
	}
	params := o.Params
	if params.FailoverAfter == 0 {
		params = Params
	}
	start := time.Now()
	say := func(format string, args ...any) {
		fmt.Fprintf(o.Out, "%6.1fs  %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, args...))
	}

	// The standby waits, connected but temporarily offline: no builds land there.
	lab, err := testlab.New(testlab.Options{Pairs: primary + ":" + standby, User: user, Token: token})
	if err != nil {
		return err
	}
	defer lab.Close()
	fake, url := lab.Fake, lab.URL
	w, _, err := lab.NewWatcher(testlab.WatcherOptions{Params: params, Registry: o.Registry})
	if err != nil {
		return err
	}
	if o.OnStart != nil {
		o.OnStart(w)
	}
	say("fake Jenkins controller on %s: %s online, %s parked (temporarily offline)", url, primary, standby)
	say("watchdog: brings %s online once %s has read offline on %s in a row (WATCHDOG_FAILOVER_AFTER), parks it again once %s has read online on %s (WATCHDOG_FAILBACK_AFTER)",
		standby, primary, pollCount(params.FailoverAfter), primary, pollCount(params.FailbackAfter))

	polls := 0
	last := watcher.PhaseUnknown
	reached := map[watcher.Phase]int{} // the poll on which the group last entered each phase
	poll := func() error {
		if polls > 0 {
			if err := o.Sleep(ctx, o.Interval); err != nil {
				return err
			}
		}
		polls++
		if err := w.Poll(ctx); err != nil {
			return fmt.Errorf("poll %d failed: %w", polls, err)
		}
		st := w.GroupState(primary)
		if st.Phase != last {
			reached[st.Phase] = polls
			say("poll %-3d group %s: %s -> %s (active: %s)", polls, primary, last, st.Phase, orNone(st.Active))
			last = st.Phase
		}
		return nil
	}
	until := func(want watcher.Phase) error {
		for range maxPolls {
			if err := poll(); err != nil {
				return err
			}
			if last == want {
				return nil
			}
		}
		return fmt.Errorf("group never reached %s within %d polls (stuck in %s)", want, maxPolls, last)
	}

	// Chapter 1: steady state.
	if err := until(watcher.PhaseNormal); err != nil {
		return err
	}
	b1, err := fake.StartBuild(primary)
	if err != nil {
		return fmt.Errorf("build on %s: %w", primary, err)
	}
	say("build #%d running on %s", b1, primary)

	// Chapter 2: the primary's agent dies.
	if err := fake.KillAgent(primary); err != nil {
		return err
	}
	say("KILL: %s's agent process dies (its running build #%d is lost with it)", primary, b1)
	killedAt := polls
	if err := until(watcher.PhaseFailedOver); err != nil {
		return err
	}
	if n, _ := fake.Node(standby); n.Offline {
		return errors.New("failed over, yet the standby reads offline in Jenkins")
	}
	// The counts the story tells are the watchdog's parameters; the demo
	// checks that the watchdog kept to them.
	if offline := reached[watcher.PhaseFailingOver] - killedAt; offline != params.FailoverAfter {
		return fmt.Errorf("asked %s online after %d offline polls, want %d", standby, offline, params.FailoverAfter)
	}
	say("failover: %s read offline on %s, so %s was brought online; seen online on the next poll, it now takes the builds",
		primary, pollCount(params.FailoverAfter), standby)
	b2, err := fake.StartBuild(standby)
	if err != nil {
		return fmt.Errorf("build on %s after failover: %w", standby, err)
	}
	say("build #%d running on %s", b2, standby)

	// Chapter 3: the primary comes back; the standby is parked, its build goes on.
	if err := fake.ReviveAgent(primary); err != nil {
		return err
	}
	if err := fake.Relaunch(primary); err != nil {
		return err
	}
	say("REVIVE: %s's machine is back and Jenkins relaunches its agent", primary)
	revivedAt := polls
	if err := until(watcher.PhaseNormal); err != nil {
		return err
	}
	if online := polls - revivedAt; online != params.FailbackAfter {
		return fmt.Errorf("parked %s after %d online polls, want %d", standby, online, params.FailbackAfter)
	}
	n, _ := fake.Node(standby)
	if !n.TemporarilyOffline || !strings.Contains(n.CauseReason, agent.ParkTag) {
		return fmt.Errorf("after failback the standby should be parked by the watchdog; reads temporarilyOffline=%t reason=%q", n.TemporarilyOffline, n.CauseReason)
	}
	if _, state, _ := fake.Build(b2); state != fakejenkins.BuildState("running") {
		return fmt.Errorf("build #%d on the standby should still run after parking; it is %s", b2, state)
	}
	say("failback: %s read online on %s, so %s was parked (%q); build #%d still running there",
		primary, pollCount(params.FailbackAfter), standby, n.CauseReason, b2)
	if err := fake.FinishBuild(b2); err != nil {
		return err
	}
	say("build #%d finished normally", b2)

	// The rules the watchdog lives by, checked against the controller's log.
	for _, r := range fake.Requests() {
		if r.Method == http.MethodPost && strings.Contains(r.Path, "/computer/"+primary+"/") {
			return fmt.Errorf("the watchdog sent %s %s to the primary", r.Method, r.Path)
		}
	}
	say("checked: no request ever changed %s; %d polls, each one GET of all computers", primary, polls)
	say("story complete: failover and failback worked")
	return nil
}

func pollCount(n int) string {
	if n == 1 {
		return "1 poll"
	}
	return fmt.Sprintf("%d polls", n)
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
