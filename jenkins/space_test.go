package jenkins

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"time"
)

// collapseAll reads b through a spaceCollapser, chunk bytes at a time.
func collapseAll(t testing.TB, b []byte, chunk int) []byte {
	t.Helper()
	var r io.Reader = bytes.NewReader(b)
	if chunk == 1 {
		r = iotest.OneByteReader(r)
	}
	var s spaceCollapser
	s.reset(r)
	var out []byte
	buf := make([]byte, max(chunk, 1))
	for {
		n, err := s.Read(buf)
		out = append(out, buf[:n]...)
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestSpaceCollapser: runs of whitespace outside strings become their
// first byte; strings, escaped quotes and backslashes included, pass as
// they are, however the body is cut into reads.
func TestSpaceCollapser(t *testing.T) {
	for in, want := range map[string]string{
		``:                        ``,
		`{}`:                      `{}`,
		"{  \n\t\r }":             `{ }`,
		"\n\n{\r\n\"a\" :  1 }  ": "\n{\r\"a\" : 1 } ",
		`{"a  b":"c   d"}`:        `{"a  b":"c   d"}`,
		`["x\"  y",  "z"]`:        `["x\"  y", "z"]`,
		`["x\\",  "y"]`:           `["x\\", "y"]`,
		`["x\\\"  ",  "y"]`:       `["x\\\"  ", "y"]`,
		`["\\\\",   "\\\\\"  "]`:  `["\\\\", "\\\\\"  "]`,
		`["\u0022  ",   1]`:       `["\u0022  ", 1]`,
		"[1 ,\t\t2]":              "[1 ,\t2]",
		"\"unterminated   ":       "\"unterminated   ",
		"[\"a\"    ":              "[\"a\" ",
		"  \xff  \"\xfe  \"  ":    " \xff \"\xfe  \" ",
	} {
		for _, chunk := range []int{1, 2, 3, 7, 4096} {
			if got := collapseAll(t, []byte(in), chunk); string(got) != want {
				t.Errorf("%q read %d bytes at a time: got %q, want %q", in, chunk, got, want)
			}
		}
	}
}

// FuzzSpaceCollapser: pairOfSpaces finds what a byte-by-byte look finds;
// the same bytes out whatever the reads, and for valid
// JSON the same JSON (compared compacted), with no run of whitespace left
// outside strings (collapsing again changes nothing).
func FuzzSpaceCollapser(f *testing.F) {
	for _, s := range []string{`{"a" :  "b  \"  c\\" ,  "d":[1,  2]}`, "\"\\\\\\\"  \"  ", "[\n\n\"x\"\r\n]",
		`{"computer":[{"displayName":"agent-0001","offlineCauseReason":"standby parked: x"},` + " \n" + `{"displayName":"agent-0002"}]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		pair := false
		for i := 1; i < len(b); i++ {
			pair = pair || (b[i-1] <= ' ' && b[i] <= ' ')
		}
		if pairOfSpaces(b) != pair {
			t.Fatalf("pairOfSpaces(%q) = %v", b, !pair)
		}
		whole := collapseAll(t, b, len(b)+1)
		for _, chunk := range []int{1, 3} {
			if got := collapseAll(t, b, chunk); !bytes.Equal(got, whole) {
				t.Fatalf("%q: %q read %d at a time, %q whole", b, got, chunk, whole)
			}
		}
		if !json.Valid(b) {
			return
		}
		var want, got bytes.Buffer
		_ = json.Compact(&want, b)
		if err := json.Compact(&got, whole); err != nil || !bytes.Equal(got.Bytes(), want.Bytes()) {
			t.Fatalf("%q collapsed to %q: %v", b, whole, err)
		}
		if again := collapseAll(t, whole, len(whole)+1); !bytes.Equal(again, whole) {
			t.Fatalf("%q collapsed to %q, then to %q: a run was left", b, whole, again)
		}
	})
}

// TestBombsCostLittle: a gzip bomb of spaces inside the list (1 MB
// inflating to 1 GiB) is refused at the body cap without the decoder
// buffering the 16 MiB of spaces it read, and one of a single string is
// refused once the string is longer than maxToken: each read allocates far
// less than the cap. Without spaceCollapser, each allocated some 67 MB.
func TestBombsCostLittle(t *testing.T) {
	for _, tc := range []struct {
		bomb  int
		want  string
		limit uint64
	}{
		{1, "larger than", 4 << 20},            // spaces: some 100 kB
		{2, "longer than", 4*maxToken + 4<<20}, // a string: the decoder's buffer doubles past maxToken
	} {
		bomb := gzipBombs[tc.bomb]
		body := bomb.body() // built before the count starts
		var sent atomic.Int64
		srv := bombServer(t, body, &sent)
		c, err := New(Options{URL: srv.URL, User: "u", Token: token, Timeout: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		_, err = c.Computers(context.Background())
		runtime.ReadMemStats(&after)
		if !errors.Is(err, ErrBadResponse) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want a bad response, %s", bomb.name, err, tc.want)
		}
		if n := after.TotalAlloc - before.TotalAlloc; n > tc.limit {
			t.Errorf("%s: reading the bomb allocated %d bytes, want at most %d", bomb.name, n, tc.limit)
		} else {
			t.Logf("%s: reading the bomb allocated %d bytes", bomb.name, n)
		}
	}
}

// TestLongTokensAreRefused: a string or number of maxToken bytes is read,
// one byte more is refused, whether the string has escapes (read byte by
// byte) or not (read many bytes at a time), and wherever the reads cut it.
func TestLongTokensAreRefused(t *testing.T) {
	node := func(reason string) string {
		return `{"computer":[{"displayName":"a","offline":true,"temporarilyOffline":true,"offlineCauseReason":"` + reason + `"}]}`
	}
	plainText := strings.Repeat("x", maxToken)
	escaped := strings.Repeat(`\"`, maxToken/2) // escaped quotes count as the bytes they are
	for name, tc := range map[string]struct {
		body string
		ok   bool
	}{
		"string":                      {node(plainText), true},
		"string one longer":           {node(plainText + "x"), false},
		"escaped string":              {node(escaped), true},
		"escaped string one longer":   {node(escaped + "x"), false},
		"number":                      {`{"computer":[],"n":` + strings.Repeat("1", maxToken) + `}`, true},
		"number one longer":           {`{"computer":[],"n":` + strings.Repeat("1", maxToken+1) + `}`, false},
		"number after spaces":         {`{"computer":[],"n":   ` + strings.Repeat("1", maxToken+1) + `}`, false},
		"string after an escape":      {`{"computer":[],"n":"\n","m":"` + plainText + `x"}`, false},
		"many strings, each in bound": {`{"computer":[],"n":["` + plainText + `","` + plainText + `"]}`, true},
	} {
		for _, chunk := range []string{"whole", "odd"} {
			var r io.Reader = strings.NewReader(tc.body)
			if chunk == "odd" {
				r = &oddReader{r: r}
			}
			_, err := newDecoder().computers(r)
			if tc.ok && err != nil {
				t.Errorf("%s, %s: %v", name, chunk, err)
			}
			if !tc.ok && !errors.Is(err, errLongToken) {
				t.Errorf("%s, %s: err = %v, want %v", name, chunk, err, errLongToken)
			}
		}
	}
}

// oddReader reads 1, 2, 3, ... 4097 bytes at a time, then again.
type oddReader struct {
	r io.Reader
	n int
}

func (o *oddReader) Read(p []byte) (int, error) {
	o.n = o.n%4097 + 1
	return o.r.Read(p[:min(len(p), o.n)])
}

// BenchmarkSpaceCollapser passes the list a poll reads at 1,000 agents in
// 500 groups (compact, as Jenkins renders it) through a spaceCollapser in
// the decoder's 4 kB reads, from memory: the cost it adds to every read.
func BenchmarkSpaceCollapser(b *testing.B) {
	body := computersAnswer(b, 1000, 500)
	r := bytes.NewReader(body)
	buf := make([]byte, 4<<10)
	var s spaceCollapser
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		r.Reset(body)
		s.reset(r)
		for {
			if _, err := s.Read(buf); err != nil {
				break
			}
		}
	}
}
