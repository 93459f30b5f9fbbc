package reliability

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/robfig/cron/v3"

	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/agent"
	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/internal/fakejenkins"
	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/server"
	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/watcher"
)

// signalWriter passes log lines on and closes ch at the first line that
// contains match, so a test can wait for a log line without polling.
type signalWriter struct {
	w     io.Writer
	match string
	ch    chan struct{}
	once  sync.Once
}

func (s *signalWriter) Write(p []byte) (int, error) {
	if bytes.Contains(p, []byte(s.match)) {
		s.once.Do(func() { close(s.ch) })
	}
	return s.w.Write(p)
}

func waitFor(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}

var failFast = watcher.Params{FailoverAfter: 1, FailbackAfter: 2, StandbyWait: 3}

// SIGTERM (the context given to Run is cancelled) while a toggle is on the
// wire: Run stops scheduling, waits for the poll in flight, the toggle and
// its confirming read complete, and Run returns.
func TestCancelDuringActionCompletesIt(t *testing.T) {
	e := newEnv(t, envOptions{params: &failFast})
	_ = e.fake.KillAgent(primary) // the first poll fails over at once
	// The standby carries this watchdog's claim from an earlier poll, so
	// the first POST of this one is the toggle.
	if err := e.fake.OperatorOffline(standby1, testUser, agent.ClaimMessage("", primary)); err != nil {
		t.Fatal(err)
	}

	arrived, release := make(chan struct{}), make(chan struct{})
	var arrivedOnce, releaseOnce sync.Once
	t.Cleanup(func() { releaseOnce.Do(func() { close(release) }) })
	e.tr.setHook(func(r *http.Request) {
		if r.Method == http.MethodPost {
			arrivedOnce.Do(func() { close(arrived) })
			<-release
		}
	})
	stopping := &signalWriter{w: e.logs, match: "stopping", ch: make(chan struct{})}
	w, reg := e.newWatcher(testUser, testToken, 5*time.Second, failFast, stopping)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx, cron.Every(time.Hour), 10*time.Second) }()

	waitFor(t, arrived, "the toggle to reach Jenkins")
	cancel()
	waitFor(t, stopping.ch, "Run to log that it is stopping")
	select {
	case err := <-done:
		t.Fatalf("Run returned (%v) while its toggle was still on the wire", err)
	default:
	}
	releaseOnce.Do(func() { close(release) })
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after the action completed")
	}
	e.tr.waitIdle(t)
	if n := e.node(standby1); n.Offline {
		t.Fatalf("the toggle did not complete: %+v", n)
	}
	if got := metric(t, reg, "jenkins_failover_actions_total", "node", standby1, "action", "online", "result", "ok"); got != 1 {
		t.Errorf("actions_total{online,ok} = %g, want 1", got)
	}
	if s := w.GroupState(primary); s.Phase != watcher.PhaseFailingOver || s.Candidate != standby1 {
		t.Errorf("state after the completed action: %+v", s)
	}
	// The confirming read came after the toggle, so the poll ran to its end.
	recs := e.fake.Requests()
	if last := recs[len(recs)-1]; last.Method != http.MethodGet || recordNode(last) != standby1 {
		t.Errorf("last request %s %s, want the confirming read of %s", last.Method, last.Path, standby1)
	}
}

// SIGTERM while a toggle hangs longer than JENKINS_TIMEOUT: the request
// times out, the action is counted as an error, the node is unchanged, no
// node is reported active, and Run returns.
func TestCancelDuringSlowActionFailsCleanly(t *testing.T) {
	e := newEnv(t, envOptions{params: &failFast})
	_ = e.fake.KillAgent(primary)
	e.fake.InjectFault(fakejenkins.Fault{Kind: fakejenkins.FaultSlow, Method: http.MethodPost})
	arrived := make(chan struct{})
	var once sync.Once
	e.tr.setHook(func(r *http.Request) {
		if r.Method == http.MethodPost {
			once.Do(func() { close(arrived) })
		}
	})
	w, reg := e.newWatcher(testUser, testToken, 200*time.Millisecond, failFast, e.logs)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx, cron.Every(time.Hour), 10*time.Second) }()
	waitFor(t, arrived, "the toggle to reach Jenkins")
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return")
	}
	e.tr.waitIdle(t)
	// The first change of a failover is the claim before the toggle.
	if got := metric(t, reg, "jenkins_failover_actions_total", "node", standby1, "action", "claim", "result", "error"); got != 1 {
		t.Errorf("actions_total{claim,error} = %g, want 1", got)
	}
	if got := metric(t, reg, "jenkins_failover_jenkins_errors_total", "kind", "timeout"); got != 1 {
		t.Errorf("jenkins_errors_total{timeout} = %g, want 1", got)
	}
	if n := e.node(standby1); !n.TemporarilyOffline {
		t.Errorf("a toggle that timed out changed the node: %+v", n)
	}
	if s := w.GroupState(primary); s.Phase != watcher.PhaseFailingOver || s.Active != "" {
		t.Errorf("after a failed toggle: %+v, want failing_over with no active node", s)
	}
	if n := len(postsIn(e.fake.Requests())); n != 1 {
		t.Errorf("%d POSTs, want the one that hung", n)
	}
	if !strings.Contains(e.logs.String(), "claim failed") {
		t.Error("the failed claim was not logged")
	}
}

// panicJenkins panics once, in the fresh read before a toggle: the middle
// of a poll, after the read of every computer.
type panicJenkins struct {
	watcher.Jenkins
	armed atomic.Bool
}

func (p *panicJenkins) BringOnline(ctx context.Context, name string, guard agent.Guard) (agent.Change, error) {
	return p.Jenkins.BringOnline(ctx, name, func(n agent.NodeInfo) error {
		if p.armed.CompareAndSwap(true, false) {
			panic("injected panic in the fresh read of " + name)
		}
		return guard(n)
	})
}

// A panic inside one poll is recovered and counted; the poll changes
// nothing; the next poll runs as usual and completes the failover.
func TestPanicInOnePollIsRecovered(t *testing.T) {
	e := newEnv(t, envOptions{})
	pj := &panicJenkins{}
	e.withJenkins(func(j watcher.Jenkins) watcher.Jenkins { pj.Jenkins = j; return pj }, defaultParams)
	e.mustPoll()
	_ = e.fake.KillAgent(primary)
	e.mustPoll()
	before := e.state(primary)

	pj.armed.Store(true)
	err, recs := e.poll(context.Background())
	if err == nil || !strings.Contains(err.Error(), "panicked") {
		t.Fatalf("Poll = %v, want a recovered panic", err)
	}
	if len(postsIn(recs)) != 0 {
		t.Errorf("POST in the poll that panicked: %+v", postsIn(recs))
	}
	if got := metric(t, e.reg, "jenkins_failover_poll_panics_total"); got != 1 {
		t.Errorf("poll_panics_total = %g, want 1", got)
	}
	if got := metric(t, e.reg, "jenkins_failover_polls_total", "result", "error"); got != 1 {
		t.Errorf("polls_total{error} = %g, want 1", got)
	}
	if got := e.state(primary); got.Phase != before.Phase || got.Candidate != before.Candidate {
		t.Errorf("the panicked poll committed a state: %+v (before %+v)", got, before)
	}
	if !strings.Contains(e.logs.String(), "poll panicked; recovered") {
		t.Error("the panic was not logged")
	}

	e.mustPoll()
	if !e.w.Ready() || metric(t, e.reg, "jenkins_failover_jenkins_up") != 1 {
		t.Error("not ready after the poll that followed the panic")
	}
	e.mustPoll()
	wantPhase(t, e, watcher.PhaseFailedOver, standby1)
	if got := metric(t, e.reg, "jenkins_failover_poll_panics_total"); got != 1 {
		t.Errorf("poll_panics_total = %g after good polls, want 1", got)
	}
}

type stubWatcher struct{}

func (stubWatcher) Live() bool               { return true }
func (stubWatcher) Ready() bool              { return true }
func (stubWatcher) Status() watcher.Status   { return watcher.Status{} }
func (stubWatcher) StatusGeneration() uint64 { return 0 }

// A client that sends its request headers slowly (never finishes them)
// is cut off by the server's ReadHeaderTimeout, while other clients are
// served meanwhile. It takes the server's real 5 s, so it runs in parallel.
func TestServerCutsOffSlowClient(t *testing.T) {
	t.Parallel()
	srv, err := server.Listen(server.Options{Addr: "127.0.0.1:0", Gatherer: prometheus.NewRegistry(), Watcher: stubWatcher{}})
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve() }()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Error(err)
		}
		if err := <-served; err != nil {
			t.Error(err)
		}
	}()
	addr := srv.Addr().String()

	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	if _, err := io.WriteString(conn, "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: "); err != nil {
		t.Fatal(err)
	}

	// Meanwhile a well-behaved client is served.
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{}}
	resp, err := hc.Get("http://" + addr + "/livez")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	hc.CloseIdleConnections()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/livez: %d", resp.StatusCode)
	}

	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	reply, err := io.ReadAll(bufio.NewReader(conn))
	elapsed := time.Since(start)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the server kept a half-sent request open for %v", elapsed)
	}
	if elapsed < 4*time.Second || elapsed > 15*time.Second {
		t.Errorf("cut off after %v, want about ReadHeaderTimeout (5s)", elapsed)
	}
	if len(reply) > 0 && !strings.HasPrefix(string(reply), "HTTP/1.1 408") {
		t.Errorf("the half-sent request got an answer: %q", reply)
	}
	t.Logf("slow client cut off after %v (reply %q)", elapsed.Round(10*time.Millisecond), strings.SplitN(string(reply), "\r\n", 2)[0])
}
