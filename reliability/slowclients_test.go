//go:build linux

package reliability

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/server"
	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/watcher"
)

// Slow clients against a large view: a person's offline message of
// 200 kB on one node, and 500 clients that ask for /status (or the page)
// and never read the answer. Each handler then waits in its write for as
// long as WriteTimeout allows. Rendered per request, each would hold a
// copy of its own (500 x 200 kB = 100 MB); rendered once per poll and
// shared, they hold one between them. docs/bounds.md ("Memory") gives the
// figures and the command.
const (
	hugeMessageBytes = 200 << 10
	slowClients      = 500
	memoryBound      = 40 << 20
)

func hugeMessage() string {
	return "disk replacement, ticket 4711: " + strings.Repeat("the controller keeps this text as the operator wrote it. ", hugeMessageBytes/57)
}

// heldNodesView is a view whose n standbys each carry the huge message,
// as no cap in the Jenkins client could shorten it: the bound it shows is
// the server's sharing alone.
type heldNodesView struct{ st watcher.Status }

func (heldNodesView) Live() bool               { return true }
func (heldNodesView) Ready() bool              { return true }
func (v heldNodesView) Status() watcher.Status { return v.st }
func (heldNodesView) StatusGeneration() uint64 { return 1 }

func newHeldNodesView(n int) heldNodesView {
	g := watcher.GroupStatus{Name: primary, Primary: primary, State: watcher.PhaseNormal, Active: primary}
	st := watcher.Status{Controller: watcher.ControllerStatus{URL: "http://jenkins.invalid", Up: true},
		Nodes: []watcher.NodeStatus{{Name: primary, Group: primary, Role: "primary", State: "online"}}}
	msg := hugeMessage()
	for i := range n {
		name := fmt.Sprintf("standby-%02d", i)
		g.Standbys = append(g.Standbys, name)
		st.Nodes = append(st.Nodes, watcher.NodeStatus{Name: name, Group: primary, Role: "standby", State: "held", Reason: msg,
			Readiness: &watcher.Readiness{Why: "held by a person or a node monitor"}})
	}
	st.Groups = []watcher.GroupStatus{g}
	return heldNodesView{st}
}

// throughTheController is the same message set on a standby of the fake
// controller by a person and read by the real client and watcher: what
// the daemon serves, whatever the client makes of such a message.
func throughTheController(tb testing.TB) (server.Watcher, int) {
	e := newEnv(tb, envOptions{})
	if err := e.fake.OperatorOffline(standby1, "alice", hugeMessage()); err != nil {
		tb.Fatal(err)
	}
	e.mustPoll()
	reason := 0
	for _, n := range e.w.Status().Nodes {
		if n.Name == standby1 {
			reason = len(n.Reason)
		}
	}
	return e.w, reason
}

type footprint struct {
	heapInuse, sys, rss uint64
	bodyBytes           int
}

// slowReaders serves w on loopback, opens n connections that send
// GET path, waits until each answer has begun (one byte read, so every
// handler is in its write), and measures memory with all n handlers
// stuck there. The connections ask for a small receive buffer, so that
// the kernel cannot swallow the answers and let the handlers finish.
func slowReaders(tb testing.TB, w server.Watcher, path string, n int) footprint {
	tb.Helper()
	srv, err := server.Listen(server.Options{Addr: "127.0.0.1:0", Gatherer: prometheus.NewRegistry(), Watcher: w})
	if err != nil {
		tb.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve() }()
	addr := srv.Addr().String()
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			tb.Error(err)
		}
		if err := <-served; err != nil {
			tb.Error(err)
		}
	}()

	f := footprint{bodyBytes: contentLength(tb, addr, path)}
	dialer := net.Dialer{Timeout: 5 * time.Second, Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	req := "GET " + path + " HTTP/1.1\r\nHost: " + addr + "\r\n\r\n"
	for range n {
		c, err := dialer.Dial("tcp", addr)
		if err != nil {
			tb.Fatal(err)
		}
		conns = append(conns, c)
		if _, err := c.Write([]byte(req)); err != nil {
			tb.Fatal(err)
		}
		// A safety net, not a measurement: the answer starts at once.
		_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
		var one [1]byte
		if _, err := c.Read(one[:]); err != nil {
			tb.Fatalf("connection %d: no answer began: %v", len(conns), err)
		}
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	f.heapInuse, f.sys, f.rss = ms.HeapInuse, ms.Sys, vmRSS(tb)
	return f
}

// contentLength asks once, reading the whole answer, for its size.
func contentLength(tb testing.TB, addr, path string) int {
	tb.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	defer c.Close()
	if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", path, addr); err != nil {
		tb.Fatal(err)
	}
	r := bufio.NewReader(c)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			tb.Fatal(err)
		}
		if v, ok := strings.CutPrefix(strings.ToLower(strings.TrimSpace(line)), "content-length: "); ok {
			n, _ := strconv.Atoi(v)
			return n
		}
		if strings.TrimSpace(line) == "" {
			return -1
		}
	}
}

// vmRSS is this process's resident set, from /proc/self/status.
func vmRSS(tb testing.TB) uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		tb.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func mb(n uint64) string { return fmt.Sprintf("%.1f MB", float64(n)/(1<<20)) }

// The cases: the message read from the fake controller by the real
// client and watcher; the same in a view no client cap could shorten; and
// twenty such nodes, an answer of 4 MB, more than the kernel takes into a
// loopback connection's buffers (about 2.8 MB here), so that without the
// sharing every handler would hold its own copy in its write.
type slowCase struct {
	name  string
	view  func(testing.TB) server.Watcher
	path  string
	nodes int // held nodes with the message
}

var slowCases = []slowCase{
	{"controller/1node/status", func(tb testing.TB) server.Watcher { w, _ := throughTheController(tb); return w }, "/status", 1},
	{"view/1node/status", func(testing.TB) server.Watcher { return newHeldNodesView(1) }, "/status", 1},
	{"view/20nodes/status", func(testing.TB) server.Watcher { return newHeldNodesView(20) }, "/status", 20},
	{"view/20nodes/page", func(testing.TB) server.Watcher { return newHeldNodesView(20) }, "/", 20},
}

// The process, fake controller and test included, holds less than 40 MB
// of heap with 500 clients stuck on the answer: one rendering between
// them. Without the sharing the 4 MB cases would need 2 GB.
func TestSlowClientsShareOneRendering(t *testing.T) {
	_, reason := throughTheController(t)
	t.Logf("the message is %d bytes in Jenkins, %d bytes in the watcher's view", len(hugeMessage()), reason)
	for _, tc := range slowCases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.nodes > 1 && testing.Short() {
				t.Skip("-short: 500 loopback connections of 2.8 MB of kernel buffers each")
			}
			f := slowReaders(t, tc.view(t), tc.path, slowClients)
			t.Logf("%d clients stuck on a %d-byte answer: HeapInuse %s, Sys %s, VmRSS %s", slowClients, f.bodyBytes, mb(f.heapInuse), mb(f.sys), mb(f.rss))
			if f.heapInuse > memoryBound {
				t.Errorf("HeapInuse %s with %d clients stuck on a %d-byte answer, want under %s", mb(f.heapInuse), slowClients, f.bodyBytes, mb(memoryBound))
			}
		})
	}
}

// BenchmarkSlowClients reports the figures of docs/bounds.md ("Memory"):
//
//	go test -run '^$' -bench SlowClients -benchtime 1x ./reliability/
func BenchmarkSlowClients(b *testing.B) {
	for _, tc := range slowCases {
		b.Run(tc.name, func(b *testing.B) {
			w := tc.view(b)
			var f footprint
			for range b.N {
				f = slowReaders(b, w, tc.path, slowClients)
			}
			b.ReportMetric(float64(f.bodyBytes), "body-bytes")
			b.ReportMetric(float64(f.heapInuse)/(1<<20), "HeapInuse-MB")
			b.ReportMetric(float64(f.sys)/(1<<20), "Sys-MB")
			b.ReportMetric(float64(f.rss)/(1<<20), "VmRSS-MB")
		})
	}
}
