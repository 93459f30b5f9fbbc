package reliability

import (
	"sync"
	"testing"
	"time"

	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/agent"
	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/internal/testlab"
)

// A parked SSH standby whose channel stays down (no Always retention
// strategy relaunching it) is launched with WATCHDOG_KEEP_WARM, at most
// once per interval, and stays parked; without the variable it is not.
func TestKeepWarmLaunchesAParkedStandbyAtABoundedRate(t *testing.T) {
	for _, every := range []time.Duration{0, 5 * time.Minute} {
		e := newEnv(t, envOptions{})
		var mu sync.Mutex
		now := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
		clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
		advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
		p := defaultParams
		p.KeepWarm = every
		e.w, e.reg = e.lab.MustWatcher(t, testlab.WatcherOptions{
			Client: testlab.ClientOptions{User: testUser, Token: testToken}, Params: p, Now: clock, Log: e.logs})
		e.mustPoll()
		_ = e.fake.KillAgent(standby1)
		_ = e.fake.ReviveAgent(standby1) // the machine is back; nothing launches the agent
		launches := 0
		for range 12 { // an hour at 5-minute steps... in 1-minute polls
			for range 5 {
				advance(time.Minute)
				launches += countPosts(e.mustPoll(), standby1, "launchSlaveAgent")
				if every > 0 && launches > 0 {
					_ = e.fake.KillAgent(standby1) // it dies again; the rate must hold
					_ = e.fake.ReviveAgent(standby1)
				}
			}
		}
		n := e.node(standby1)
		switch {
		case every == 0 && launches != 0:
			t.Errorf("keep-warm off: %d launches", launches)
		case every > 0 && (launches < 6 || launches > 12):
			t.Errorf("keep-warm every %s: %d launches in an hour, want one per interval at most", every, launches)
		case !n.TemporarilyOffline || agent.Classify(agent.NodeInfo{Offline: n.Offline, TemporarilyOffline: n.TemporarilyOffline, CauseClass: n.CauseClass,
			CauseReason: n.CauseReason, Writer: n.Writer, ByWatchdog: agent.SameUser(n.Writer, testUser)}, true) != agent.Parked:
			t.Errorf("standby no longer parked: %+v", n)
		}
		t.Logf("keep-warm %s: %d launches in an hour", every, launches)
	}
}
