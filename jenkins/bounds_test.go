package jenkins

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/agent"
)

// TestOversizedHeadersAreRefused: headers Jenkins would never send (here a
// 9 MiB X-Jenkins, under Go's own 10 MiB limit) are refused after
// maxHeaderBytes, as a bad response that says so.
func TestOversizedHeadersAreRefused(t *testing.T) {
	huge := strings.Repeat("9", 9<<20)
	c, _, _ := newClientTimeout(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("X-Jenkins", huge)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(twoNodes))
	}, time.Minute)
	_, err := c.Computers(context.Background())
	if !errors.Is(err, ErrBadResponse) || !strings.Contains(err.Error(), "headers larger than") {
		t.Fatalf("err = %.300v, want a bad response about headers", err)
	}
	if len(err.Error()) > 1000 {
		t.Errorf("error of %d bytes", len(err.Error()))
	}
}

// TestValidJSONOverTheCapIsRefused: a listing that is valid JSON, and
// would decode, is refused once it passes maxBody.
func TestValidJSONOverTheCapIsRefused(t *testing.T) {
	c, _, _ := newClientTimeout(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		// Computers with messages of 1 MiB each: every string within
		// maxToken, the whole over maxBody.
		_, _ = io.WriteString(w, `{"computer":[`)
		chunk := strings.Repeat("x", 1<<20)
		for i := range maxBody>>20 + 1 {
			sep := ","
			if i == 0 {
				sep = ""
			}
			if _, err := fmt.Fprintf(w, `%s{"displayName":"s%d","offline":true,"temporarilyOffline":true,"offlineCauseReason":"%s"}`, sep, i, chunk); err != nil {
				return
			}
		}
		_, _ = io.WriteString(w, `]}`)
	}, time.Minute)
	_, err := c.Computers(context.Background())
	if !errors.Is(err, ErrBadResponse) || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("err = %v, want a bad response, larger than the cap", err)
	}
}

// boundsServer answers the listing with computers and a single node's read
// with the first of them, with the given headers.
func boundsServer(t *testing.T, header map[string]string, computers ...string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Jenkins", "2.479.3")
		w.Header().Set("X-Jenkins-Session", "abc")
		for k, v := range header {
			w.Header().Set(k, v)
		}
		if r.URL.Path == "/computer/api/json" {
			_, _ = io.WriteString(w, `{"computer":[`+strings.Join(computers, ",")+`]}`)
			return
		}
		_, _ = io.WriteString(w, computers[0])
	}))
	t.Cleanup(srv.Close)
	return srv
}

// checkCut checks a text cut to max: short enough, valid UTF-8, marked,
// and the start of what was sent.
func checkCut(t *testing.T, what, got, sent string, max int) {
	t.Helper()
	if len(sent) <= max {
		if got != sent {
			t.Errorf("%s: a text within the bound changed: %q", what, got)
		}
		return
	}
	if len(got) > max || !utf8.ValidString(got) || !strings.HasSuffix(got, "…") ||
		!strings.HasPrefix(sent, strings.TrimSuffix(got, "…")) || len(got) < max-len("…")-utf8.UTFMax {
		t.Errorf("%s: %d bytes sent, kept %d: %.60q", what, len(sent), len(got), got)
	}
}

// TestBoundsHold: every string kept from an answer is within its bound,
// whether the poll lists the computers or reads the watched node alone.
func TestBoundsHold(t *testing.T) {
	node := func(name, reason, class string) string {
		return fmt.Sprintf(`{"_class":"hudson.slaves.SlaveComputer","displayName":%q,"offline":true,"temporarilyOffline":true,`+
			`"offlineCauseReason":%q,"offlineCause":{"_class":%q}}`, name, reason, class)
	}
	const user = "hudson.slaves.OfflineCause$UserCause"
	// "é" is two bytes: a cut at maxMessage-3 falls inside one.
	longReason, longClass := strings.Repeat("é", maxMessage), strings.Repeat("c", 2*maxMessage)
	exactName := strings.Repeat("n", maxNodeName)
	tests := []struct {
		name      string
		watch     string // the node read alone; "s" when empty
		header    map[string]string
		computers []string
		check     func(t *testing.T, read string, snap agent.Snapshot, err error)
	}{
		{"name at the bound", exactName, nil, []string{node(exactName, "", user)}, func(t *testing.T, _ string, snap agent.Snapshot, err error) {
			if _, ok := snap.Nodes[exactName]; err != nil || !ok {
				t.Errorf("a name of maxNodeName bytes: %v, %v", snap.Nodes, err)
			}
		}},
		{"name over the bound", "", nil, []string{node("s"+exactName, "", user), node("other", "", user)}, func(t *testing.T, read string, snap agent.Snapshot, err error) {
			if read == "each" {
				if !errors.Is(err, ErrBadResponse) || !strings.Contains(err.Error(), "name longer than 256 bytes") {
					t.Errorf("a single read with a name over the bound: %v", err)
				}
				return
			}
			if _, ok := snap.Nodes["other"]; err != nil || !ok || len(snap.Nodes) != 1 {
				t.Errorf("listing: %d nodes, %v; want only the other node", len(snap.Nodes), err)
			}
		}},
		{"offline texts", "", nil, []string{node("s", longReason, longClass)}, func(t *testing.T, _ string, snap agent.Snapshot, err error) {
			n, ok := snap.Nodes["s"]
			if err != nil || !ok {
				t.Fatalf("%v, %v", snap.Nodes, err)
			}
			checkCut(t, "offlineCauseReason", n.CauseReason, longReason, maxMessage)
			checkCut(t, "offlineCause._class", n.CauseClass, longClass, maxMessage)
			if agent.Classify(n, true) != agent.Held {
				t.Errorf("a cut message reads %s, want held: a person's", agent.Classify(n, true))
			}
		}},
		{"texts at the bound", "", nil, []string{node("s", strings.Repeat("é", maxMessage/2), user)}, func(t *testing.T, _ string, snap agent.Snapshot, err error) {
			checkCut(t, "offlineCauseReason", snap.Nodes["s"].CauseReason, strings.Repeat("é", maxMessage/2), maxMessage)
		}},
		{"headers", "", map[string]string{"X-Jenkins": strings.Repeat("2.", 100), "X-Jenkins-Session": strings.Repeat("ab", 100)},
			[]string{node("s", "", user)}, func(t *testing.T, _ string, snap agent.Snapshot, err error) {
				if err != nil {
					t.Fatal(err)
				}
				checkCut(t, "X-Jenkins", snap.Version, strings.Repeat("2.", 100), maxVersion)
				checkCut(t, "X-Jenkins-Session", snap.Session, strings.Repeat("ab", 100), maxSession)
			}},
		{"headers not UTF-8", "", map[string]string{"X-Jenkins": "2.479\xff"}, []string{node("s", "", user)}, func(t *testing.T, _ string, snap agent.Snapshot, err error) {
			if err != nil || snap.Version != "2.479\uFFFD" {
				t.Errorf("version %q, %v", snap.Version, err)
			}
		}},
	}
	for _, tt := range tests {
		for _, read := range []string{"list", "each"} {
			t.Run(tt.name+"/"+read, func(t *testing.T) {
				srv := boundsServer(t, tt.header, tt.computers...)
				strategy := ReadList
				if read == "each" {
					strategy = ReadEach
				}
				c, err := New(Options{URL: srv.URL, User: "u", Token: token, Nodes: []string{cmp.Or(tt.watch, "s")}, Read: strategy})
				if err != nil {
					t.Fatal(err)
				}
				snap, err := c.Computers(context.Background())
				tt.check(t, read, snap, err)
			})
		}
	}
}

// TestForbiddenPermissionIsBounded: a 403's X-Required-Permission, which
// the error names, is cut to maxPermission.
func TestForbiddenPermissionIsBounded(t *testing.T) {
	long := strings.Repeat("p", 10*maxPermission)
	c, _, _ := newClient(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("X-Required-Permission", long)
		w.WriteHeader(http.StatusForbidden)
	})
	_, err := c.Computers(context.Background())
	var je *Error
	if !errors.As(err, &je) || je.Kind != KindForbidden {
		t.Fatalf("err = %v", err)
	}
	checkCut(t, "X-Required-Permission", je.Permission, long, maxPermission)
}

// TestLongCrumbIsRefused: a crumb, sent back with every POST, is refused
// when longer than maxCrumb.
func TestLongCrumbIsRefused(t *testing.T) {
	c, _, _ := newClient(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/jenkins/crumbIssuer/api/json" {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"crumb":%q,"crumbRequestField":"Jenkins-Crumb"}`, strings.Repeat("c", maxCrumb+1))
			return
		}
		w.WriteHeader(http.StatusForbidden)
		_, _ = io.WriteString(w, "No valid crumb was included in the request")
	})
	err := c.toggleOffline(context.Background(), "s")
	if !errors.Is(err, ErrBadResponse) || !strings.Contains(err.Error(), "crumb") {
		t.Fatalf("err = %v, want a bad response about the crumb", err)
	}
}

// makeBomb gzips head, fill repeated, tail as concatenated gzip members
// (which a gzip reader reads as one stream): fill is compressed once and
// its member repeated times times.
func makeBomb(head, fill string, repeat, times int, tail string) []byte {
	var out bytes.Buffer
	member := func(s string, times int) {
		var m bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&m, gzip.BestCompression)
		_, _ = io.WriteString(zw, s)
		_ = zw.Close()
		for range times {
			out.Write(m.Bytes())
		}
	}
	member(head, 1)
	member(strings.Repeat(fill, repeat), times)
	member(tail, 1)
	return out.Bytes()
}

// gzipBombs are gzip bodies of about 1 MB that inflate to hundreds of
// MiB of valid JSON: members the decoder skips one by one, spaces inside
// the list (which reach the decoder as one), or one string.
var gzipBombs = []struct {
	name string
	body func() []byte
}{
	{"members", sync.OnceValue(func() []byte { return makeBomb(`{`, `"a":0,`, 1<<18, 448, `"computer":[]}`) })}, // 672 MiB
	{"spaces", sync.OnceValue(func() []byte { return makeBomb(`{"computer":[`, " ", 1<<20, 1<<10, `]}`) })},     // 1 GiB
	// One string of 1 GiB: the decoder holds a string whole, up to the cap.
	{"string", sync.OnceValue(func() []byte { return makeBomb(`{"computer":[{"displayName":"`, "a", 1<<20, 1<<10, `"}]}`) })},
}

// bombServer serves the bomb gzip-encoded, and counts what it sent.
func bombServer(tb testing.TB, bomb []byte, sent *atomic.Int64) *httptest.Server {
	tb.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Set("Content-Length", fmt.Sprint(len(bomb)))
		for b := bomb; len(b) > 0; {
			n, err := w.Write(b[:min(len(b), 32<<10)])
			sent.Add(int64(n))
			if err != nil {
				return
			}
			b = b[n:]
		}
	}))
	tb.Cleanup(srv.Close)
	return srv
}

// countingTransport counts what the decoder pulls from the inflated body.
type countingTransport struct {
	rt       http.RoundTripper
	inflated *atomic.Int64
}

func (c countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := c.rt.RoundTrip(r)
	if err == nil {
		resp.Body = &countingBody{resp.Body, c.inflated}
	}
	return resp, err
}

type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}

// TestGzipBombIsCutAtTheCap: the cap counts inflated bytes: 1 MB of gzip
// that inflates to 672 MiB of valid JSON is refused once maxBody bytes
// came out of the gzip reader, not after inflating all of it.
func TestGzipBombIsCutAtTheCap(t *testing.T) {
	var sent, inflated atomic.Int64
	bomb := gzipBombs[0].body()
	srv := bombServer(t, bomb, &sent)
	tr := http.DefaultTransport.(*http.Transport).Clone() // asks for gzip, inflates
	t.Cleanup(tr.CloseIdleConnections)
	c, err := New(Options{URL: srv.URL, User: "u", Token: token, Timeout: time.Minute,
		Transport: countingTransport{tr, &inflated}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Computers(context.Background())
	if !errors.Is(err, ErrBadResponse) || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("err = %v, want a bad response, larger than the cap", err)
	}
	// The cap, and the few kB Close drains.
	if n := inflated.Load(); n > maxBody+64<<10 {
		t.Errorf("%d bytes inflated, want about maxBody (%d) of the bomb's 1 GiB", n, maxBody)
	}
	t.Logf("gzip body %d bytes, %d written by the server, %d inflated", len(bomb), sent.Load(), inflated.Load())
}

// BenchmarkGzipBomb reads each gzip bomb (about 1 MB that inflates to
// hundreds of MiB) through the Client, as a poll would, and reports what
// refusing it costs: bytes allocated per read (TotalAlloc's growth, B/op)
// and the highest HeapInuse seen while it runs above the level before
// (peak-heap-B, sampled every millisecond; the heap is collected before
// each read, so it is one read's peak).
func BenchmarkGzipBomb(b *testing.B) {
	for _, bomb := range gzipBombs {
		b.Run("bomb="+bomb.name, func(b *testing.B) {
			var sent atomic.Int64
			srv := bombServer(b, bomb.body(), &sent)
			c, err := New(Options{URL: srv.URL, User: "u", Token: token, Timeout: time.Minute})
			if err != nil {
				b.Fatal(err)
			}
			runtime.GC()
			var base runtime.MemStats
			runtime.ReadMemStats(&base)
			var peak atomic.Uint64
			stop, done := make(chan struct{}), make(chan struct{})
			go func() {
				defer close(done)
				tick := time.NewTicker(time.Millisecond)
				defer tick.Stop()
				var m runtime.MemStats
				for {
					select {
					case <-stop:
						return
					case <-tick.C:
						runtime.ReadMemStats(&m)
						if m.HeapInuse > peak.Load() {
							peak.Store(m.HeapInuse)
						}
					}
				}
			}()
			b.ReportAllocs()
			for b.Loop() {
				// Each read from a collected heap: the peak is one read's.
				b.StopTimer()
				runtime.GC()
				b.StartTimer()
				if _, err := c.Computers(context.Background()); !errors.Is(err, ErrBadResponse) {
					b.Fatalf("err = %v", err)
				}
			}
			close(stop)
			<-done
			b.ReportMetric(float64(peak.Load()-min(peak.Load(), base.HeapInuse)), "peak-heap-B")
			b.ReportMetric(float64(len(bomb.body())), "gzip-B")
		})
	}
}

// TestDecoderShedsGrownBuffers: the decoder a Client keeps from poll to
// poll does not keep the buffers a long string grew (a run of spaces no
// longer grows them: spaceCollapser; the "spaces" cases check it).
func TestDecoderShedsGrownBuffers(t *testing.T) {
	big := strings.Repeat(" ", 4*maxKeptBuffer)
	escaped := `\u00e9` + strings.Repeat("x", 3*maxKeptBuffer/2) // one escape: unquoted whole, within maxToken
	long := strings.Repeat("x", 2*maxToken)                      // refused by maxToken once the buffer grew
	for name, body := range map[string]string{
		"spaces":         `{"computer":[` + big + `]}`,
		"escaped string": `{"computer":[{"displayName":"s","offline":true,"temporarilyOffline":true,"offlineCauseReason":"` + escaped + `"}]}`,
		"cut":            `{"computer":[` + big,
		"long string":    `{"computer":[{"displayName":"` + long + `"}]}`,
	} {
		d := newDecoder()
		_, _ = d.computers(strings.NewReader(body))
		_, _ = d.computer(strings.NewReader(body))
		_, _, _ = d.node(strings.NewReader(body))
		if c := cap(d.dec.UnreadBuffer()); c > maxKeptBuffer {
			t.Errorf("%s: decoder keeps a buffer of %d bytes", name, c)
		}
		if c := cap(d.unquote); c > maxKeptBuffer {
			t.Errorf("%s: decoder keeps an unquote buffer of %d bytes", name, c)
		}
	}
}
