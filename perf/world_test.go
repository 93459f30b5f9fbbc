package perf

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/agent"
	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/config"
	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/internal/fakejenkins"
	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/internal/testlab"
	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/jenkins"
	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/watcher"
)

const (
	benchUser  = "watchdog"
	benchToken = "bench-token"
)

// layout is a controller's population: Agents agents, the first 2*Groups
// of them in primary/standby pairs (agent-0000:agent-0001, ...), the rest
// unmanaged. Primaries and unmanaged agents are online; every standby is
// parked with the watchdog's own message, which is the steady state.
type layout struct {
	Agents int
	Groups int
}

// layouts are the benchmarked populations: half of the agents in pairs at
// 10, 100 and 1,000 agents, and the target of 1,000 agents in 500
// groups.
var layouts = []layout{{10, 2}, {100, 25}, {1000, 250}, {1000, 500}}

func (l layout) String() string { return fmt.Sprintf("agents=%d/groups=%d", l.Agents, l.Groups) }

func agentName(i int) string { return fmt.Sprintf("agent-%04d", i) }

// groups are the WATCHDOG_PAIRS of the layout.
func (l layout) groups() []config.Group {
	gs := make([]config.Group, l.Groups)
	for i := range gs {
		gs[i] = config.Group{Primary: agentName(2 * i), Standbys: []string{agentName(2*i + 1)}}
	}
	return gs
}

// pairsSpec is the layout's WATCHDOG_PAIRS value.
func (l layout) pairsSpec() string {
	s := ""
	for i, g := range l.groups() {
		if i > 0 {
			s += ","
		}
		s += g.Primary + ":" + g.Standbys[0]
	}
	return s
}

// newFake builds the layout's controller with a user holding
// Computer/Disconnect (which implies Connect, so absoluteRemotePath shows).
func (l layout) newFake(opts fakejenkins.Options) (*fakejenkins.Controller, error) {
	agents := make([]fakejenkins.AgentSpec, l.Agents)
	for i := range agents {
		agents[i] = fakejenkins.AgentSpec{Name: agentName(i), Launch: fakejenkins.SSH}
	}
	fake, _, err := testlab.NewController(testlab.Options{Pairs: l.pairsSpec(), Agents: agents, Fake: opts,
		User: benchUser, Token: benchToken, ParkedBy: benchUser, ParkMessage: agent.ParkMessage(agent.ParkStandby)})
	return fake, err
}

// countingTransport is what jenkins.New builds by default (a clone of
// http.DefaultTransport, four idle connections per host), plus a dialer
// that counts every byte the client reads off its sockets: the responses
// as they travel, headers and gzip framing included.
func countingTransport(read *atomic.Int64) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 4
	d := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &countingConn{Conn: c, read: read}, nil
	}
	return t
}

type countingConn struct {
	net.Conn
	read *atomic.Int64
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.read.Add(int64(n))
	return n, err
}

// params are the daemon's defaults.
var params = watcher.Params{FailoverAfter: 2, FailbackAfter: 6, StandbyWait: 3, Failback: config.FailbackAuto}

// newWatcher wires a watcher as the daemon does, with its own registry.
func newWatcher(j watcher.Jenkins, groups []config.Group, p watcher.Params, now func() time.Time) *watcher.Watcher {
	reg := prometheus.NewRegistry()
	return watcher.New(watcher.Options{
		Jenkins: j, Groups: groups, Params: p, Now: now,
		Metrics: watcher.NewMetrics(reg, groups, testlab.ErrorKinds()),
	})
}

// ourClient is the project's adapter: one tree-filtered request per poll.
func ourClient(tb testing.TB, url string, tr http.RoundTripper) *jenkins.Client {
	tb.Helper()
	c, err := jenkins.New(jenkins.Options{URL: url, User: benchUser, Token: benchToken, Timeout: 10 * time.Second, Transport: tr})
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// ourClientReading is the adapter as the daemon builds it, told the
// watched nodes, reading them the given way.
func ourClientReading(tb testing.TB, url string, tr http.RoundTripper, groups []config.Group, read jenkins.ReadStrategy) *jenkins.Client {
	tb.Helper()
	var watched []string
	for _, g := range groups {
		watched = append(watched, g.Nodes()...)
	}
	c, err := jenkins.New(jenkins.Options{URL: url, User: benchUser, Token: benchToken, Timeout: 10 * time.Second, Transport: tr,
		Nodes: watched, Read: read})
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// requireSteady fails unless every group reads normal: the timed polls
// must be the steady state, with no action in them.
func requireSteady(tb testing.TB, w *watcher.Watcher, groups []config.Group) {
	tb.Helper()
	for _, g := range groups {
		if st := w.GroupState(g.Name()); st.Phase != watcher.PhaseNormal {
			tb.Fatalf("group %s is %s, want normal", g.Name(), st.Phase)
		}
	}
}
