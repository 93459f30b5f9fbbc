package watcher_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/agent"
	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/config"
	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/internal/fakejenkins"
	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/internal/testlab"
	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/jenkins"
	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/watcher"
)

const (
	testUser     = "watchdog"
	testToken    = "s3cret-t0ken-value"
	testInstance = "lab-1"
)

type labOptions struct {
	pairs    string
	params   watcher.Params
	dryRun   bool
	prefix   string
	inbound  map[string]bool
	perms    []fakejenkins.Permission
	timeout  time.Duration
	password bool
	// inProcess serves the fake through a RoundTripper instead of a
	// socket, so the test can run in a synctest bubble with fake time.
	inProcess bool
}

// lab is a fake controller on loopback HTTP with the real client and
// watcher pointed at it.
type lab struct {
	t      *testing.T
	lab    *testlab.Lab
	fake   *fakejenkins.Controller
	srv    *httptest.Server // nil when inProcess
	groups []config.Group
	opts   labOptions
	clock  *testlab.Clock
	logs   *testlab.SyncBuffer
	w      *watcher.Watcher
	reg    *prometheus.Registry
	polls  int
}

func defaultParams() watcher.Params {
	return watcher.Params{FailoverAfter: 2, FailbackAfter: 3, StandbyWait: 3, Failback: config.FailbackAuto, Instance: testInstance}
}

func newLab(t *testing.T, o labOptions) *lab {
	t.Helper()
	if o.params == (watcher.Params{}) {
		o.params = defaultParams()
	}
	if o.timeout == 0 {
		o.timeout = 5 * time.Second
	}
	tl := testlab.Start(t, testlab.Options{Pairs: o.pairs, Inbound: o.inbound, Fake: fakejenkins.Options{Prefix: o.prefix},
		User: testUser, Token: testToken, Password: o.password, Perms: o.perms, InProcess: o.inProcess})
	l := &lab{t: t, lab: tl, fake: tl.Fake, srv: tl.Server, groups: tl.Groups, opts: o,
		clock: testlab.NewClock(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)), logs: &testlab.SyncBuffer{}}
	l.restartWatcher()
	return l
}

// restartWatcher replaces the watcher with a new one, as a restarted
// process would start: no memory, same controller.
func (l *lab) restartWatcher() {
	l.w, l.reg = l.lab.MustWatcher(l.t, testlab.WatcherOptions{Client: testlab.ClientOptions{Timeout: l.opts.timeout},
		Params: l.opts.params, DryRun: l.opts.dryRun, Now: l.clock.Now, Log: l.logs, Kinds: testlab.ErrorKinds()})
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// poll runs one cycle, then moves the clock to the next tick.
func (l *lab) poll() error {
	l.polls++
	err := l.w.Poll(context.Background())
	l.clock.Add(10 * time.Second)
	return err
}

func (l *lab) mustPoll() {
	l.t.Helper()
	if err := l.poll(); err != nil {
		l.t.Fatalf("poll %d: %v", l.polls, err)
	}
}

func (l *lab) phase() watcher.Phase { return l.lab.Phase(l.w) }

// pollUntil polls until the first group reaches want, at most max polls,
// and returns how many it took.
func (l *lab) pollUntil(want watcher.Phase, max int) int {
	l.t.Helper()
	for i := 1; i <= max; i++ {
		l.mustPoll()
		if l.phase() == want {
			return i
		}
	}
	l.t.Fatalf("group %s did not reach %s in %d polls; it is %s\nlogs:\n%s", l.groups[0].Name(), want, max, l.phase(), l.logs.String())
	return 0
}

// posts lists the changes the watchdog sent to node ("" for any).
func (l *lab) posts(node string) []fakejenkins.RequestRecord {
	var out []fakejenkins.RequestRecord
	for _, r := range l.fake.Requests() {
		if r.Method != http.MethodPost || r.User != testUser {
			continue // reads, and changes made by people
		}
		if node == "" || strings.Contains(r.Path, "/computer/"+pathEscape(node)+"/") {
			out = append(out, r)
		}
	}
	return out
}

func pathEscape(s string) string {
	return strings.NewReplacer(" ", "%20").Replace(urlPathEscape(s))
}

func (l *lab) node(name string) fakejenkins.NodeSnapshot {
	l.t.Helper()
	return l.lab.Node(l.t, name)
}

func (l *lab) counter(name string, labels ...string) float64 {
	l.t.Helper()
	v, ok := testlab.Metric(l.t, l.reg, name, labels...)
	if !ok {
		l.t.Fatalf("metric %s%v not found", name, labels)
	}
	return v
}

func (l *lab) assertNoPostTo(node string) {
	l.t.Helper()
	if p := l.posts(node); len(p) > 0 {
		l.t.Fatalf("%d changes sent to %s, want none: %+v", len(p), node, p)
	}
}

func TestFailoverAndAutomaticFailback(t *testing.T) {
	l := newLab(t, labOptions{})
	l.pollUntil(watcher.PhaseNormal, 1)
	l.assertNoPostTo("")

	must(t, l.fake.KillAgent("slave01"))
	// Poll 1 sees it offline; failover acts on poll FAILOVER_AFTER.
	// The standby is claimed one poll ahead, so that instances polling in
	// step agree on who toggles it.
	l.mustPoll()
	if got := l.posts(""); l.phase() != watcher.PhaseSuspect || len(got) != 1 || got[0].Action != "changeOfflineCause" ||
		!strings.Contains(got[0].RawQuery, "claimed+by+"+testInstance) || !strings.Contains(got[0].Path, "slave02") {
		t.Fatalf("after one offline poll: phase %s, posts %+v; want suspect and one claim of slave02", l.phase(), got)
	}
	l.mustPoll()
	if got := l.posts("slave02"); len(got) != 2 || got[1].Action != "toggleOffline" {
		t.Fatalf("on poll FAILOVER_AFTER want exactly one toggleOffline of slave02 after its claim, got %+v", got)
	}
	if n := l.node("slave02"); n.Offline {
		t.Fatalf("slave02 still offline after the toggle: %+v", n)
	}
	l.pollUntil(watcher.PhaseFailedOver, 1)
	if got := l.counter("jenkins_failover_failovers_total", "group", "slave01"); got != 1 {
		t.Errorf("failovers_total = %v, want 1", got)
	}
	if got := l.counter("jenkins_failover_active_node", "group", "slave01", "node", "slave02"); got != 1 {
		t.Errorf("active_node{slave02} = %v, want 1", got)
	}
	build, err := l.fake.StartBuild("slave02")
	must(t, err)

	must(t, l.fake.ReviveAgent("slave01"))
	must(t, l.fake.Relaunch("slave01"))
	l.fake.ResetRequests()
	// FAILBACK_AFTER = 3: two polls of waiting, the third parks.
	l.mustPoll()
	l.mustPoll()
	if l.phase() != watcher.PhaseFailingBack || len(l.posts("")) != 0 {
		t.Fatalf("before FAILBACK_AFTER polls: phase %s, posts %+v", l.phase(), l.posts(""))
	}
	l.mustPoll()
	if l.phase() != watcher.PhaseNormal {
		t.Fatalf("phase %s after FAILBACK_AFTER polls, want normal", l.phase())
	}
	got := l.posts("slave02")
	if len(got) != 1 || got[0].Action != "changeOfflineCause" {
		t.Fatalf("failback: want one changeOfflineCause of slave02, got %+v", got)
	}
	n := l.node("slave02")
	if !n.TemporarilyOffline || !strings.Contains(n.CauseReason, agent.ParkTag) {
		t.Errorf("slave02 not parked with the watchdog's tag: %+v", n)
	}
	if _, state, _ := l.fake.Build(build); state != fakejenkins.BuildRunning {
		t.Errorf("the build on slave02 is %s after parking; parking must not abort it", state)
	}
	if got := l.counter("jenkins_failover_failbacks_total", "group", "slave01"); got != 1 {
		t.Errorf("failbacks_total = %v, want 1", got)
	}
	l.assertNoPostTo("slave01")
}

func TestManualFailbackLeavesStandbyToOperator(t *testing.T) {
	p := defaultParams()
	p.Failback = config.FailbackManual
	l := newLab(t, labOptions{params: p})
	l.mustPoll()
	must(t, l.fake.KillAgent("slave01"))
	l.pollUntil(watcher.PhaseFailedOver, 4)
	must(t, l.fake.ReviveAgent("slave01"))
	must(t, l.fake.Relaunch("slave01"))
	l.fake.ResetRequests()
	l.pollUntil(watcher.PhaseManualFailback, 1)
	for range 20 {
		l.mustPoll()
	}
	if l.phase() != watcher.PhaseManualFailback || len(l.posts("")) != 0 {
		t.Fatalf("manual mode: phase %s posts %+v; want manual_failback and no change", l.phase(), l.posts(""))
	}
	// The operator parks the standby: back to normal, nothing sent.
	must(t, l.fake.OperatorOffline("slave02", "admin", ""))
	l.pollUntil(watcher.PhaseNormal, 1)
	if len(l.posts("")) != 0 {
		t.Fatalf("posts after operator parked: %+v", l.posts(""))
	}
}

func TestHeldStandbyIsSkippedAndNeverTouched(t *testing.T) {
	l := newLab(t, labOptions{pairs: "slave01:slave02:slave03"})
	must(t, l.fake.OperatorOffline("slave02", "alice", "disk replacement"))
	l.mustPoll()
	must(t, l.fake.KillAgent("slave01"))
	l.pollUntil(watcher.PhaseFailedOver, 4)
	if st := l.w.GroupState("slave01"); st.Active != "slave03" {
		t.Fatalf("active = %s, want slave03 (slave02 is held)", st.Active)
	}
	l.assertNoPostTo("slave02")
	if n := l.node("slave02"); n.CauseReason != "disk replacement" {
		t.Errorf("the operator's message changed: %q", n.CauseReason)
	}
}

func TestSecondStandbyAfterFirstFailsToComeOnline(t *testing.T) {
	l := newLab(t, labOptions{pairs: "slave01:slave02:slave03"})
	l.mustPoll()
	must(t, l.fake.KillAgent("slave01"))
	l.pollUntil(watcher.PhaseFailingOver, 3)
	if st := l.w.GroupState("slave01"); st.Candidate != "slave02" {
		t.Fatalf("candidate = %q, want slave02", st.Candidate)
	}
	// slave02's machine dies as it is brought up: the toggle worked, the
	// launch fails, it never comes online.
	must(t, l.fake.KillAgent("slave02"))
	l.pollUntil(watcher.PhaseFailedOver, 6)
	if st := l.w.GroupState("slave01"); st.Active != "slave03" {
		t.Fatalf("active = %q, want slave03", st.Active)
	}
	n := l.node("slave02")
	if !n.TemporarilyOffline || !strings.Contains(n.CauseReason, agent.ParkTag) {
		t.Errorf("slave02 should be parked again after failing to come online: %+v", n)
	}
	l.assertNoPostTo("slave01")
}

// failoverPolls counts the polls from the primary's death to the failover
// in a group slave01:slave02:slave03 whose standbys are prepared first.
func failoverPolls(t *testing.T, prepare func(*lab)) (*lab, int) {
	l := newLab(t, labOptions{pairs: "slave01:slave02:slave03"})
	l.pollUntil(watcher.PhaseNormal, 1)
	prepare(l)
	l.mustPoll()
	must(t, l.fake.KillAgent("slave01"))
	return l, l.pollUntil(watcher.PhaseFailedOver, 12)
}

// A parked standby whose machine is gone reads parked like a healthy one;
// only its channel tells. The ready one after it carries, and as soon as
// the first would have.
func TestDeadFirstStandbyCostsTheFailoverNothing(t *testing.T) {
	_, healthy := failoverPolls(t, func(*lab) {})
	l, dead := failoverPolls(t, func(l *lab) { must(t, l.fake.KillAgent("slave02")) })
	if st := l.w.GroupState("slave01"); st.Active != "slave03" {
		t.Fatalf("active = %q, want slave03", st.Active)
	}
	if dead > healthy {
		t.Errorf("failover past a dead first standby took %d polls, %d with a healthy one", dead, healthy)
	}
	l.assertNoPostTo("slave02")
	if n := l.node("slave02"); !n.TemporarilyOffline || n.Connected || n.LaunchFailures != 0 {
		t.Errorf("slave02 should be left parked and untouched: %+v", n)
	}
}

func TestDisconnectedParkedSSHStandbyIsToggledAndLaunched(t *testing.T) {
	l := newLab(t, labOptions{})
	// The standby's agent was restarted and not relaunched: parked, no channel.
	must(t, l.fake.KillAgent("slave02"))
	must(t, l.fake.ReviveAgent("slave02"))
	l.mustPoll()
	must(t, l.fake.KillAgent("slave01"))
	l.pollUntil(watcher.PhaseFailingOver, 2)
	var actions []string
	for _, p := range l.posts("slave02") {
		actions = append(actions, p.Action)
	}
	if strings.Join(actions, ",") != "changeOfflineCause,toggleOffline,launchSlaveAgent" {
		t.Fatalf("actions on slave02 = %v, want the claim, toggleOffline then launchSlaveAgent", actions)
	}
	l.pollUntil(watcher.PhaseFailedOver, 1)
}

func TestInboundStandbyIsWaitedFor(t *testing.T) {
	l := newLab(t, labOptions{inbound: map[string]bool{"slave02": true}})
	must(t, l.fake.KillAgent("slave02")) // parked and disconnected
	l.mustPoll()
	must(t, l.fake.KillAgent("slave01"))
	l.pollUntil(watcher.PhaseFailingOver, 2)
	for _, p := range l.posts("slave02") {
		if p.Action == "launchSlaveAgent" {
			t.Fatalf("launched an inbound agent: %+v", p)
		}
	}
	must(t, l.fake.ReviveAgent("slave02")) // connects by itself
	l.pollUntil(watcher.PhaseFailedOver, 1)
}

func TestPrimaryInMaintenance(t *testing.T) {
	l := newLab(t, labOptions{})
	l.mustPoll()
	must(t, l.fake.OperatorOffline("slave01", "alice", "kernel upgrade"))
	l.pollUntil(watcher.PhaseMaintenance, 4)
	l.assertNoPostTo("slave01")
	if n := l.node("slave01"); n.CauseReason != "kernel upgrade" {
		t.Errorf("the primary's maintenance message changed: %q", n.CauseReason)
	}
	must(t, l.fake.OperatorOnline("slave01"))
	l.pollUntil(watcher.PhaseNormal, 4)
	l.assertNoPostTo("slave01")
	if n := l.node("slave02"); !n.TemporarilyOffline {
		t.Error("standby not parked after maintenance ended")
	}
}

func TestDryRunDecidesButNeverChangesJenkins(t *testing.T) {
	l := newLab(t, labOptions{dryRun: true})
	l.mustPoll()
	must(t, l.fake.KillAgent("slave01"))
	for range 6 {
		l.mustPoll()
	}
	l.assertNoPostTo("")
	if l.phase() != watcher.PhaseFailingOver {
		t.Errorf("dry-run phase = %s, want failing_over", l.phase())
	}
	// Nothing is written, so the claim never stands and the toggle that
	// would follow it is never decided: the claim is the decision,
	// repeated on every poll, counted and logged once.
	if got := l.counter("jenkins_failover_actions_total", "node", "slave02", "action", "claim", "result", "dry_run"); got != 1 {
		t.Errorf("dry_run claims counted %v times, want once for a decision repeated on every poll", got)
	}
	if c := strings.Count(l.logs.String(), "dry run: would act"); c != 1 {
		t.Errorf("dry-run decisions logged %d lines, want 1", c)
	}
}

func TestRestartMidFailoverTakesNoNewAction(t *testing.T) {
	l := newLab(t, labOptions{})
	l.mustPoll()
	must(t, l.fake.KillAgent("slave01"))
	l.pollUntil(watcher.PhaseFailedOver, 4)
	l.fake.ResetRequests()

	l.restartWatcher()
	l.pollUntil(watcher.PhaseFailedOver, 1)
	if st := l.w.GroupState("slave01"); st.Active != "slave02" {
		t.Fatalf("restarted watcher: active = %q, want slave02", st.Active)
	}
	for range 5 {
		l.mustPoll()
	}
	l.assertNoPostTo("")

	// Primary back while the new process runs: a normal failback.
	must(t, l.fake.ReviveAgent("slave01"))
	must(t, l.fake.Relaunch("slave01"))
	l.pollUntil(watcher.PhaseNormal, 3)
	if len(l.posts("slave02")) != 1 {
		t.Fatalf("want one park of slave02, got %+v", l.posts("slave02"))
	}
}

func TestMissingPermissionToToggle(t *testing.T) {
	// Read only: every change answers 403. The claim that comes before
	// the toggle is refused; the candidate gets one attempt per poll for
	// WATCHDOG_STANDBY_WAIT polls, then the group is down.
	l := newLab(t, labOptions{perms: []fakejenkins.Permission{fakejenkins.PermRead}})
	l.mustPoll()
	must(t, l.fake.KillAgent("slave01"))
	l.mustPoll() // suspect: the claim a poll ahead is refused
	for i := 1; i <= 3; i++ {
		l.mustPoll()
		if l.phase() != watcher.PhaseFailingOver {
			t.Fatalf("poll %d past the threshold: phase %s, want failing_over", i, l.phase())
		}
		if got := len(l.posts("slave02")); got != i+1 {
			t.Fatalf("poll %d past the threshold: %d changes asked of slave02, want %d (one per poll)", i, got, i+1)
		}
	}
	l.mustPoll()
	if l.phase() != watcher.PhaseDown {
		t.Fatalf("phase = %s after the standby's wait ran out, want down", l.phase())
	}
	for range 3 {
		l.mustPoll()
	}
	var claims, toggles int
	for _, p := range l.posts("slave02") {
		switch p.Action {
		case "toggleOffline":
			toggles++
		case "changeOfflineCause":
			if strings.Contains(p.RawQuery, "claimed+by") {
				claims++
			}
		}
	}
	if claims != 4 || toggles != 0 {
		t.Errorf("%d claims and %d toggles in all, want 4 and none: a refused standby is not retried while down", claims, toggles)
	}
	if got := l.counter("jenkins_failover_actions_total", "node", "slave02", "action", "claim", "result", "error"); got != 4 {
		t.Errorf("actions_total{claim,error} = %v, want 4", got)
	}
	// Without Computer/Connect Jenkins hides absoluteRemotePath: the
	// standby reads disconnected, so it is launched on entering down (and
	// every STANDBY_WAIT polls after), and refused too.
	if got := l.counter("jenkins_failover_jenkins_errors_total", "kind", "forbidden"); got != 6 {
		t.Errorf("jenkins_errors_total{forbidden} = %v, want 6 (4 claims, 1 give-up park, 1 launch while down)", got)
	}
	if !strings.Contains(l.logs.String(), "hudson.model.Computer.Disconnect") {
		t.Errorf("log does not name the missing permission:\n%s", l.logs.String())
	}
	if c := strings.Count(l.logs.String(), "group is down"); c != 1 {
		t.Errorf("'group is down' logged %d times, want once on the transition", c)
	}
	if strings.Contains(l.logs.String(), testToken) {
		t.Error("the token appears in the log")
	}
}

func TestPrefixEscapedNamesAndPasswordCrumb(t *testing.T) {
	l := newLab(t, labOptions{prefix: "/jenkins", pairs: "agent 01:ağent 02", password: true})
	l.pollUntil(watcher.PhaseNormal, 1)
	must(t, l.fake.KillAgent("agent 01"))
	l.pollUntil(watcher.PhaseFailedOver, 4)
	if n := l.node("ağent 02"); n.Offline {
		t.Fatalf("ağent 02 still offline: %+v", n)
	}
}

type failedReadCase struct {
	name   string
	break_ func(l *lab)
	kind   string
}

func TestFailedReadsChangeNothing(t *testing.T) {
	tests := []failedReadCase{
		{"401 bad token", func(l *lab) {
			l.fake.AddUser(testUser, "another-token", fakejenkins.PermRead, fakejenkins.PermDisconnect)
		}, "auth"},
		{"403 no read", func(l *lab) { l.fake.AddUser(testUser, testToken) }, "forbidden"},
		{"503 starting", func(l *lab) { l.fake.SetStarting(true) }, "unavailable"},
		{"HTML page", func(l *lab) { l.fake.InjectFault(fakejenkins.Fault{Kind: fakejenkins.FaultHTML}) }, "bad_response"},
		{"garbage JSON", func(l *lab) { l.fake.InjectFault(fakejenkins.Fault{Kind: fakejenkins.FaultMalformedJSON}) }, "bad_response"},
		{"truncated JSON", func(l *lab) { l.fake.InjectFault(fakejenkins.Fault{Kind: fakejenkins.FaultTruncatedJSON}) }, "bad_response"},
		{"empty 200", func(l *lab) { l.fake.InjectFault(fakejenkins.Fault{Kind: fakejenkins.FaultEmpty200}) }, "bad_response"},
		{"slow", func(l *lab) { l.fake.InjectFault(fakejenkins.Fault{Kind: fakejenkins.FaultSlow}) }, "timeout"},
		{"redirect loop", func(l *lab) { l.fake.InjectFault(fakejenkins.Fault{Kind: fakejenkins.FaultRedirectLoop}) }, "bad_response"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.kind == "timeout" {
				// In a bubble, the client's 5s deadline passes in fake
				// time as soon as every goroutine waits on it.
				synctest.Test(t, func(t *testing.T) { tt.check(t, newLab(t, labOptions{inProcess: true})) })
				return
			}
			tt.check(t, newLab(t, labOptions{}))
		})
	}
}

func (tt failedReadCase) check(t *testing.T, l *lab) {
	l.mustPoll()
	must(t, l.fake.KillAgent("slave01"))
	l.mustPoll() // suspect: one more offline poll and it would act
	l.fake.ResetRequests()
	tt.break_(l)
	for range 3 {
		if err := l.poll(); err == nil {
			t.Fatal("poll succeeded against a broken Jenkins")
		}
	}
	l.assertNoPostTo("")
	if l.w.Ready() {
		t.Error("ready while Jenkins fails")
	}
	if got := l.counter("jenkins_failover_jenkins_up"); got != 0 {
		t.Errorf("jenkins_up = %v", got)
	}
	if got := l.counter("jenkins_failover_jenkins_errors_total", "kind", tt.kind); got != 3 {
		t.Errorf("jenkins_errors_total{kind=%q} = %v, want 3", tt.kind, got)
	}
	if l.phase() != watcher.PhaseSuspect {
		t.Errorf("state changed during the outage: %s", l.phase())
	}
	// status tells refused credentials from an unreachable Jenkins by it.
	if c := l.w.Status().Controller; c.LastErrorKind != tt.kind || c.LastError == "" {
		t.Errorf("status: lastErrorKind %q (lastError %q), want %q", c.LastErrorKind, c.LastError, tt.kind)
	}
}

func TestNotFoundPrefix(t *testing.T) {
	l := newLab(t, labOptions{prefix: "/jenkins"})
	client, err := jenkins.New(jenkins.Options{URL: l.srv.URL + "/wrong", User: testUser, Token: testToken, Timeout: time.Second})
	must(t, err)
	_, err = client.Computers(context.Background())
	if err == nil || !strings.Contains(err.Error(), "HTTP 404") {
		t.Fatalf("wrong prefix: err = %v, want a 404", err)
	}
}

func TestMetricsAfterFailover(t *testing.T) {
	l := newLab(t, labOptions{})
	l.mustPoll()
	must(t, l.fake.KillAgent("slave01"))
	l.pollUntil(watcher.PhaseFailedOver, 4)
	want := `
# HELP jenkins_failover_active_node 1 for the node carrying the group's work.
# TYPE jenkins_failover_active_node gauge
jenkins_failover_active_node{group="slave01",node="slave01"} 0
jenkins_failover_active_node{group="slave01",node="slave02"} 1
# HELP jenkins_failover_failovers_total Failovers completed: a standby the watchdog brought up came online.
# TYPE jenkins_failover_failovers_total counter
jenkins_failover_failovers_total{group="slave01"} 1
# HELP jenkins_failover_group_state Each group's state, one-hot.
# TYPE jenkins_failover_group_state gauge
jenkins_failover_group_state{group="slave01",state="down"} 0
jenkins_failover_group_state{group="slave01",state="failback_pending"} 0
jenkins_failover_group_state{group="slave01",state="failed_over"} 1
jenkins_failover_group_state{group="slave01",state="failing_back"} 0
jenkins_failover_group_state{group="slave01",state="failing_over"} 0
jenkins_failover_group_state{group="slave01",state="maintenance"} 0
jenkins_failover_group_state{group="slave01",state="manual_failback"} 0
jenkins_failover_group_state{group="slave01",state="normal"} 0
jenkins_failover_group_state{group="slave01",state="suspect"} 0
jenkins_failover_group_state{group="slave01",state="unknown"} 0
# HELP jenkins_failover_node_online 1 when Jenkins reports the node online (not offline), else 0.
# TYPE jenkins_failover_node_online gauge
jenkins_failover_node_online{node="slave01"} 0
jenkins_failover_node_online{node="slave02"} 1
# HELP jenkins_failover_jenkins_up 1 when the last poll of Jenkins succeeded.
# TYPE jenkins_failover_jenkins_up gauge
jenkins_failover_jenkins_up 1
`
	if err := testutil.GatherAndCompare(l.reg, strings.NewReader(want),
		"jenkins_failover_active_node", "jenkins_failover_failovers_total", "jenkins_failover_group_state",
		"jenkins_failover_node_online", "jenkins_failover_jenkins_up"); err != nil {
		t.Error(err)
	}
	// standby_active_since is the clock's time when the standby took over.
	since := l.counter("jenkins_failover_standby_active_since_timestamp_seconds", "group", "slave01")
	if since <= 0 || since > float64(l.clock.Now().Unix()) {
		t.Errorf("standby_active_since = %v, clock at %v", since, l.clock.Now().Unix())
	}
}

func TestOneGroupsFailureDoesNotStopAnother(t *testing.T) {
	l := newLab(t, labOptions{pairs: "slave01:slave02,build-a:build-b"})
	l.mustPoll()
	l.fake.InjectFault(fakejenkins.Fault{Kind: fakejenkins.FaultStatus, Status: http.StatusInternalServerError, Method: http.MethodPost, Node: "slave02"})
	must(t, l.fake.KillAgent("slave01"))
	must(t, l.fake.KillAgent("build-a"))
	for range 4 {
		l.mustPoll()
	}
	if st := l.w.GroupState("build-a"); st.Phase != watcher.PhaseFailedOver || st.Active != "build-b" {
		t.Errorf("group build-a = %+v, want failed over to build-b", st)
	}
	if st := l.w.GroupState("slave01"); st.Phase != watcher.PhaseFailingOver {
		t.Errorf("group slave01 = %s, want failing_over while its toggle fails", st.Phase)
	}
	// Polls are one GET of all computers, whatever the number of groups.
	reads := 0
	for _, r := range l.fake.Requests() {
		if r.Method == http.MethodGet && strings.HasSuffix(r.Path, "/computer/api/json") {
			reads++
		}
	}
	if reads != l.polls {
		t.Errorf("%d list reads in %d polls, want one each", reads, l.polls)
	}
}

// operatorPost sends a change to the fake as a person would, through HTTP.
func (l *lab) operatorPost(path string) {
	l.t.Helper()
	l.fake.AddUser("alice", "alice-token", fakejenkins.PermRead, fakejenkins.PermDisconnect)
	req, _ := http.NewRequest(http.MethodPost, l.srv.URL+l.opts.prefix+path, nil)
	req.SetBasicAuth("alice", "alice-token")
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		l.t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		l.t.Fatalf("POST %s: %s", path, resp.Status)
	}
}

func TestStandbyDisconnectedByAPersonIsHeld(t *testing.T) {
	l := newLab(t, labOptions{pairs: "slave01:slave02:slave03"})
	must(t, l.fake.OperatorOnline("slave02")) // online, so doDisconnect has a channel to close
	l.operatorPost("/computer/slave02/doDisconnect?offlineMessage=replacing+disk")
	for range 3 {
		l.mustPoll()
	}
	must(t, l.fake.KillAgent("slave01"))
	l.pollUntil(watcher.PhaseFailedOver, 4)
	if st := l.w.GroupState("slave01"); st.Active != "slave03" {
		t.Fatalf("active = %s, want slave03", st.Active)
	}
	l.assertNoPostTo("slave02")
	if n := l.node("slave02"); n.CauseReason != "replacing disk" {
		t.Errorf("the operator's message on slave02 changed: %q", n.CauseReason)
	}
}

// deadStandbys sets up slave02 and slave03 parked with their machines dead:
// toggling works, launching fails, neither comes online.
func deadStandbys(t *testing.T) *lab {
	l := newLab(t, labOptions{pairs: "slave01:slave02:slave03"})
	l.mustPoll()
	must(t, l.fake.KillAgent("slave02"))
	must(t, l.fake.KillAgent("slave03"))
	must(t, l.fake.KillAgent("slave01"))
	return l
}

func TestRestartDuringFailingOverTakesNoNewAction(t *testing.T) {
	l := deadStandbys(t)
	// Run until slave02 was given up and slave03 is the candidate,
	// claimed and toggled, waiting to connect.
	for range 12 {
		l.mustPoll()
		if l.w.GroupState("slave01").Candidate == "slave03" && !l.node("slave03").TemporarilyOffline {
			break
		}
	}
	if st := l.w.GroupState("slave01"); st.Candidate != "slave03" {
		t.Fatalf("setup: candidate %q, want slave03", st.Candidate)
	}
	l.fake.ResetRequests()
	l.restartWatcher()
	for range 2 {
		l.mustPoll()
	}
	for _, p := range l.posts("") {
		if p.Action == "toggleOffline" || p.Action == "changeOfflineCause" {
			t.Errorf("restarted watcher sent %s to %s; a running one would only wait for slave03", p.Action, p.Path)
		}
	}
	// slave03's machine comes back and Jenkins launches it: it carries.
	must(t, l.fake.ReviveAgent("slave03"))
	must(t, l.fake.Relaunch("slave03"))
	l.pollUntil(watcher.PhaseFailedOver, 2)
	if st := l.w.GroupState("slave01"); st.Active != "slave03" {
		t.Fatalf("active = %s, want slave03", st.Active)
	}
}

func (l *lab) assertOnlyLaunches(posts []fakejenkins.RequestRecord) {
	l.t.Helper()
	for _, p := range posts {
		if p.Action != "launchSlaveAgent" {
			l.t.Errorf("a watchdog that is down sent %s to %s", p.Action, p.Path)
		}
	}
}

func TestRestartWhileDownTakesNoNewAction(t *testing.T) {
	l := deadStandbys(t)
	l.pollUntil(watcher.PhaseDown, 15)
	l.fake.ResetRequests()
	for range 3 {
		l.mustPoll()
	}
	// While down, the tried standbys whose channel is down are launched
	// (they stay parked) so that they can be tried again: a running and a
	// restarted watchdog do the same, and change nothing else.
	running := l.posts("")
	l.assertOnlyLaunches(running)
	l.fake.ResetRequests()
	l.restartWatcher()
	l.pollUntil(watcher.PhaseDown, 4)
	l.fake.ResetRequests()
	for range 3 {
		l.mustPoll()
	}
	if restarted := l.posts(""); len(restarted) != len(running) {
		t.Errorf("restarted watchdog sent %d requests in 3 polls while down, a running one %d", len(restarted), len(running))
	}
	l.assertOnlyLaunches(l.posts(""))
	// The primary returns: the give-up messages are replaced so that a
	// later failover tries the standbys again.
	must(t, l.fake.ReviveAgent("slave01"))
	must(t, l.fake.Relaunch("slave01"))
	l.pollUntil(watcher.PhaseNormal, 1)
	for _, s := range []string{"slave02", "slave03"} {
		if n := l.node(s); strings.Contains(n.CauseReason, "did not come online") || !n.TemporarilyOffline {
			t.Errorf("%s after the primary returned: %+v", s, n)
		}
	}
}

func TestControllerRestartGetsGraceBeforeFailover(t *testing.T) {
	l := newLab(t, labOptions{})
	l.pollUntil(watcher.PhaseNormal, 1)
	l.fake.Restart() // every channel drops; SSH agents wait for a launch
	// FAILOVER_AFTER=2: without grace the second poll would toggle slave02.
	for range 2 {
		l.mustPoll()
	}
	l.assertNoPostTo("")
	if got := l.counter("jenkins_failover_controller_restarts_total"); got != 1 {
		t.Errorf("controller_restarts_total = %v", got)
	}
	must(t, l.fake.Relaunch("slave01"))
	l.pollUntil(watcher.PhaseNormal, 1)
	l.assertNoPostTo("")
}
