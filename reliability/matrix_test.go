package reliability

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/internal/fakejenkins"
	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/watcher"
)

// faultRow is one row of the fault matrix: a way for Jenkins, or what sits
// between it and the watchdog, to go wrong during one poll.
type faultRow struct {
	name   string
	inject func(*fakejenkins.Controller)
	clear  func(*fakejenkins.Controller) // ClearFaults when nil
	// listFails: the poll's one read of every computer fails, so the poll
	// fails as a whole (kind is the error kind it reports). Otherwise the
	// read succeeds and only an action, or its fresh read, can fail
	// (kind is then what jenkins_errors_total counts when the fault hits).
	listFails bool
	kind      string
	timeout   time.Duration // deadline of the faulted poll; none when zero
	restart   bool          // the world changes (channels drop): compare flags only
	// anyStandby: during a failover, another standby may end up carrying
	// than in the fault-free run. A restart drops every channel; the
	// failover brings up the first standby ready again (the ready
	// standby first), which need not be the one the fault-free run used.
	anyStandby bool
	// settleWithin is how many good polls the end state may take to match
	// the fault-free run's; 2 (one retry) when zero.
	settleWithin int
}

// slowTimeout is the deadline of the faulted poll in the slow rows: what a
// short JENKINS_TIMEOUT does, without making the good polls around it race
// the clock on a busy machine.
const slowTimeout = time.Second

func fault(f fakejenkins.Fault) func(*fakejenkins.Controller) {
	return func(c *fakejenkins.Controller) { c.InjectFault(f) }
}

var faultRows = []faultRow{
	{name: "connection refused/closed, every request", inject: fault(fakejenkins.Fault{Kind: fakejenkins.FaultRefuse}), listFails: true, kind: "network"},
	{name: "reset mid-body, every read", inject: fault(fakejenkins.Fault{Kind: fakejenkins.FaultResetMidBody, Action: "read"}), listFails: true, kind: "bad_response"},
	{name: "HTTP 500, every request", inject: fault(fakejenkins.Fault{Kind: fakejenkins.FaultStatus, Status: 500}), listFails: true, kind: "unavailable"},
	{name: "HTTP 502 (proxy), every request", inject: fault(fakejenkins.Fault{Kind: fakejenkins.FaultStatus, Status: 502}), listFails: true, kind: "unavailable"},
	{name: "HTTP 503, Jenkins starting up", inject: func(c *fakejenkins.Controller) { c.SetStarting(true) },
		clear: func(c *fakejenkins.Controller) { c.SetStarting(false) }, listFails: true, kind: "unavailable"},
	{name: "HTTP 401, every request", inject: fault(fakejenkins.Fault{Kind: fakejenkins.FaultStatus, Status: 401}), listFails: true, kind: "auth"},
	{name: "HTTP 403 Overall/Read, every request", inject: fault(fakejenkins.Fault{Kind: fakejenkins.FaultForbidden}), listFails: true, kind: "forbidden"},
	{name: "HTML login page with 200, every read", inject: fault(fakejenkins.Fault{Kind: fakejenkins.FaultHTML, Action: "read"}), listFails: true, kind: "bad_response"},
	{name: "truncated JSON, every read", inject: fault(fakejenkins.Fault{Kind: fakejenkins.FaultTruncatedJSON, Action: "read"}), listFails: true, kind: "bad_response"},
	{name: "malformed JSON, every read", inject: fault(fakejenkins.Fault{Kind: fakejenkins.FaultMalformedJSON, Action: "read"}), listFails: true, kind: "bad_response"},
	{name: "empty 200, every read", inject: fault(fakejenkins.Fault{Kind: fakejenkins.FaultEmpty200, Action: "read"}), listFails: true, kind: "bad_response"},
	{name: "slower than JENKINS_TIMEOUT, every request", inject: fault(fakejenkins.Fault{Kind: fakejenkins.FaultSlow}), listFails: true, kind: "timeout", timeout: slowTimeout},
	{name: "redirect loop, every request", inject: fault(fakejenkins.Fault{Kind: fakejenkins.FaultRedirectLoop}), listFails: true, kind: "bad_response"},
	{name: "HTTP 404 on the standby's fresh read (node vanished)", inject: fault(fakejenkins.Fault{Kind: fakejenkins.FaultStatus, Status: 404, Action: "read", Node: standby1}), kind: "not_found"},
	{name: "reset mid-body on the standby's fresh read", inject: fault(fakejenkins.Fault{Kind: fakejenkins.FaultResetMidBody, Action: "read", Node: standby1}), kind: "bad_response"},
	{name: "HTTP 403 Computer/Connect on toggleOffline only", inject: fault(fakejenkins.Fault{Kind: fakejenkins.FaultForbidden, Method: "POST", Action: "toggleOffline", Permission: fakejenkins.PermConnect}), kind: "forbidden"},
	{name: "HTTP 403 Computer/Disconnect on changeOfflineCause only", inject: fault(fakejenkins.Fault{Kind: fakejenkins.FaultForbidden, Method: "POST", Action: "changeOfflineCause", Permission: fakejenkins.PermDisconnect}), kind: "forbidden"},
	{name: "HTTP 405 on every POST", inject: fault(fakejenkins.Fault{Kind: fakejenkins.FaultStatus, Status: 405, Method: "POST"}), kind: "unexpected"},
	{name: "HTTP 500 on every POST", inject: fault(fakejenkins.Fault{Kind: fakejenkins.FaultStatus, Status: 500, Method: "POST"}), kind: "unavailable"},
	{name: "connection closed on every POST, not applied", inject: fault(fakejenkins.Fault{Kind: fakejenkins.FaultRefuse, Method: "POST"}), kind: "network"},
	{name: "connection closed on every POST, applied (answer lost)", inject: fault(fakejenkins.Fault{Kind: fakejenkins.FaultRefuse, Method: "POST", Apply: true}), kind: "network"},
	{name: "POST slower than JENKINS_TIMEOUT", inject: fault(fakejenkins.Fault{Kind: fakejenkins.FaultSlow, Method: "POST"}), kind: "timeout", timeout: slowTimeout},
	{name: "controller restart (new X-Jenkins-Session)", inject: func(c *fakejenkins.Controller) { c.Restart() },
		clear: func(*fakejenkins.Controller) {}, restart: true, anyStandby: true,
		// After a restart the watchdog gives agents FAILOVER_AFTER polls
		// to reconnect before it counts the primary down.
		settleWithin: 2 + defaultParams.FailoverAfter},
}

type moment int

const (
	steady moment = iota
	duringFailover
	duringFailback
)

var moments = []moment{steady, duringFailover, duringFailback}

func (m moment) String() string {
	return [...]string{"steady state", "during failover", "during failback"}[m]
}

// recoveryPolls is how many good polls follow the faulted one.
const recoveryPolls = 4

// setUp brings the env to the moment with good polls and world events, so
// that the next poll is the one the fault hits: in steady state nothing is
// due; during failover it is the poll that brings the standby up; during
// failback the poll that parks the standby again.
func (e *env) setUp(m moment, observe func()) {
	e.t.Helper()
	step := func() { e.mustPoll(); observe() }
	step() // normal
	if m == steady {
		return
	}
	if err := e.fake.KillAgent(primary); err != nil {
		e.t.Fatal(err)
	}
	step() // suspect
	if m == duringFailover {
		return
	}
	step() // failing_over: slave02 toggled online
	step() // failed_over
	if err := e.fake.ReviveAgent(primary); err != nil {
		e.t.Fatal(err)
	}
	step() // failing_back (1 poll of FAILBACK_AFTER=2)
}

// cellResult is what one fault at one moment did.
type cellResult struct {
	hit       bool   // a request met the fault
	pollErr   string // kind of the faulted poll's error, "" when it succeeded
	posts     int    // POSTs in the faulted poll
	upDuring  float64
	upAfter   float64
	readyDur  bool
	readyAft  bool
	sameSeq   bool // every state after a good poll equals the fault-free run's
	settledAt int  // good polls after the fault until the end state matched; -1 never
	// failovers and failbacks counted, less the fault-free run's
	failovers, failbacks float64
	// secrets material
	logs, status, metrics string
	errs                  []string
}

func (c cellResult) String() string {
	if !c.hit {
		return "not hit; states = fault-free"
	}
	var b strings.Builder
	if c.pollErr != "" {
		fmt.Fprintf(&b, "poll fails (%s); ", c.pollErr)
	} else {
		b.WriteString("poll ok; ")
	}
	fmt.Fprintf(&b, "%d POST; up %g→%g; ", c.posts, c.upDuring, c.upAfter)
	switch {
	case c.sameSeq:
		b.WriteString("states = fault-free")
	case c.settledAt >= 0:
		fmt.Fprintf(&b, "end = fault-free after %d poll(s)", c.settledAt)
	default:
		b.WriteString("DIVERGED")
	}
	if c.failovers != 0 {
		fmt.Fprintf(&b, "; failovers_total %+g", c.failovers)
	}
	if c.failbacks != 0 {
		fmt.Fprintf(&b, "; failbacks_total %+g", c.failbacks)
	}
	return b.String()
}

// baseline is a fault-free run: the group state after each poll and the
// world at the end.
type baseline struct {
	states               []watcher.GroupState
	world                map[string]nodeFacts
	failovers, failbacks float64
}

func runBaseline(t *testing.T, m moment) baseline {
	t.Helper()
	e := newEnv(t, envOptions{})
	var b baseline
	observe := func() { b.states = append(b.states, e.state(primary)) }
	e.setUp(m, observe)
	for range 1 + recoveryPolls {
		e.mustPoll()
		observe()
	}
	b.world = e.world()
	b.failovers = metric(t, e.reg, "jenkins_failover_failovers_total")
	b.failbacks = metric(t, e.reg, "jenkins_failover_failbacks_total")
	return b
}

// runCell runs one fault at one moment and checks it against the baseline.
func runCell(t *testing.T, row faultRow, m moment, base baseline) cellResult {
	t.Helper()
	// Good polls keep the normal client timeout; only the faulted poll
	// gets the short deadline, so a slow machine cannot fail the setup.
	e := newEnv(t, envOptions{})
	var good []watcher.GroupState
	observe := func() { good = append(good, e.state(primary)) }
	e.setUp(m, observe)
	before := e.state(primary)
	errKind0 := metric(t, e.reg, "jenkins_failover_jenkins_errors_total", "kind", row.kind)

	row.inject(e.fake)
	ctx := context.Background()
	if row.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, row.timeout)
		defer cancel()
	}
	err, recs := e.poll(ctx)
	clear := row.clear
	if clear == nil {
		clear = (*fakejenkins.Controller).ClearFaults
	}
	clear(e.fake)

	var r cellResult
	for _, rec := range recs {
		if rec.Fault || rec.Status == http.StatusServiceUnavailable {
			r.hit = true
		}
	}
	r.hit = r.hit || row.restart
	if err != nil {
		r.pollErr = kindOf(err)
	}
	if err == nil {
		observe() // a poll that succeeded is a good poll too
	}
	r.posts = len(postsIn(recs))
	r.readyDur, r.upDuring = e.w.Ready(), metric(t, e.reg, "jenkins_failover_jenkins_up")

	switch {
	case row.listFails && r.hit:
		if err == nil {
			t.Fatalf("the read of every computer met %q but Poll succeeded", row.name)
		}
		if r.pollErr != row.kind {
			t.Errorf("poll error kind %q, want %q (%v)", r.pollErr, row.kind, err)
		}
		if r.readyDur || r.upDuring != 0 {
			t.Errorf("after a failed read: Ready()=%v jenkins_up=%g, want false and 0", r.readyDur, r.upDuring)
		}
		// Nothing but reads of the computer list (Go's transport replays
		// an idempotent GET once when a reused connection closes unanswered).
		if len(recs) > 2 {
			t.Errorf("a failed read was followed by %d more requests: %+v", len(recs)-1, recs)
		}
		for _, rec := range recs {
			if rec.Method != http.MethodGet || rec.Path != "/computer/api/json" {
				t.Errorf("request after the failed read: %s %s", rec.Method, rec.Path)
			}
		}
		if got := e.state(primary); !reflect.DeepEqual(got, before) {
			t.Errorf("a failed poll changed the group state:\n got %+v\nwant %+v", got, before)
		}
		if d := metric(t, e.reg, "jenkins_failover_jenkins_errors_total", "kind", row.kind) - errKind0; d != 1 {
			t.Errorf("jenkins_errors_total{kind=%q} grew by %g, want 1", row.kind, d)
		}
	case !row.listFails:
		if err != nil {
			t.Fatalf("Poll failed though the computer list read was fine: %v", err)
		}
		if !r.readyDur || r.upDuring != 1 {
			t.Errorf("the computer list was read: Ready()=%v jenkins_up=%g, want true and 1", r.readyDur, r.upDuring)
		}
		if r.hit && row.kind != "" {
			if d := metric(t, e.reg, "jenkins_failover_jenkins_errors_total", "kind", row.kind) - errKind0; d < 1 {
				t.Errorf("jenkins_errors_total{kind=%q} did not grow", row.kind)
			}
		}
	}

	r.settledAt = -1
	for i := range recoveryPolls + 1 {
		e.mustPoll()
		if i == 0 {
			r.readyAft, r.upAfter = e.w.Ready(), metric(t, e.reg, "jenkins_failover_jenkins_up")
			if !r.readyAft || r.upAfter != 1 {
				t.Errorf("first good poll after the fault: Ready()=%v jenkins_up=%g, want true and 1", r.readyAft, r.upAfter)
			}
		}
		observe()
		last := base.states[len(base.states)-1]
		got := e.state(primary)
		same := got.Phase == last.Phase && got.Active == last.Active && sameWorld(e.world(), base.world, row.restart)
		if row.anyStandby && m == duringFailover && !same {
			same = got.Phase == last.Phase && oneStandbyCarries(e.world(), got.Active)
		}
		if r.settledAt < 0 && same {
			r.settledAt = i + 1
		}
	}
	// A fault that failed the poll, or never hit, must leave no trace:
	// the state after every good poll is the fault-free run's.
	r.sameSeq = len(good) >= len(base.states) && reflect.DeepEqual(good[:len(base.states)], base.states)
	if (row.listFails || !r.hit) && !r.sameSeq {
		t.Errorf("states after good polls differ from the fault-free run:\n got %+v\nwant %+v", good, base.states)
	}
	if r.settledAt < 0 {
		t.Errorf("end state %+v, world %s; fault-free run ends %+v, world %s",
			e.state(primary), describeWorld(e.world()), base.states[len(base.states)-1], describeWorld(base.world))
	} else if within := max(row.settleWithin, 2); r.settledAt > within {
		t.Errorf("took %d good polls to reach the fault-free end state, want at most %d", r.settledAt, within)
	}
	if row.restart {
		if got := metric(t, e.reg, "jenkins_failover_controller_restarts_total"); got != 1 {
			t.Errorf("controller_restarts_total = %g, want 1", got)
		}
	}
	r.failovers = metric(t, e.reg, "jenkins_failover_failovers_total") - base.failovers
	r.failbacks = metric(t, e.reg, "jenkins_failover_failbacks_total") - base.failbacks
	r.logs = e.logs.String()
	r.status, r.metrics = e.scrape()
	r.errs = e.errs
	return r
}

func sameWorld(got, want map[string]nodeFacts, flagsOnly bool) bool {
	if !flagsOnly {
		return reflect.DeepEqual(got, want)
	}
	for n, w := range want {
		if got[n].TemporarilyOffline != w.TemporarilyOffline {
			return false
		}
	}
	return true
}

// oneStandbyCarries: the active node is a standby, and it is the only
// node of the world that is not temporarily offline but for the primary.
func oneStandbyCarries(world map[string]nodeFacts, active string) bool {
	if active == "" || active == primary {
		return false
	}
	for n, f := range world {
		if n != primary && !f.TemporarilyOffline != (n == active) {
			return false
		}
	}
	return true
}

func kindOf(err error) string {
	var k interface{ ErrorKind() string }
	if errors.As(err, &k) {
		return k.ErrorKind()
	}
	return "unexpected"
}

// runMatrix runs every row at every moment as subtests and returns the
// results by row and moment.
func runMatrix(t *testing.T) [][]cellResult {
	bases := map[moment]baseline{}
	for _, m := range moments {
		bases[m] = runBaseline(t, m)
	}
	results := make([][]cellResult, len(faultRows))
	for i, row := range faultRows {
		results[i] = make([]cellResult, len(moments))
		for j, m := range moments {
			t.Run(row.name+"/"+m.String(), func(t *testing.T) {
				results[i][j] = runCell(t, row, m, bases[m])
			})
		}
	}
	return results
}

func matrixTable(results [][]cellResult) string {
	var b strings.Builder
	b.WriteString("| fault | steady state | during failover | during failback |\n|---|---|---|---|\n")
	for i, row := range faultRows {
		fmt.Fprintf(&b, "| %s |", row.name)
		for j := range moments {
			fmt.Fprintf(&b, " %s |", results[i][j])
		}
		b.WriteString("\n")
	}
	return b.String()
}

// TestFaultMatrix injects each fault at each moment and checks: no POST
// after a failed read; no state lost or invented (the states after the
// good polls equal a fault-free run's when the poll failed, and the end
// state is the fault-free one after at most one retry otherwise);
// readiness and jenkins_up follow the fault and come back on the first
// good poll; at most one POST per node and action per poll; and, in its
// "secrets" subtest, that no credential shows in any output of any cell.
func TestFaultMatrix(t *testing.T) {
	results := runMatrix(t)
	t.Log("\n" + matrixTable(results))
	t.Run("secrets", func(t *testing.T) { checkSecrets(t, results) })
	// The matrix must exercise what it claims: every read fault hits at
	// every moment, and every action fault hits during failover or failback.
	for i, row := range faultRows {
		hits := 0
		for j := range moments {
			if results[i][j].hit {
				hits++
			}
		}
		if row.listFails && hits != len(moments) || hits == 0 {
			t.Errorf("%s: hit at %d of %d moments", row.name, hits, len(moments))
		}
	}
}
