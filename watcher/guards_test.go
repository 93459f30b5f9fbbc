package watcher

// Tests of the watcher's guards, each of which fails when its guard is
// removed or made to accept everything (docs/reliability.md, "Mutation
// testing", "Guards checked by hand", says which test pins which guard).
// They sit inside the package to reach what no poll can produce, such as
// a forged action; so they cannot use internal/testlab (which imports this
// package) and build the same lab from its parts: the fake controller on
// loopback, the real client.

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/agent"
	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/config"
	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/internal/fakejenkins"
	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/jenkins"
)

const (
	guardUser     = "watchdog"
	guardToken    = "guard-token"
	guardInstance = "lab-1"
	peerInstance  = "peer-2"
)

// afterReadJenkins runs a hook once, right after the poll's read of every
// computer and before any change: where a person's click, or a second
// watchdog, races this one.
type afterReadJenkins struct {
	Jenkins
	mu   sync.Mutex
	hook func()
}

func (h *afterReadJenkins) Computers(ctx context.Context) (agent.Snapshot, error) {
	s, err := h.Jenkins.Computers(ctx)
	h.mu.Lock()
	f := h.hook
	h.hook = nil
	h.mu.Unlock()
	if f != nil {
		f()
	}
	return s, err
}

func (h *afterReadJenkins) afterNextRead(f func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.hook = f
}

type guardLab struct {
	t      *testing.T
	fake   *fakejenkins.Controller
	groups []config.Group
	j      *afterReadJenkins
	w      *Watcher
	polls  int
}

// newGuardLab serves a fake controller with the nodes of pairs (SSH
// agents, every standby parked by the watchdog's user) and points a
// watcher at it.
func newGuardLab(t *testing.T, pairs string, p Params) *guardLab {
	t.Helper()
	return newWrappedGuardLab(t, pairs, p, nil)
}

// newWrappedGuardLab is newGuardLab with wrap, when set, around the
// controller's handler: to act between two requests of one change.
func newWrappedGuardLab(t *testing.T, pairs string, p Params, wrap func(*fakejenkins.Controller, http.Handler) http.Handler) *guardLab {
	t.Helper()
	groups, err := config.ParsePairs(pairs)
	if err != nil {
		t.Fatal(err)
	}
	fake := fakejenkins.New(fakejenkins.Options{})
	fake.AddUser(guardUser, guardToken, fakejenkins.PermRead, fakejenkins.PermDisconnect)
	var nodes []string
	for _, g := range groups {
		for _, n := range g.Nodes() {
			if err := fake.AddAgent(fakejenkins.AgentSpec{Name: n, Launch: fakejenkins.SSH}); err != nil {
				t.Fatal(err)
			}
			nodes = append(nodes, n)
		}
		for _, s := range g.Standbys {
			if err := fake.OperatorOffline(s, guardUser, agent.ParkMessage(agent.ParkStandby)); err != nil {
				t.Fatal(err)
			}
		}
	}
	var h http.Handler = fake
	if wrap != nil {
		h = wrap(fake, fake)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(func() { fake.Close(); srv.Close() })
	client, err := jenkins.New(jenkins.Options{URL: srv.URL, User: guardUser, Token: guardToken, Timeout: 5 * time.Second, Nodes: nodes})
	if err != nil {
		t.Fatal(err)
	}
	if p.Instance == "" {
		p.Instance = guardInstance
	}
	l := &guardLab{t: t, fake: fake, groups: groups, j: &afterReadJenkins{Jenkins: client}}
	clock := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	l.w = New(Options{Jenkins: l.j, Groups: groups, Params: p, Metrics: NewMetrics(prometheus.NewRegistry(), groups, nil),
		Now: func() time.Time { clock = clock.Add(10 * time.Second); return clock }})
	return l
}

func (l *guardLab) must(err error) {
	l.t.Helper()
	if err != nil {
		l.t.Fatal(err)
	}
}

func (l *guardLab) poll() {
	l.t.Helper()
	l.polls++
	if err := l.w.Poll(context.Background()); err != nil {
		l.t.Fatalf("poll %d: %v", l.polls, err)
	}
}

func (l *guardLab) state() GroupState { return l.w.GroupState(l.groups[0].Name()) }

func (l *guardLab) pollUntil(want Phase, max int) {
	l.t.Helper()
	for range max {
		l.poll()
		if l.state().Phase == want {
			return
		}
	}
	l.t.Fatalf("group did not reach %s in %d polls: %+v", want, max, l.state())
}

// posts are the changes the watchdog sent to node since the last reset.
func (l *guardLab) posts(node string) []fakejenkins.RequestRecord {
	var out []fakejenkins.RequestRecord
	for _, r := range l.fake.Requests() {
		if r.Method == http.MethodPost && r.User == guardUser && strings.Contains(r.Path, "/computer/"+node+"/") {
			out = append(out, r)
		}
	}
	return out
}

func (l *guardLab) node(name string) fakejenkins.NodeSnapshot {
	l.t.Helper()
	n, ok := l.fake.Node(name)
	if !ok {
		l.t.Fatalf("node %q missing", name)
	}
	return n
}

var fastParams = Params{FailoverAfter: 1, FailbackAfter: 1, StandbyWait: 3, Failback: config.FailbackAuto}

// primaryBackAfterFailover fails the lab's first group over to its first
// standby and brings the primary back, so that the next poll fails back
// (FAILBACK_AFTER=1). It returns the carrying standby.
func (l *guardLab) primaryBackAfterFailover() string {
	l.t.Helper()
	g := l.groups[0]
	sb := g.Standbys[0]
	l.pollUntil(PhaseNormal, 1)
	l.must(l.fake.KillAgent(g.Primary))
	l.pollUntil(PhaseFailedOver, 4)
	if a := l.state().Active; a != sb {
		l.t.Fatalf("carrier %q, want %s", a, sb)
	}
	l.must(l.fake.ReviveAgent(g.Primary))
	l.must(l.fake.Relaunch(g.Primary))
	l.fake.ResetRequests()
	return sb
}

// (4a) The park of the carrier on failback is what the new state depends
// on: when Jenkins answers it with an error, the group stays failing back
// with the standby carrying, no failback is counted, and the next poll
// parks it.
func TestFailbackParkAnsweredWithAnErrorKeepsThePhase(t *testing.T) {
	l := newGuardLab(t, "slave01:slave02", fastParams)
	sb := l.primaryBackAfterFailover()
	l.fake.InjectFault(fakejenkins.Fault{Kind: fakejenkins.FaultStatus, Status: http.StatusInternalServerError, Method: http.MethodPost, Node: sb})
	l.poll()
	if n := len(l.posts(sb)); n != 1 {
		t.Fatalf("%d changes sent to %s, want the one park Jenkins refused", n, sb)
	}
	if st := l.state(); st.Phase != PhaseFailingBack || st.Active != sb {
		t.Fatalf("after the failed park: %s active %q, want failing_back active %s", st.Phase, st.Active, sb)
	}
	if n := l.node(sb); n.Offline {
		t.Fatalf("%s offline although its park failed: %+v", sb, n)
	}
	if got := testutil.ToFloat64(l.w.m.failbacks.WithLabelValues("slave01")); got != 0 {
		t.Errorf("failbacks_total = %g after a failed park, want 0", got)
	}
	l.fake.ClearFaults()
	l.poll()
	if st := l.state(); st.Phase != PhaseNormal || st.Active != "slave01" {
		t.Fatalf("after the park went through: %s active %q, want normal", st.Phase, st.Active)
	}
	if n := l.node(sb); !n.TemporarilyOffline || !strings.Contains(n.CauseReason, agent.ParkTag) {
		t.Errorf("%s not parked: %+v", sb, n)
	}
	if got := testutil.ToFloat64(l.w.m.failbacks.WithLabelValues("slave01")); got != 1 {
		t.Errorf("failbacks_total = %g, want 1", got)
	}
}

// (4b) refuse is the last guard before a request that changes Jenkins:
// an action on a primary, on another group's node or on a node of no
// group is refused before anything is sent, whatever its kind, even when
// the node would accept it. Decide never emits such an action; these are
// forged.
func TestActRefusesPrimariesAndOtherGroupsNodes(t *testing.T) {
	l := newGuardLab(t, "slave01:slave02,build-a:build-b", fastParams)
	l.poll()
	// build-b is online, as a stray that another group's actions must not
	// park, and parked standbys accept a toggle.
	l.must(l.fake.OperatorOnline("build-b"))
	l.fake.ResetRequests()
	g := l.groups[0]
	forged := []Action{
		{Kind: ActionPark, Node: "slave01", Message: agent.ParkMessage(agent.ParkStandby)},
		{Kind: ActionClaim, Node: "slave01", Message: agent.ClaimMessage(guardInstance, "slave01")},
		{Kind: ActionOnline, Node: "slave01"},
		{Kind: ActionLaunch, Node: "slave01"},
		{Kind: ActionPark, Node: "build-b", Message: agent.ParkMessage(agent.ParkStandby)},
		{Kind: ActionPark, Node: "build-a", Message: agent.ParkMessage(agent.ParkStandby)},
		{Kind: ActionClaim, Node: "build-b", Message: agent.ClaimMessage(guardInstance, "slave01")},
		{Kind: ActionOnline, Node: "no-such-node"},
	}
	for _, a := range forged {
		t.Run(string(a.Kind)+" "+a.Node, func(t *testing.T) {
			res := l.w.act(context.Background(), g, []Action{a})
			if res[0].achieved || res[0].result != ResultError {
				t.Errorf("result %+v, want refused (error, not achieved)", res[0])
			}
		})
	}
	for _, r := range l.fake.Requests() {
		t.Errorf("request sent for a refused action (none is, not even a read): %s %s", r.Method, r.Path)
	}
	// A standby of the group itself is not refused.
	if err := l.w.refuse(g, Action{Kind: ActionPark, Node: "slave02"}); err != nil {
		t.Errorf("refuse(own standby) = %v", err)
	}
}

// (4c) A person's hold landing between the poll's read and the change: the
// fresh read before the change shows it held, and nothing is sent. Parks
// (the failback's and a stray's), the launch of a disconnected candidate,
// a claim and a toggle.
func TestAHoldAfterThePollsReadStopsTheChange(t *testing.T) {
	const hold = "disk replacement"
	tests := []struct {
		name    string
		prepare func(l *guardLab) string // to where the next poll changes the returned node
		action  string                   // the request the hold stops
	}{
		{"failback park", func(l *guardLab) string { return l.primaryBackAfterFailover() }, "changeOfflineCause"},
		{"park of a standby Jenkins unparked", func(l *guardLab) string {
			l.pollUntil(PhaseNormal, 1)
			l.must(l.fake.OperatorOnline("slave02"))
			return "slave02"
		}, "changeOfflineCause"},
		{"launch of a disconnected candidate", func(l *guardLab) string {
			l.pollUntil(PhaseNormal, 1)
			l.must(l.fake.KillAgent("slave01"))
			l.must(l.fake.KillAgent("slave02"))
			l.must(l.fake.OperatorOnline("slave02")) // disconnected, not parked: it is launched
			return "slave02"
		}, "launchSlaveAgent"},
		{"claim", func(l *guardLab) string {
			l.pollUntil(PhaseNormal, 1)
			l.must(l.fake.KillAgent("slave01"))
			return "slave02"
		}, "changeOfflineCause"},
		{"toggle", func(l *guardLab) string {
			l.pollUntil(PhaseNormal, 1)
			l.must(l.fake.KillAgent("slave01"))
			l.poll() // the claim
			if owner := agent.ClaimOwner(nodeInfo(l.node("slave02"))); owner != guardInstance {
				l.t.Fatalf("slave02 claimed by %q after the claim poll", owner)
			}
			return "slave02"
		}, "toggleOffline"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newGuardLab(t, "slave01:slave02", fastParams)
			node := tt.prepare(l)
			l.fake.ResetRequests()
			l.j.afterNextRead(func() { l.must(l.fake.OperatorOffline(node, "alice", hold)) })
			l.poll()
			for _, r := range l.posts(node) {
				t.Errorf("sent %s to %s held after the poll's read: %+v", r.Action, node, r)
			}
			if n := l.node(node); !n.TemporarilyOffline || n.CauseReason != hold {
				t.Errorf("the hold on %s was changed: %+v", node, n)
			}
			// Without the hold, this poll would have sent it.
			l2 := newGuardLab(t, "slave01:slave02", fastParams)
			tt.prepare(l2)
			l2.fake.ResetRequests()
			l2.poll()
			sent := false
			for _, r := range l2.posts(node) {
				sent = sent || r.Action == tt.action
			}
			if !sent {
				t.Fatalf("without the hold the poll sends no %s to %s: the test proves nothing", tt.action, node)
			}
		})
	}
}

func nodeInfo(n fakejenkins.NodeSnapshot) agent.NodeInfo {
	return agent.NodeInfo{Name: n.Name, Offline: n.Offline, TemporarilyOffline: n.TemporarilyOffline,
		CauseClass: n.CauseClass, CauseReason: n.CauseReason, Connected: n.Connected,
		Writer: n.Writer, ByWatchdog: agent.SameUser(n.Writer, guardUser)}
}

// (4d) The toggle goes ahead only on a fresh read that shows this
// instance's own claim, though the poll's read showed it: not when the
// claim was replaced by a plain park, by a peer's claim, or by a give-up.
func TestToggleNeedsOwnClaimInTheFreshRead(t *testing.T) {
	for name, msg := range map[string]string{
		"no claim":     agent.ParkMessage(agent.ParkStandby),
		"peer's claim": agent.ClaimMessage(peerInstance, "slave01"),
		"no message":   "",
	} {
		t.Run(name, func(t *testing.T) {
			l := newGuardLab(t, "slave01:slave02", fastParams)
			l.pollUntil(PhaseNormal, 1)
			l.must(l.fake.KillAgent("slave01"))
			l.poll() // the claim
			if owner := agent.ClaimOwner(nodeInfo(l.node("slave02"))); owner != guardInstance {
				t.Fatalf("slave02 claimed by %q after the claim poll", owner)
			}
			l.fake.ResetRequests()
			l.j.afterNextRead(func() { l.must(l.fake.OperatorOffline("slave02", guardUser, msg)) })
			l.poll()
			for _, r := range l.posts("slave02") {
				if r.Action == "toggleOffline" {
					t.Errorf("toggled slave02 whose fresh read shows %s: %+v", name, r)
				}
			}
			if n := l.node("slave02"); !n.TemporarilyOffline || n.CauseReason != msg {
				t.Errorf("slave02 changed: %+v", n)
			}
		})
	}
	// Only a parked node is toggled: a node monitor's cause is the
	// monitor's whatever text it shows (a forged reading; Jenkins shows
	// the monitor's own message).
	l := newGuardLab(t, "slave01:slave02", fastParams)
	monitor := agent.NodeInfo{Offline: true, TemporarilyOffline: true, CauseClass: "hudson.node_monitors.DiskSpaceMonitorDescriptor$DiskSpace",
		CauseReason: agent.ClaimMessage(guardInstance, "slave01"), Connected: true, Launchable: true}
	if err := l.w.ownClaim(monitor); err == nil {
		t.Error("a toggle accepted on a node a monitor holds")
	}
	if err := l.w.ownClaim(agent.NodeInfo{Offline: true, TemporarilyOffline: true, CauseClass: agent.CauseUser,
		CauseReason: agent.ClaimMessage(guardInstance, "slave01"), ByWatchdog: true, Connected: true}); err != nil {
		t.Errorf("a toggle refused on this instance's claim: %v", err)
	}
}

// (4d) A peer's claim landing after this instance's fresh read, between
// its claim and the confirming read: the peer wrote last, so its claim
// stands. This instance counts the collision, does not take the claim as
// its own, and on the next poll waits for the peer instead of toggling.
func TestClaimCollisionLeavesTheStandbyToThePeer(t *testing.T) {
	peer := agent.ClaimMessage(peerInstance, "slave01")
	var once sync.Once
	wrap := func(fake *fakejenkins.Controller, next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(w, r)
			if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/slave02/changeOfflineCause") &&
				strings.Contains(r.URL.RawQuery, "claimed+by+"+guardInstance) {
				once.Do(func() { _ = fake.OperatorOffline("slave02", guardUser, peer) })
			}
		})
	}
	l := newWrappedGuardLab(t, "slave01:slave02", fastParams, wrap)
	l.pollUntil(PhaseNormal, 1)
	l.must(l.fake.KillAgent("slave01"))
	l.poll() // the claim, overwritten by the peer's
	if n := l.node("slave02"); n.CauseReason != peer {
		t.Fatalf("slave02 after the collision: %+v", n)
	}
	if got := testutil.ToFloat64(l.w.m.claimCollisions.WithLabelValues("slave01")); got != 1 {
		t.Errorf("claim_collisions_total = %g, want 1", got)
	}
	l.fake.ResetRequests()
	l.poll()
	if p := l.posts("slave02"); len(p) != 0 {
		t.Errorf("the poll after the collision sent %d changes to the peer's standby: %+v", len(p), p)
	}
	if st := l.state(); st.PeerClaim != peerInstance {
		t.Errorf("after the collision: %+v, want waiting for %s", st, peerInstance)
	}
}

// (4d) A peer's claim landing between the poll's read and this instance's
// claim: the fresh read shows it and this instance does not overwrite it.
// A claim the poll saw as standing too long (Replaces) may be
// overwritten; a third instance's may not.
func TestClaimDoesNotOverwriteAPeersFreshClaim(t *testing.T) {
	l := newGuardLab(t, "slave01:slave02", fastParams)
	l.pollUntil(PhaseNormal, 1)
	l.must(l.fake.KillAgent("slave01"))
	l.fake.ResetRequests()
	peer := agent.ClaimMessage(peerInstance, "slave01")
	l.j.afterNextRead(func() { l.must(l.fake.OperatorOffline("slave02", guardUser, peer)) })
	l.poll()
	if p := l.posts("slave02"); len(p) != 0 {
		t.Errorf("sent %d changes to slave02 claimed by a peer after the poll's read: %+v", len(p), p)
	}
	if n := l.node("slave02"); n.CauseReason != peer {
		t.Errorf("the peer's claim was overwritten: %+v", n)
	}

	// The guard itself: the replaced claim's owner, and only it.
	claimed := func(owner string) agent.NodeInfo {
		return agent.NodeInfo{Offline: true, TemporarilyOffline: true, CauseClass: agent.CauseUser,
			CauseReason: agent.ClaimMessage(owner, "slave01"), ByWatchdog: true, Connected: true, Launchable: true}
	}
	guard := l.w.claimable(peerInstance)
	if err := guard(claimed(peerInstance)); err != nil {
		t.Errorf("a claim replacing %s refused on its claim: %v", peerInstance, err)
	}
	if err := guard(claimed(guardInstance)); err != nil {
		t.Errorf("a claim refused on this instance's own claim: %v", err)
	}
	if err := guard(claimed("third-3")); err == nil {
		t.Error("a claim replacing peer-2 accepted on a third instance's claim")
	}
	if err := l.w.claimable("")(claimed(peerInstance)); err == nil {
		t.Error("a claim accepted on a peer's claim it does not replace")
	}
	if err := guard(agent.NodeInfo{Offline: false, Connected: true}); err == nil {
		t.Error("a claim accepted on an online node")
	}
}

// (4d) The wait before taking over a peer's claim is drawn once, when the
// claim is first seen (STANDBY_WAIT plus that poll's jitter), and kept on
// every later poll whatever their jitter; the claim is taken over on the
// poll after it has stood that many polls, not before. A claim of another
// peer draws a new wait.
func TestPeerClaimWaitIsDrawnOncePerClaim(t *testing.T) {
	g := config.Group{Primary: "p", Standbys: []string{"s1"}}
	p := Params{FailoverAfter: 1, FailbackAfter: 1, StandbyWait: 3, Failback: config.FailbackAuto, Instance: guardInstance}
	nodes := func(owner string) map[string]agent.NodeInfo {
		return map[string]agent.NodeInfo{
			"p": {Name: "p", Offline: true, CauseClass: agent.CauseChannelTermination, CauseReason: "Connection was broken", Launchable: true},
			"s1": {Name: "s1", Offline: true, TemporarilyOffline: true, CauseClass: agent.CauseUser,
				CauseReason: agent.ClaimMessage(owner, "p"), ByWatchdog: true, Connected: true, Launchable: true},
		}
	}
	prev := GroupState{Phase: PhaseNormal, Active: "p", Settled: true}
	// The first poll draws 2: a wait of 5. Later polls draw 0, which a
	// wait drawn again would turn into 3.
	jitters := []int{2, 0, 0, 0, 0, 0, 0}
	takenOver := -1
	for i, j := range jitters {
		d := Decide(g, prev, Input{Nodes: nodes(peerInstance), Now: time.Unix(int64(i), 0), Jitter: j}, p)
		for _, a := range d.Actions {
			if a.Kind == ActionClaim && a.Node == "s1" {
				if a.Replaces != peerInstance {
					t.Fatalf("poll %d: claim replaces %q, want %s", i+1, a.Replaces, peerInstance)
				}
				if takenOver < 0 {
					takenOver = i + 1
				}
			}
		}
		if takenOver < 0 && (d.Next.PeerClaim != peerInstance || d.Next.PeerClaimWait != 5 || d.Next.PeerClaimPolls != i+1) {
			t.Fatalf("poll %d: waiting for %q, %d of %d polls; want %s, %d of 5", i+1,
				d.Next.PeerClaim, d.Next.PeerClaimPolls, d.Next.PeerClaimWait, peerInstance, i+1)
		}
		prev = d.Next
	}
	if takenOver != 6 {
		t.Errorf("the peer's claim was taken over on poll %d, want 6 (after standing 5 polls)", takenOver)
	}

	// Another peer's claim replaces the first one's: its wait is drawn
	// afresh.
	prev = GroupState{Phase: PhaseFailingOver, PrimaryDownPolls: 3, Settled: true, Attempt: Attempt{Candidate: "s1", Claimed: "s1", PeerClaim: peerInstance, PeerClaimPolls: 4, PeerClaimWait: 5}}
	d := Decide(g, prev, Input{Nodes: nodes("third-3"), Jitter: 1}, p)
	if d.Next.PeerClaim != "third-3" || d.Next.PeerClaimPolls != 1 || d.Next.PeerClaimWait != 4 {
		t.Errorf("a new peer's claim: waiting for %q, %d of %d polls; want third-3, 1 of 4", d.Next.PeerClaim, d.Next.PeerClaimPolls, d.Next.PeerClaimWait)
	}
	for _, a := range d.Actions {
		if a.Kind == ActionClaim {
			t.Errorf("a new peer's claim taken over at once: %+v", a)
		}
	}
}

// (4d) Through the watcher, with the jitter it draws itself: the wait is
// kept across polls and the claim taken over when it has stood that long.
func TestPeerClaimWaitIsKeptAcrossPolls(t *testing.T) {
	l := newGuardLab(t, "slave01:slave02", fastParams)
	l.pollUntil(PhaseNormal, 1)
	l.must(l.fake.KillAgent("slave01"))
	peer := agent.ClaimMessage(peerInstance, "slave01")
	l.must(l.fake.OperatorOffline("slave02", guardUser, peer))
	l.poll()
	wait := l.state().PeerClaimWait
	if st := l.state(); st.PeerClaim != peerInstance || wait < fastParams.StandbyWait || wait > 2*fastParams.StandbyWait {
		t.Fatalf("after seeing the peer's claim: %+v; want a wait of STANDBY_WAIT to twice that", st)
	}
	for i := 2; i <= wait; i++ {
		l.poll()
		if st := l.state(); st.PeerClaimWait != wait || st.PeerClaimPolls != i {
			t.Fatalf("poll %d: waiting %d of %d polls, want %d of %d", i, st.PeerClaimPolls, st.PeerClaimWait, i, wait)
		}
		if p := l.posts("slave02"); len(p) != 0 {
			t.Fatalf("poll %d: the peer's claim standing %d of %d polls was overwritten: %+v", i, i, wait, p)
		}
	}
	l.poll()
	if owner := agent.ClaimOwner(nodeInfo(l.node("slave02"))); owner != guardInstance {
		t.Errorf("after %d polls the peer's claim was not taken over: claimed by %q", wait, owner)
	}
}

// After a change to a node fails or is declined, nothing else is asked of
// that node in the same poll: a toggle declined because a peer's claim
// now stands on the standby is not followed by its launch.
func TestNoFurtherChangeToANodeAfterOneFailed(t *testing.T) {
	l := newGuardLab(t, "slave01:slave02", fastParams)
	l.poll()
	l.must(l.fake.KillAgent("slave02")) // parked, channel down: a launch would be sent
	l.must(l.fake.OperatorOffline("slave02", guardUser, agent.ClaimMessage(peerInstance, "slave01")))
	l.fake.ResetRequests()
	res := l.w.act(context.Background(), l.groups[0], []Action{{Kind: ActionOnline, Node: "slave02"}, {Kind: ActionLaunch, Node: "slave02"}})
	if res[0].achieved || res[1].achieved || res[1].result != ResultSkipped {
		t.Errorf("results %+v, want the toggle declined and the launch skipped", res)
	}
	for _, r := range l.posts("slave02") {
		t.Errorf("sent %s to slave02 after its toggle was declined", r.Action)
	}
}

// A claim whose message ends right after the instance (a person can write
// any text, tags included) is not one of the watchdog's forms: the node
// reads held, the poll does not fail, and nothing is sent to it.
func TestClaimEndingAtTheInstanceIsRead(t *testing.T) {
	l := newGuardLab(t, "slave01:slave02", fastParams)
	l.pollUntil(PhaseNormal, 1)
	l.must(l.fake.KillAgent("slave01"))
	l.must(l.fake.OperatorOffline("slave02", guardUser, agent.ParkTag+" standby claimed by "+peerInstance))
	l.fake.ResetRequests()
	l.poll()
	if st := l.w.Status(); st.Nodes[1].Name != "slave02" || st.Nodes[1].State != agent.Held {
		t.Errorf("nodes %+v, want slave02 held", st.Nodes)
	}
	if got := testutil.ToFloat64(l.w.m.panics); got != 0 {
		t.Errorf("%g polls panicked", got)
	}
	for _, r := range l.posts("slave02") {
		t.Errorf("sent %s to slave02 claimed by %s", r.Action, peerInstance)
	}
}

// The grace after a controller restart runs out: a primary that stays
// down is failed over once the grace and FAILOVER_AFTER have passed, not
// waited for forever.
func TestGraceAfterARestartEnds(t *testing.T) {
	l := newGuardLab(t, "slave01:slave02", Params{FailoverAfter: 2, FailbackAfter: 1, StandbyWait: 3, Failback: config.FailbackAuto})
	l.pollUntil(PhaseNormal, 1)
	l.fake.Restart() // every channel drops; SSH agents wait for a launch
	l.must(l.fake.KillAgent("slave01"))
	l.must(l.fake.Relaunch("slave02"))
	claimedAt := 0
	for i := 1; i <= 6 && claimedAt == 0; i++ {
		l.poll()
		if agent.ClaimOwner(nodeInfo(l.node("slave02"))) == guardInstance {
			claimedAt = i
		}
	}
	// Two polls of grace, then the claim a poll before FAILOVER_AFTER=2.
	if claimedAt != 3 {
		t.Fatalf("slave02 claimed on poll %d after the restart, want 3 (state %+v)", claimedAt, l.state())
	}
	l.pollUntil(PhaseFailedOver, 3)
}

// A standby found online, with builds, while the primary carries is one
// Jenkins unparked (a watchdog with history knows no failover was in
// progress): it is parked at once (its builds go on) and counted as
// unparked, not taken for a carrier and failed back from.
func TestBusyStandbyUnparkedWhilePrimaryCarriesIsParked(t *testing.T) {
	l := newGuardLab(t, "slave01:slave02", fastParams)
	l.pollUntil(PhaseNormal, 2)
	l.must(l.fake.OperatorOnline("slave02"))
	if _, err := l.fake.StartBuild("slave02"); err != nil {
		t.Fatal(err)
	}
	l.poll()
	if st := l.state(); st.Phase != PhaseNormal || st.Active != "slave01" {
		t.Errorf("state %+v, want normal with slave01 active", st)
	}
	if n := l.node("slave02"); !n.TemporarilyOffline || n.RunningBuilds != 1 {
		t.Errorf("slave02 not parked with its build going on: %+v", n)
	}
	if got := testutil.ToFloat64(l.w.m.unparked.WithLabelValues("slave01")); got != 1 {
		t.Errorf("unparked_total = %g, want 1", got)
	}
	if got := testutil.ToFloat64(l.w.m.failbacks.WithLabelValues("slave01")); got != 0 {
		t.Errorf("failbacks_total = %g, want 0", got)
	}
}

// A failback seen (the carrier found parked with the primary back, by a
// peer or a person) is one only when a standby carried.
func TestFailbackSeenOnlyWhenAStandbyCarried(t *testing.T) {
	g := config.Group{Primary: "p", Standbys: []string{"s1"}}
	nodes := map[string]agent.NodeInfo{
		"p":  {Name: "p", Connected: true, Launchable: true, Idle: true},
		"s1": {Name: "s1", Offline: true, TemporarilyOffline: true, CauseClass: agent.CauseUser, CauseReason: agent.ParkMessage("standby"), Connected: true, Launchable: true},
	}
	for _, tt := range []struct {
		prev GroupState
		want bool
	}{
		{GroupState{Phase: PhaseFailedOver, Active: "s1", Settled: true}, true},
		{GroupState{Phase: PhaseFailingBack, Active: "s1", Settled: true}, true},
		{GroupState{Phase: PhaseFailedOver, Active: "", Settled: true}, false},
		{GroupState{Phase: PhaseMaintenance, Active: "p", Settled: true}, false},
		{GroupState{Phase: PhaseNormal, Active: "p", Settled: true}, false},
	} {
		d := Decide(g, tt.prev, Input{Nodes: nodes}, fastParams)
		if d.FailbackSeen != tt.want {
			t.Errorf("from %s active %q: FailbackSeen %t, want %t", tt.prev.Phase, tt.prev.Active, d.FailbackSeen, tt.want)
		}
	}
}

// stopDuringToggle marks the watcher as stopping while a toggle is in
// flight: a shutdown signal arriving in the middle of a poll's actions.
type stopDuringToggle struct {
	Jenkins
	w *Watcher
}

func (s stopDuringToggle) BringOnline(ctx context.Context, name string, guard agent.Guard) (agent.Change, error) {
	s.w.stopping.Store(true)
	return s.Jenkins.BringOnline(ctx, name, guard)
}

// On shutdown the change in flight is finished (a toggle and the launch of
// the same node), and no other is started: not before it, not on another
// node after it.
func TestShutdownFinishesTheChangeInFlightOnly(t *testing.T) {
	l := newGuardLab(t, "slave01:slave02:slave03", fastParams)
	l.poll()
	l.must(l.fake.KillAgent("slave02"))
	l.must(l.fake.ReviveAgent("slave02")) // parked, channel down, machine up: the launch connects it
	l.must(l.fake.OperatorOffline("slave02", guardUser, agent.ClaimMessage(guardInstance, "slave01")))
	l.must(l.fake.OperatorOnline("slave03"))
	l.fake.ResetRequests()
	l.w.j = stopDuringToggle{Jenkins: l.j, w: l.w}
	res := l.w.act(context.Background(), l.groups[0], []Action{
		{Kind: ActionOnline, Node: "slave02"}, {Kind: ActionLaunch, Node: "slave02"},
		{Kind: ActionPark, Node: "slave03", Message: agent.ParkMessage("another standby already carries the group")},
	})
	if !res[0].achieved || !res[1].achieved || res[2].achieved || res[2].result != ResultSkipped {
		t.Errorf("results %+v, want the toggle and its launch done, the park of slave03 skipped", res)
	}
	if p := l.posts("slave03"); len(p) != 0 {
		t.Errorf("a change to another node was started during shutdown: %+v", p)
	}
	if n := l.node("slave02"); n.Offline {
		t.Errorf("slave02 not brought up and launched: %+v", n)
	}
	// Once stopping, a first action is not started at all.
	l.fake.ResetRequests()
	res = l.w.act(context.Background(), l.groups[0], []Action{{Kind: ActionPark, Node: "slave03", Message: agent.ParkMessage("x")}})
	if res[0].result != ResultSkipped || len(l.fake.Requests()) != 0 {
		t.Errorf("stopping: %+v and %d requests, want skipped and none", res, len(l.fake.Requests()))
	}
}

// A controller restart gives a group with no failover under way the
// start-up patience again (Settled cleared), and keeps the course of one
// failing over.
func TestControllerRestartKeepsAFailoversCourse(t *testing.T) {
	l := newGuardLab(t, "slave01:slave02,build-a:build-b", fastParams)
	l.poll()
	l.must(l.fake.KillAgent("build-a"))
	l.poll() // build-a: the claim
	if st := l.w.GroupState("build-a"); st.Phase != PhaseFailingOver || !st.Settled {
		t.Fatalf("build-a before the restart: %+v", st)
	}
	l.fake.Restart()
	l.poll()
	if st := l.w.GroupState("slave01"); st.Settled {
		t.Errorf("slave01 after a restart: %+v, want the start-up patience again (not settled)", st)
	}
	if st := l.w.GroupState("build-a"); !st.Settled || st.Candidate != "build-b" {
		t.Errorf("build-a after a restart: %+v, want its failover's course kept (settled, candidate build-b)", st)
	}
}

// STANDBY_WAIT=1, the smallest value config accepts, fails over like any
// other (the jitter is drawn from 0..STANDBY_WAIT).
func TestSmallestStandbyWaitFailsOver(t *testing.T) {
	l := newGuardLab(t, "slave01:slave02", Params{FailoverAfter: 2, FailbackAfter: 1, StandbyWait: 1, Failback: config.FailbackAuto})
	l.pollUntil(PhaseNormal, 1)
	l.must(l.fake.KillAgent("slave01"))
	l.pollUntil(PhaseFailedOver, 4)
	if got := testutil.ToFloat64(l.w.m.panics); got != 0 {
		t.Errorf("%g polls panicked", got)
	}
	for range 50 {
		if j := l.w.jitter(); j < 0 || j > 1 {
			t.Fatalf("jitter %d outside 0..1", j)
		}
	}
}

// With STANDBY_WAIT=1 a standby claimed while failing over (not on the
// suspect poll ahead: FAILOVER_AFTER=1, or the next standby after one was
// given up on) is given up on the poll after its claim, before it was
// ever toggled, and the group goes down. The fix belongs in decide.go
// (followCandidate counts the claim poll against the standby's wait).
func TestSmallestStandbyWaitTogglesAStandbyClaimedWhileFailingOver(t *testing.T) {

	l := newGuardLab(t, "slave01:slave02", Params{FailoverAfter: 1, FailbackAfter: 1, StandbyWait: 1, Failback: config.FailbackAuto})
	l.pollUntil(PhaseNormal, 1)
	l.must(l.fake.KillAgent("slave01"))
	l.pollUntil(PhaseFailedOver, 4)
}

// The last successful poll is exported in seconds since the epoch.
func TestLastSuccessIsInSeconds(t *testing.T) {
	l := newGuardLab(t, "slave01:slave02", fastParams)
	at := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	l.w.now = func() time.Time { return at }
	l.poll()
	if got, want := testutil.ToFloat64(l.w.m.lastSuccess), float64(at.Unix()); got != want {
		t.Errorf("last success = %g, want %g", got, want)
	}
}
