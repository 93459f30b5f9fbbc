package reliability

import (
	"context"
	"flag"
	"math/rand/v2"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/agent"
	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/internal/fakejenkins"
	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/watcher"
)

var (
	soakDuration = flag.Duration("soak.duration", 0, "how long TestSoak runs (default 20s, 3s with -short; env WATCHDOG_SOAK_DURATION)")
	soakSeed     = flag.Uint64("soak.seed", 0, "random seed for TestSoak (default: time-based, printed on failure and with -v; env WATCHDOG_SOAK_SEED)")
)

func soakSettings(t *testing.T) (time.Duration, uint64) {
	d := *soakDuration
	if v := os.Getenv("WATCHDOG_SOAK_DURATION"); d == 0 && v != "" {
		var err error
		if d, err = time.ParseDuration(v); err != nil {
			t.Fatalf("WATCHDOG_SOAK_DURATION: %v", err)
		}
	}
	if d == 0 {
		d = 20 * time.Second
		if testing.Short() {
			d = 3 * time.Second
		}
	}
	seed := *soakSeed
	if v := os.Getenv("WATCHDOG_SOAK_SEED"); seed == 0 && v != "" {
		var err error
		// A seed that does not parse must not turn into a new random
		// run: the failure being replayed would silently not be.
		if seed, err = strconv.ParseUint(v, 10, 64); err != nil || seed == 0 {
			t.Fatalf("WATCHDOG_SOAK_SEED=%q: want a whole number above 0, as a failing run prints it", v)
		}
	}
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	return d, seed
}

// soakFaults are the faults the soak draws from; each hits every matching
// request of one poll.
var soakFaults = []fakejenkins.Fault{
	{Kind: fakejenkins.FaultRefuse},
	{Kind: fakejenkins.FaultResetMidBody, Action: "read"},
	{Kind: fakejenkins.FaultStatus, Status: 500},
	{Kind: fakejenkins.FaultStatus, Status: 503},
	{Kind: fakejenkins.FaultStatus, Status: 401},
	{Kind: fakejenkins.FaultForbidden},
	{Kind: fakejenkins.FaultHTML, Action: "read"},
	{Kind: fakejenkins.FaultTruncatedJSON, Action: "read"},
	{Kind: fakejenkins.FaultMalformedJSON, Action: "read"},
	{Kind: fakejenkins.FaultEmpty200, Action: "read"},
	{Kind: fakejenkins.FaultRedirectLoop},
	{Kind: fakejenkins.FaultSlow},
	{Kind: fakejenkins.FaultForbidden, Method: "POST", Action: "toggleOffline", Permission: fakejenkins.PermConnect},
	{Kind: fakejenkins.FaultForbidden, Method: "POST", Action: "changeOfflineCause", Permission: fakejenkins.PermDisconnect},
	{Kind: fakejenkins.FaultStatus, Status: 500, Method: "POST"},
	{Kind: fakejenkins.FaultRefuse, Method: "POST"},
	{Kind: fakejenkins.FaultSlow, Method: "POST"},
	{Kind: fakejenkins.FaultStatus, Status: 404, Action: "read", Node: "NODE"}, // a node's fresh read
	{Kind: fakejenkins.FaultResetMidBody, Action: "read", Node: "NODE"},
}

type actionKey struct{ node, action string }

var actionOfPost = map[string]string{"toggleOffline": "online", "changeOfflineCause": "park", "launchSlaveAgent": "launch"}

// actionOf names the watchdog action behind a POST: a changeOfflineCause
// that writes a claim is a claim, any other one a park.
func actionOf(r fakejenkins.RequestRecord) string {
	if r.Action == "changeOfflineCause" && strings.Contains(r.RawQuery, "claimed+by+") {
		return "claim"
	}
	return actionOfPost[r.Action]
}

// TestSoak runs thousands of polls against a controller where agents die,
// come back and are relaunched, people hold and release nodes, the
// controller restarts, and a random fault hits about one poll in ten. After
// every poll: no POST to a primary, to a node held when the poll began, or
// twice to one node and action; no toggle without a fresh read; the action
// counters match the controller's request log; and after every fault-free
// poll at most one standby per group is online while its primary is down.
// At the end: goroutines and heap are where they were after warm-up.
func TestSoak(t *testing.T) {
	duration, seed := soakSettings(t)
	t.Logf("soak: duration %v, seed %d (rerun with -soak.seed=%d)", duration, seed, seed)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))

	agents := []fakejenkins.AgentSpec{
		{Name: "p1", Launch: fakejenkins.Inbound}, {Name: "s1a", Launch: fakejenkins.SSH}, {Name: "s1 b", Launch: fakejenkins.Inbound},
		{Name: "p2", Launch: fakejenkins.SSH}, {Name: "s2a", Launch: fakejenkins.SSH},
		{Name: "p3", Launch: fakejenkins.Inbound}, {Name: "s3a", Launch: fakejenkins.Inbound}, {Name: "s3b", Launch: fakejenkins.SSH},
	}
	params := watcher.Params{FailoverAfter: 2, FailbackAfter: 2, StandbyWait: 2, Failback: "auto"}
	e := newEnv(t, envOptions{pairs: "p1:s1a:s1 b,p2:s2a,p3:s3a:s3b", agents: agents, params: &params, timeout: 2 * time.Second,
		transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 4}})
	t.Cleanup(e.rt.(*http.Transport).CloseIdleConnections)
	var all, standbys, sshNodes []string
	for _, a := range agents {
		all = append(all, a.Name)
		if a.Launch == fakejenkins.SSH {
			sshNodes = append(sshNodes, a.Name)
		}
	}
	for _, g := range e.groups {
		standbys = append(standbys, g.Standbys...)
	}
	pick := func(list []string) string { return list[rng.IntN(len(list))] }

	counters := func() map[actionKey][2]float64 { // ok, error
		out := map[actionKey][2]float64{}
		mfs, err := e.reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() != "jenkins_failover_actions_total" {
				continue
			}
			for _, m := range mf.GetMetric() {
				l := map[string]string{}
				for _, lp := range m.GetLabel() {
					l[lp.GetName()] = lp.GetValue()
				}
				k := actionKey{l["node"], l["action"]}
				v := out[k]
				switch l["result"] {
				case "ok":
					v[0] = m.GetCounter().GetValue()
				case "error":
					v[1] = m.GetCounter().GetValue()
				}
				out[k] = v
			}
		}
		return out
	}
	held := func() map[string]bool {
		out := map[string]bool{}
		for _, n := range all {
			s, ok := e.fake.Node(n)
			info := agent.NodeInfo{Offline: s.Offline, TemporarilyOffline: s.TemporarilyOffline, CauseClass: s.CauseClass, CauseReason: s.CauseReason,
				Writer: s.Writer, ByWatchdog: agent.SameUser(s.Writer, testUser)}
			if ok && agent.Classify(info, true) == agent.Held {
				out[n] = true
			}
		}
		return out
	}
	world := func() {
		switch r := rng.Float64(); {
		case r < 0.04:
			_ = e.fake.KillAgent(pick(all))
		case r < 0.08:
			_ = e.fake.ReviveAgent(pick(all))
		case r < 0.12:
			_ = e.fake.Relaunch(pick(sshNodes))
		case r < 0.13:
			_ = e.fake.OperatorOffline(pick(all), "alice", "maintenance & <checks>")
		case r < 0.135:
			_ = e.fake.MonitorOffline(pick(standbys))
		case r < 0.16:
			for n := range held() {
				_ = e.fake.OperatorOnline(n)
				break
			}
		case r < 0.162:
			e.fake.Restart()
		}
	}

	var before map[actionKey][2]float64
	var totalOKPosts, polls, faulted, checkedOnline int
	var memStart runtime.MemStats
	goStart := 0
	const warmUp = 50
	deadline := time.Now().Add(duration)
	for polls = 0; time.Now().Before(deadline) || polls < warmUp+1; polls++ {
		if polls == warmUp {
			runtime.GC()
			runtime.ReadMemStats(&memStart)
			goStart = runtime.NumGoroutine()
		}
		world()
		isHeld := held()
		if before == nil {
			before = counters()
		}
		ctx, cancel := context.Background(), context.CancelFunc(func() {})
		injected := false
		if rng.Float64() < 0.1 {
			f := soakFaults[rng.IntN(len(soakFaults))]
			if f.Node == "NODE" {
				f.Node = pick(standbys)
			}
			if f.Kind == fakejenkins.FaultSlow {
				// Slower than the poll's budget: a short deadline for this
				// poll only keeps the soak fast.
				ctx, cancel = context.WithTimeout(ctx, 30*time.Millisecond)
			}
			e.fake.InjectFault(f)
			injected = true
		}
		err, recs := e.poll(ctx)
		cancel()
		e.fake.ClearFaults()
		e.fake.ResetRequests()
		e.logs.Reset() // the test's own buffers must not count as the watchdog's memory
		e.errs = nil
		if injected {
			faulted++
		}

		clean := err == nil && !injected
		for _, r := range recs {
			if r.Method == "POST" && isHeld[recordNode(r)] {
				t.Fatalf("poll %d: POST %s to %q, held when the poll began", polls, r.Action, recordNode(r))
			}
			if r.Fault || r.Status == 0 || r.Status >= 400 {
				clean = false
			}
		}
		after := counters()
		posts, okPosts := map[actionKey]int{}, map[actionKey]int{}
		for _, r := range postsIn(recs) {
			k := actionKey{recordNode(r), actionOf(r)}
			posts[k]++
			if goodPost(r) {
				okPosts[k]++
				totalOKPosts++
			}
		}
		for k, b := range before {
			dOK, dErr := after[k][0]-b[0], after[k][1]-b[1]
			switch {
			case dOK+dErr < float64(posts[k]):
				t.Fatalf("poll %d %v: %d POSTs but ok+error grew by %g", polls, k, posts[k], dOK+dErr)
			case k.action == "online" && (dOK > float64(okPosts[k]) || float64(okPosts[k]) > dOK+dErr):
				t.Fatalf("poll %d %v: ok grew by %g, error by %g, for %d successful toggles", polls, k, dOK, dErr, okPosts[k])
			case k.action != "online" && dOK != float64(okPosts[k]):
				t.Fatalf("poll %d %v: ok grew by %g for %d successful POSTs", polls, k, dOK, okPosts[k])
			}
		}
		if clean {
			for _, g := range e.groups {
				if p, _ := e.fake.Node(g.Primary); !p.Offline {
					continue
				}
				checkedOnline++
				var online []string
				for _, s := range g.Standbys {
					if n, ok := e.fake.Node(s); ok && !n.Offline {
						online = append(online, s)
					}
				}
				if len(online) > 1 {
					t.Fatalf("poll %d: primary %s down and %d standbys online: %v (%+v)", polls, g.Primary, len(online), online, e.state(g.Primary))
				}
			}
		}
		before = after
		if t.Failed() {
			t.Fatalf("stopping at poll %d", polls)
		}
	}
	e.tr.waitIdle(t)
	var memEnd runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&memEnd)
	goEnd := runtime.NumGoroutine()

	okTotal := metricSum(t, e.reg, "jenkins_failover_actions_total", "result", "ok")
	failovers := metricSum(t, e.reg, "jenkins_failover_failovers_total")
	failbacks := metricSum(t, e.reg, "jenkins_failover_failbacks_total")
	t.Logf("soak: %d polls (%d with a fault), %d fault-free primary-down checks, failovers %g, failbacks %g, actions ok %g, restarts %g, panics %g",
		polls, faulted, checkedOnline, failovers, failbacks, okTotal,
		metric(t, e.reg, "jenkins_failover_controller_restarts_total"), metric(t, e.reg, "jenkins_failover_poll_panics_total"))
	t.Logf("soak: heap %d kB -> %d kB, goroutines %d -> %d (after %d warm-up polls)",
		memStart.HeapAlloc>>10, memEnd.HeapAlloc>>10, goStart, goEnd, warmUp)

	// The count depends on the machine's load; the floor only proves the
	// loop ran many polls, the log shows how many.
	if polls < 200 && duration >= 15*time.Second {
		t.Errorf("only %d polls in %v: the soak is meant to run thousands", polls, duration)
	}
	if failovers == 0 || failbacks == 0 || checkedOnline == 0 {
		t.Errorf("the soak exercised too little: failovers %g, failbacks %g, checks %d", failovers, failbacks, checkedOnline)
	}
	if metric(t, e.reg, "jenkins_failover_poll_panics_total") != 0 {
		t.Error("a poll panicked")
	}
	if okTotal > float64(totalOKPosts) {
		t.Errorf("actions_total{ok} = %g but only %d POSTs succeeded", okTotal, totalOKPosts)
	}
	if goEnd > goStart+2 {
		t.Errorf("goroutines grew from %d to %d", goStart, goEnd)
	}
	if memEnd.HeapAlloc > memStart.HeapAlloc+8<<20 {
		t.Errorf("heap grew from %d kB to %d kB", memStart.HeapAlloc>>10, memEnd.HeapAlloc>>10)
	}
}
