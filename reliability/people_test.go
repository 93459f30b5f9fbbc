package reliability

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/agent"
	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/internal/fakejenkins"
	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/watcher"
)

// hookJenkins lets a test act between two requests of one poll: right
// after the read of every computer, or right after a read of one node.
type hookJenkins struct {
	watcher.Jenkins
	mu             sync.Mutex
	afterComputers func()
	afterComputer  func(name string, n agent.NodeInfo)
}

func (h *hookJenkins) Computers(ctx context.Context) (agent.Snapshot, error) {
	s, err := h.Jenkins.Computers(ctx)
	h.mu.Lock()
	f := h.afterComputers
	h.afterComputers = nil
	h.mu.Unlock()
	if f != nil {
		f()
	}
	return s, err
}

// The adapter's intents read the node afresh and hand the read to the
// guard right before the change: the hook runs there, between the read
// and the change, where a person's click races the watchdog.
func (h *hookJenkins) hooked(name string, guard agent.Guard) agent.Guard {
	return func(n agent.NodeInfo) error {
		h.mu.Lock()
		f := h.afterComputer
		h.mu.Unlock()
		if f != nil {
			f(name, n)
		}
		if guard == nil {
			return nil
		}
		return guard(n)
	}
}

func (h *hookJenkins) BringOnline(ctx context.Context, name string, guard agent.Guard) (agent.Change, error) {
	return h.Jenkins.BringOnline(ctx, name, h.hooked(name, guard))
}

func (h *hookJenkins) Park(ctx context.Context, name, message string, guard agent.Guard) (agent.Change, error) {
	return h.Jenkins.Park(ctx, name, message, h.hooked(name, guard))
}

func (h *hookJenkins) Launch(ctx context.Context, name string, guard agent.Guard) (agent.Change, error) {
	return h.Jenkins.Launch(ctx, name, h.hooked(name, guard))
}

func (h *hookJenkins) set(afterComputers func(), afterComputer func(string, agent.NodeInfo)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.afterComputers, h.afterComputer = afterComputers, afterComputer
}

func newHookedEnv(t *testing.T, o envOptions) (*env, *hookJenkins) {
	e := newEnv(t, o)
	h := &hookJenkins{}
	p := defaultParams
	if o.params != nil {
		p = *o.params
	}
	e.withJenkins(func(j watcher.Jenkins) watcher.Jenkins { h.Jenkins = j; return h }, p)
	return e, h
}

func countPosts(recs []fakejenkins.RequestRecord, node, action string) int {
	n := 0
	for _, r := range recs {
		if r.Method == http.MethodPost && recordNode(r) == node && (action == "" || r.Action == action) {
			n++
		}
	}
	return n
}

func wantPhase(t *testing.T, e *env, phase watcher.Phase, active string) {
	t.Helper()
	if s := e.state(primary); s.Phase != phase || s.Active != active {
		t.Fatalf("group: %s active %q, want %s active %q (%+v)", s.Phase, s.Active, phase, active, s)
	}
}

// onlineStandbys lists the standbys the controller reads online.
func (e *env) onlineStandbys() []string {
	var out []string
	for _, g := range e.groups {
		for _, s := range g.Standbys {
			if n, ok := e.fake.Node(s); ok && !n.Offline {
				out = append(out, s)
			}
		}
	}
	return out
}

// An operator brings the standby online between the watchdog's read of
// every computer and its toggle: the fresh read sees it online and the
// watchdog does not toggle it (a blind toggle would take it offline again).
func TestOperatorBringsStandbyOnlineDuringFailover(t *testing.T) {
	e, h := newHookedEnv(t, envOptions{})
	e.mustPoll()
	_ = e.fake.KillAgent(primary)
	e.mustPoll()
	wantPhase(t, e, watcher.PhaseSuspect, "")

	h.set(func() { _ = e.fake.OperatorOnline(standby1) }, nil)
	recs := e.mustPoll()
	if n := countPosts(recs, standby1, ""); n != 0 {
		t.Fatalf("%d POSTs to %s after the operator brought it online: %+v", n, standby1, postsIn(recs))
	}
	if n := e.node(standby1); n.Offline {
		t.Fatalf("%s offline after the poll: %+v", standby1, n)
	}
	if got := metric(t, e.reg, "jenkins_failover_actions_total", "node", standby1, "action", "online", "result", "skipped"); got != 1 {
		t.Errorf("actions_total{online,skipped} = %g, want 1", got)
	}
	e.mustPoll()
	wantPhase(t, e, watcher.PhaseFailedOver, standby1)
}

// An operator puts the standby back offline right after the watchdog
// brought it up. Without a message the node reads parked, which is the
// watchdog's to manage: with the primary still down it brings it up again
// on the next poll, once, after a fresh read. With a message the node is
// held: the watchdog never touches it again and moves on to the next
// standby.
func TestOperatorTogglesStandbyBackDuringFailover(t *testing.T) {
	for _, tc := range []struct {
		message          string
		toggles          int // of slave02, in all
		active           string
		stillTempOffline bool
	}{
		{message: "", toggles: 2, active: standby1},
		{message: "do not use: flaky disk", toggles: 1, active: standby2, stillTempOffline: true},
	} {
		t.Run("message="+tc.message, func(t *testing.T) {
			e := newEnv(t, envOptions{})
			var all []fakejenkins.RequestRecord
			poll := func() { all = append(all, e.mustPoll()...) }
			poll()
			_ = e.fake.KillAgent(primary)
			poll()
			poll() // toggles slave02 online
			if e.node(standby1).Offline {
				t.Fatal("failover did not bring the standby up")
			}
			if err := e.fake.OperatorOffline(standby1, "alice", tc.message); err != nil {
				t.Fatal(err)
			}
			for range defaultParams.StandbyWait + 2 {
				poll()
			}
			wantPhase(t, e, watcher.PhaseFailedOver, tc.active)
			if n := countPosts(all, standby1, "toggleOffline"); n != tc.toggles {
				t.Errorf("%s toggled %d times, want %d", standby1, n, tc.toggles)
			}
			if n := e.node(standby1); n.TemporarilyOffline != tc.stillTempOffline {
				t.Errorf("%s: %+v", standby1, n)
			}
			if got := e.onlineStandbys(); len(got) != 1 {
				t.Errorf("online standbys %v, want exactly one", got)
			}
		})
	}
}

// An operator parks the active standby with a message during failover: it
// is held, never touched again, and with nothing else to carry the group
// goes down (and says so in the log).
func TestOperatorHoldsActiveStandbyGroupGoesDown(t *testing.T) {
	e := newEnv(t, envOptions{pairs: primary + ":" + standby1, agents: defaultAgents[:2]})
	e.mustPoll()
	_ = e.fake.KillAgent(primary)
	for range 3 {
		e.mustPoll()
	}
	wantPhase(t, e, watcher.PhaseFailedOver, standby1)
	if err := e.fake.OperatorOffline(standby1, "alice", "disk replacement"); err != nil {
		t.Fatal(err)
	}
	for range 4 {
		if recs := e.mustPoll(); len(postsIn(recs)) != 0 {
			t.Fatalf("POST while the only standby is held: %+v", postsIn(recs))
		}
		wantPhase(t, e, watcher.PhaseDown, "")
	}
	if n := e.node(standby1); n.CauseReason != "disk replacement" || !n.TemporarilyOffline {
		t.Errorf("the operator's hold was changed: %+v", n)
	}
	if !strings.Contains(e.logs.String(), "group is down") {
		t.Error("no log line says the group is down")
	}
	if got := metric(t, e.reg, "jenkins_failover_group_state", "group", primary, "state", "down"); got != 1 {
		t.Errorf("group_state{down} = %g", got)
	}
	// The operator releases it: the watchdog carries on with it.
	_ = e.fake.OperatorOnline(standby1)
	e.mustPoll()
	wantPhase(t, e, watcher.PhaseFailedOver, standby1)
}

// With another standby, a hold on the candidate during failover (its
// launch failed, it is not up yet) moves the watchdog to the next one; the
// held node is never touched.
func TestOperatorHoldsCandidateDuringFailover(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.mustPoll()
	_ = e.fake.KillAgent(standby1) // its machine is down: the launch will fail
	_ = e.fake.KillAgent(standby2) // so is the second one's: no standby is ready,
	e.mustPoll()                   // so the first by priority is the candidate
	_ = e.fake.KillAgent(primary)
	e.mustPoll()
	recs := e.mustPoll() // online + launch of slave02, which stays down
	if countPosts(recs, standby1, "toggleOffline") != 1 || countPosts(recs, standby1, "launchSlaveAgent") != 1 {
		t.Fatalf("want a toggle and a launch of %s: %+v", standby1, postsIn(recs))
	}
	wantPhase(t, e, watcher.PhaseFailingOver, "")
	if err := e.fake.OperatorOffline(standby1, "alice", "reimaging"); err != nil {
		t.Fatal(err)
	}
	_ = e.fake.ReviveAgent(standby2) // the second one's machine is back
	var after []fakejenkins.RequestRecord
	for range 3 {
		after = append(after, e.mustPoll()...)
	}
	wantPhase(t, e, watcher.PhaseFailedOver, standby2)
	if n := countPosts(after, standby1, ""); n != 0 {
		t.Errorf("%d POSTs to the held %s", n, standby1)
	}
	if n := e.node(standby1); n.CauseReason != "reimaging" {
		t.Errorf("hold changed: %+v", n)
	}
}

// Nodes deleted and re-created under the watchdog: a missing standby is
// skipped, a re-created one (Jenkins creates it online) is parked because
// another standby carries, the deleted carrier is replaced, and a primary
// deleted and re-created fails over and back.
func TestNodeDeletedAndRecreated(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.mustPoll()
	if err := e.fake.RemoveAgent(standby1); err != nil {
		t.Fatal(err)
	}
	if recs := e.mustPoll(); len(postsIn(recs)) != 0 {
		t.Fatalf("POST after a standby was deleted: %+v", postsIn(recs))
	}
	wantPhase(t, e, watcher.PhaseNormal, primary)
	if got := metric(t, e.reg, "jenkins_failover_node_state", "node", standby1, "state", "missing"); got != 1 {
		t.Errorf("node_state{%s,missing} = %g", standby1, got)
	}

	_ = e.fake.KillAgent(primary)
	for range 3 {
		e.mustPoll()
	}
	wantPhase(t, e, watcher.PhaseFailedOver, standby2)

	if err := e.fake.AddAgent(fakejenkins.AgentSpec{Name: standby1, Launch: fakejenkins.SSH}); err != nil {
		t.Fatal(err)
	}
	recs := e.mustPoll()
	if countPosts(recs, standby1, "changeOfflineCause") != 1 {
		t.Fatalf("re-created %s not parked: %+v", standby1, postsIn(recs))
	}
	wantPhase(t, e, watcher.PhaseFailedOver, standby2)
	if got := e.onlineStandbys(); len(got) != 1 || got[0] != standby2 {
		t.Fatalf("online standbys %v, want [%s]", got, standby2)
	}

	// The carrier is deleted: the watchdog brings the re-created one up
	// (claim, toggle, carried).
	_ = e.fake.RemoveAgent(standby2)
	e.mustPoll()
	e.mustPoll()
	e.mustPoll()
	wantPhase(t, e, watcher.PhaseFailedOver, standby1)

	// The primary is deleted and re-created (online): failback.
	_ = e.fake.RemoveAgent(primary)
	e.mustPoll()
	if err := e.fake.AddAgent(fakejenkins.AgentSpec{Name: primary, Launch: fakejenkins.Inbound}); err != nil {
		t.Fatal(err)
	}
	for range defaultParams.FailbackAfter {
		e.mustPoll()
	}
	wantPhase(t, e, watcher.PhaseNormal, primary)
	if got := e.onlineStandbys(); len(got) != 0 {
		t.Errorf("online standbys after failback: %v", got)
	}
}

// A standby deleted between the read of every computer and the fresh
// read before its toggle: the fresh read answers 404, nothing is posted,
// and the next poll moves on to the next standby.
func TestNodeVanishesBetweenReadAndToggle(t *testing.T) {
	e, h := newHookedEnv(t, envOptions{})
	e.mustPoll()
	_ = e.fake.KillAgent(primary)
	e.mustPoll()
	h.set(func() { _ = e.fake.RemoveAgent(standby1) }, nil)
	recs := e.mustPoll()
	if len(postsIn(recs)) != 0 {
		t.Fatalf("POST after the fresh read answered 404: %+v", postsIn(recs))
	}
	if got := metric(t, e.reg, "jenkins_failover_jenkins_errors_total", "kind", "not_found"); got != 1 {
		t.Errorf("jenkins_errors_total{not_found} = %g, want 1", got)
	}
	if !e.w.Ready() {
		t.Error("a failed action made the watcher not ready")
	}
	e.mustPoll() // the next standby claimed
	e.mustPoll() // and toggled
	e.mustPoll()
	wantPhase(t, e, watcher.PhaseFailedOver, standby2)
}

// Two watchdogs against one controller, polling in turn: the second reads
// what the first did and does nothing twice. Then the race that used to
// remain: the second polls in full between the first one's fresh read and
// its toggle. The first one's claim, written a poll ahead, makes the
// second wait instead of toggling too: the standby is toggled once.
func TestSecondWatchdogInstance(t *testing.T) {
	// Peers share the Jenkins user (only its messages are the
	// watchdog's own), each with its own token; userB names B's requests.
	const tokenB = "second-instance-token-0f7hewatchdog"
	const userB = testUser + "#peer-b"
	e, h := newHookedEnv(t, envOptions{})
	e.fake.AddToken(testUser, "peer-b", tokenB)
	logsB := &syncBuffer{}
	pB := defaultParams
	pB.Instance = "instance-b"
	wB, regB := e.newWatcher(testUser, tokenB, 5*time.Second, pB, logsB)
	ctx := context.Background()
	var all []fakejenkins.RequestRecord
	both := func() {
		t.Helper()
		for _, p := range []struct {
			w    *watcher.Watcher
			user string
		}{{e.w, testUser}, {wB, userB}} {
			err, recs := e.pollWith(ctx, p.w, p.user)
			if err != nil {
				t.Fatalf("%s: %v", p.user, err)
			}
			all = append(all, recs...)
			if got := e.onlineStandbys(); len(got) > 1 {
				t.Fatalf("after %s's poll two standbys are online: %v", p.user, got)
			}
		}
	}

	// Polls in turn: one failover, one failback, no flip-flop.
	both()
	_ = e.fake.KillAgent(primary)
	for range 3 {
		both()
	}
	for _, w := range []*watcher.Watcher{e.w, wB} {
		if s := w.GroupState(primary); s.Phase != watcher.PhaseFailedOver || s.Active != standby1 {
			t.Fatalf("after failover: %+v", s)
		}
	}
	if n := countPosts(all, standby1, "toggleOffline"); n != 1 {
		t.Errorf("two instances in turn toggled %s %d times, want 1", standby1, n)
	}
	_ = e.fake.ReviveAgent(primary)
	_ = e.fake.Relaunch(primary)
	for range defaultParams.FailbackAfter + 1 {
		both()
	}
	for _, w := range []*watcher.Watcher{e.w, wB} {
		if s := w.GroupState(primary); s.Phase != watcher.PhaseNormal {
			t.Fatalf("after failback: %+v", s)
		}
	}
	if n := countParks(all, standby1); n != 1 {
		t.Errorf("two instances in turn parked %s %d times, want 1", standby1, n)
	}

	// The race: B polls in full between A's fresh read and A's toggle.
	all = nil
	_ = e.fake.KillAgent(primary)
	both() // both suspect; A claims the standby a poll ahead, B sees the claim
	raced := false
	h.set(nil, func(name string, n agent.NodeInfo) {
		if name == standby1 && n.TemporarilyOffline && !raced {
			raced = true
			// B's requests land inside A's poll window: counted there.
			if err, _ := e.pollWith(ctx, wB, userB); err != nil {
				t.Errorf("B: %v", err)
			}
		}
	})
	err, recs := e.pollWith(ctx, e.w, testUser)
	all = append(all, recs...)
	h.set(nil, nil)
	if err != nil || !raced {
		t.Fatalf("race poll: err=%v raced=%v", err, raced)
	}
	if n := countPosts(all, standby1, "toggleOffline"); n != 1 {
		t.Fatalf("%s toggled %d times in the race, want once (by the instance whose claim stands)", standby1, n)
	}
	if n := e.node(standby1); n.Offline {
		t.Fatalf("%s not online after the race: %+v", standby1, n)
	}
	if !strings.Contains(logsB.String(), "another watchdog instance claimed the standby") {
		t.Errorf("B did not say it waits for A's claim:\n%s", logsB.String())
	}
	both()
	for _, w := range []*watcher.Watcher{e.w, wB} {
		if s := w.GroupState(primary); s.Phase != watcher.PhaseFailedOver || s.Active != standby1 {
			t.Errorf("after the race: %+v", s)
		}
	}
	if got := metric(t, regB, "jenkins_failover_actions_total", "node", standby1, "action", "online", "result", "ok"); got != 0 {
		t.Errorf("B: actions_total{online,ok} = %g, want 0", got)
	}
}

// countParks counts the parks of a node, leaving out claims.
func countParks(recs []fakejenkins.RequestRecord, node string) int {
	n := 0
	for _, r := range recs {
		if r.Method == http.MethodPost && recordNode(r) == node && r.Action == "changeOfflineCause" && !strings.Contains(r.RawQuery, "claimed+by+") {
			n++
		}
	}
	return n
}
