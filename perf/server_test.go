package perf

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/internal/fakejenkins"
)

// The benchmarks measure the watchdog, not the fake. So the fake runs in a
// child process (this test binary run again with childEnv set), and its
// answers are rendered once by the real fake and then replayed byte for
// byte: the client's CPU time (getrusage of this process), allocations and
// heap are the client's alone, and the wall time is not inflated by the
// fake rendering a thousand documents per poll.

const (
	childEnv   = "PERF_FAKE_JENKINS_CHILD" // "agents,groups"
	statsPath  = "/-/perf/stats"
	resetPath  = "/-/perf/reset"
	childReady = "PERF-FAKE-LISTENING "
)

// replay serves GETs from a cache filled by the real fake on first use;
// anything else goes to the fake. It counts what the client received.
type replay struct {
	fake *fakejenkins.Controller

	mu    sync.Mutex
	cache map[string]*recorded

	requests, wire, body atomic.Int64
}

type recorded struct {
	status int
	header http.Header
	sent   []byte // as on the wire: gzipped when the client accepted it
	plain  int    // size before compression
}

type replayStats struct {
	Requests  int64 `json:"requests"`
	WireBytes int64 `json:"wireBytes"` // response bodies as sent
	BodyBytes int64 `json:"bodyBytes"` // the same, uncompressed
}

func (rp *replay) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case statsPath:
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(replayStats{rp.requests.Load(), rp.wire.Load(), rp.body.Load()})
		return
	case resetPath:
		rp.requests.Store(0)
		rp.wire.Store(0)
		rp.body.Store(0)
		return
	}
	rec := rp.lookup(r)
	rp.requests.Add(1)
	rp.wire.Add(int64(len(rec.sent)))
	rp.body.Add(int64(rec.plain))
	for k, v := range rec.header {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.status)
	_, _ = w.Write(rec.sent)
}

func (rp *replay) lookup(r *http.Request) *recorded {
	key := r.Method + " " + r.URL.RequestURI() + " " + r.Header.Get("Accept-Encoding")
	if r.Method == http.MethodGet {
		rp.mu.Lock()
		rec, ok := rp.cache[key]
		rp.mu.Unlock()
		if ok {
			return rec
		}
	}
	rr := httptest.NewRecorder()
	rp.fake.ServeHTTP(rr, r)
	rec := &recorded{status: rr.Code, header: rr.Header().Clone(), sent: rr.Body.Bytes(), plain: rr.Body.Len()}
	if rr.Header().Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(rec.sent))
		if err == nil {
			n, _ := io.Copy(io.Discard, zr)
			rec.plain = int(n)
		}
	}
	if r.Method == http.MethodGet && rr.Code == http.StatusOK {
		rp.mu.Lock()
		rp.cache[key] = rec
		rp.mu.Unlock()
	}
	return rec
}

// runChild is the child process: it serves the layout on a loopback port
// until its standard input closes (the parent exited or let go of it).
func runChild(spec string) int {
	var l layout
	if _, err := fmt.Sscanf(spec, "%d,%d", &l.Agents, &l.Groups); err != nil {
		fmt.Fprintln(os.Stderr, "bad", childEnv, spec, err)
		return 2
	}
	fake, err := l.newFake(fakejenkins.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	srv := &http.Server{Handler: &replay{fake: fake, cache: map[string]*recorded{}}, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	fmt.Printf("%s%s\n", childReady, ln.Addr())
	_, _ = io.Copy(io.Discard, os.Stdin)
	_ = srv.Close()
	return 0
}

// child is a running fake in a child process.
type child struct {
	URL   string
	cmd   *exec.Cmd
	stdin io.Closer
}

var (
	childrenMu sync.Mutex
	children   = map[layout]*child{}
)

// fakeFor starts, or reuses, the child serving l.
func fakeFor(tb testing.TB, l layout) *child {
	tb.Helper()
	childrenMu.Lock()
	defer childrenMu.Unlock()
	if c, ok := children[l]; ok {
		return c
	}
	exe, err := os.Executable()
	if err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+strconv.Itoa(l.Agents)+","+strconv.Itoa(l.Groups))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if addr, ok := strings.CutPrefix(sc.Text(), childReady); ok {
			c := &child{URL: "http://" + addr, cmd: cmd, stdin: stdin}
			children[l] = c
			go func() { _, _ = io.Copy(io.Discard, stdout) }()
			return c
		}
	}
	_ = stdin.Close()
	_ = cmd.Wait()
	tb.Fatalf("fake controller child for %v did not start", l)
	return nil
}

// stopChildren ends every child: closing stdin makes it exit.
func stopChildren() {
	childrenMu.Lock()
	defer childrenMu.Unlock()
	for l, c := range children {
		_ = c.stdin.Close()
		_ = c.cmd.Wait()
		delete(children, l)
	}
}

func (c *child) stats(tb testing.TB) replayStats {
	tb.Helper()
	resp, err := http.Get(c.URL + statsPath)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	var s replayStats
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		tb.Fatal(err)
	}
	return s
}

func (c *child) reset(tb testing.TB) {
	tb.Helper()
	resp, err := http.Get(c.URL + resetPath)
	if err != nil {
		tb.Fatal(err)
	}
	_ = resp.Body.Close()
}

func TestMain(m *testing.M) {
	if spec := os.Getenv(childEnv); spec != "" {
		os.Exit(runChild(spec))
	}
	code := m.Run()
	stopChildren()
	os.Exit(code)
}
