package jenkins

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"testing/iotest"
	"unicode/utf8"
	"unsafe"

	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/agent"
	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/internal/fakejenkins"
)

// The reference: the encoding/json decoding the streaming decoder
// replaced, kept here to hold the new one to the same answers.

type refComputer struct {
	Class              string     `json:"_class"`
	DisplayName        string     `json:"displayName"`
	Offline            refPresent `json:"offline"`
	TemporarilyOffline refPresent `json:"temporarilyOffline"`
	OfflineCauseReason string     `json:"offlineCauseReason"`
	Idle               bool       `json:"idle"`
	LaunchSupported    bool       `json:"launchSupported"`
	JnlpAgent          bool       `json:"jnlpAgent"`
	AbsoluteRemotePath refNotNull `json:"absoluteRemotePath"`
	OfflineCause       struct {
		Class string `json:"_class"`
	} `json:"offlineCause"`
}

type refPresent struct{ set, v bool }

func (p *refPresent) UnmarshalJSON(b []byte) error {
	switch string(b) {
	case "true":
		*p = refPresent{true, true}
	case "false":
		*p = refPresent{true, false}
	case "null":
		*p = refPresent{}
	default:
		return fmt.Errorf("not a boolean: %.20s", b)
	}
	return nil
}

type refNotNull bool

func (n *refNotNull) UnmarshalJSON(b []byte) error {
	*n = string(b) != "null"
	return nil
}

func (c refComputer) info() (agent.NodeInfo, error) {
	if c.DisplayName == "" {
		return agent.NodeInfo{}, errors.New("computer without displayName")
	}
	if !c.Offline.set || !c.TemporarilyOffline.set {
		return agent.NodeInfo{}, fmt.Errorf("computer %q without offline/temporarilyOffline", c.DisplayName)
	}
	n := agent.NodeInfo{
		Name:               c.DisplayName,
		Offline:            c.Offline.v,
		TemporarilyOffline: c.TemporarilyOffline.v,
		CauseClass:         refBound(c.OfflineCause.Class),
		CauseReason:        refBound(c.OfflineCauseReason),
		Connected:          !c.Offline.v || bool(c.AbsoluteRemotePath),
		Launchable:         c.LaunchSupported && !c.JnlpAgent,
		Idle:               c.Idle,
	}
	if n.TemporarilyOffline && !n.Offline {
		return agent.NodeInfo{}, fmt.Errorf("computer %q reads temporarilyOffline but not offline", c.DisplayName)
	}
	return n, nil
}

// refBound is the bound on texts (bounds.go), written out another way.
func refBound(s string) string {
	if len(s) <= maxMessage {
		return s
	}
	for i, r := range s {
		if i+utf8.RuneLen(r) > maxMessage-len("…") {
			return s[:i] + "…"
		}
	}
	return s
}

// refDecode is how gojenkins' requester decoded: one value from a
// json.Decoder, io.EOF ignored.
func refDecode(b []byte, v any) error {
	if err := json.NewDecoder(bytes.NewReader(b)).Decode(v); err != nil && err != io.EOF {
		return err
	}
	return nil
}

func refComputers(b []byte) (map[string]agent.NodeInfo, error) {
	var set struct {
		Computer *[]refComputer `json:"computer"`
	}
	if err := refDecode(b, &set); err != nil {
		return nil, err
	}
	if set.Computer == nil {
		return nil, errNoList
	}
	nodes := make(map[string]agent.NodeInfo, len(*set.Computer))
	for _, cj := range *set.Computer {
		if cj.Class == builtInClass || len(cj.DisplayName) > maxNodeName {
			continue
		}
		n, err := cj.info()
		if err != nil {
			return nil, err
		}
		if _, dup := nodes[n.Name]; dup {
			return nil, fmt.Errorf("computer %q listed twice", n.Name)
		}
		nodes[n.Name] = n
	}
	return nodes, nil
}

func refSingle(b []byte) (agent.NodeInfo, error) {
	var c refComputer
	if err := refDecode(b, &c); err != nil {
		return agent.NodeInfo{}, err
	}
	if len(c.DisplayName) > maxNodeName {
		return agent.NodeInfo{}, errors.New("name too long")
	}
	return c.info()
}

// decodeSeeds are answers real and broken, and the corners where the
// reference's leniency has to be matched.
var decodeSeeds = []string{
	twoNodes,
	`{"_class":"hudson.model.ComputerSet","computer":[{"_class":"hudson.model.Hudson$MasterComputer","displayName":"Built-In Node","offline":false,"temporarilyOffline":false},{"_class":"hudson.slaves.SlaveComputer","displayName":"slave01","offline":false,"temporarilyOffline":false,"absoluteRemotePath":"/home/jenkins","idle":true,"launchSupported":true,"jnlpAgent":false,"offlineCause":null,"offlineCauseReason":""}]}`,
	`{"computer":[{"displayName":"slave02","offline":true,"temporarilyOffline":true,"absoluteRemotePath":null,"launchSupported":true,"jnlpAgent":false,"offlineCause":{"_class":"hudson.slaves.OfflineCause$UserCause"},"offlineCauseReason":"[jenkins-failover-watchdog] standby parked: x"}]}`,
	`{"computer":[{"displayName":"agent 01","offline":true,"temporarilyOffline":false,"jnlpAgent":true,"offlineCause":{"_class":"hudson.slaves.OfflineCause$ChannelTermination"},"offlineCauseReason":"Connection was broken"}]}`,
	`{"computer":[{"displayName":"a","offline":false,"temporarilyOffline":true}]}`,
	`{"computer":[{"displayName":"a","offline":false,"temporarilyOffline":false},{"displayName":"a","offline":false,"temporarilyOffline":false}]}`,
	`{"computer":[{"displayName":"","offline":false,"temporarilyOffline":false}]}`,
	`{"computer":[{"displayName":"a"}]}`,
	`{"computer":null}`, `{"computer":[]}`, `{}`, `[]`, `null`, ``, ` `, `{"computer":[`, `<html></html>`, `{"computer":[]} trailing`,
	`{"computer":[{"displayName":1}]}`, `{"computer":[{"displayName":"a","offline":"yes"}]}`,
	`{"displayName":"slave01","offline":true,"temporarilyOffline":true,"absoluteRemotePath":"/x"}`,
	`{"displayName":"slave01","OFFLINE":false,"TemporarilyOffline":false}`,
	`{"COMPUTER":[{"DisplayName":"s\u017fx","offline":true,"temporarilyOffline":true,"OfflineCause":{"_CLASS":"x"}}]}`,
	`{"computer":[{"displayName":"a","offline":true,"offline":null,"temporarilyOffline":false}]}`,
	`{"computer":[{"displayName":"a","displayName":null,"offline":true,"temporarilyOffline":true,"idle":null,"offlineCause":{"_class":"c"},"offlineCause":{},"offlineCause":null}]}`,
	`{"computer":[{"displayName":"a","offline":true,"temporarilyOffline":true}],"computer":[{"displayName":"b"},null]}`,
	`{"computer":[{"displayName":"a","offline":true,"temporarilyOffline":true},{"displayName":"b","offline":true,"temporarilyOffline":true}],"computer":[{}],"computer":[{},{}]}`,
	`{"computer":[{"displayName":"a","offline":true,"temporarilyOffline":true}],"computer":[],"computer":[{}]}`,
	`{"computer":[{"displayName":"a","offline":true,"temporarilyOffline":true}],"computer":null,"computer":[{}]}`,
	`{"computer":[{"displayName":"a\ud800\u0041\\\"\u00e9","offline":true,"temporarilyOffline":true,"offlineCauseReason":"\xff\xfeok"}]}`,
	`{"computer":[{"displayName":"a","offline":true,"temporarilyOffline":true,"absoluteRemotePath":{"x":[1,2]},"extra":[{"offline":1}]}]}`,
	`{"computer":[{"_class":"hudson.model.Hudson$MasterComputer"},{"_class":"hudson.model.Hudson$MasterComputer","_class":null,"displayName":"m","offline":false,"temporarilyOffline":false}]}`,
	`{"computer":[{"displayName":"a","offline":true,"temporarilyOffline":true,"offlineCause":"x"}]}`,
	`{"computer":[1]}`, `{"computer":{}}`, `{"computer":[{"displayName":"a","idle":"true"}]}`,
	// Over the bounds: a name one byte too long, then one that fits and a
	// longer one last; texts cut in the middle of a rune, escaped or not.
	`{"computer":[{"displayName":"` + strings.Repeat("n", maxNodeName+1) + `"},{"displayName":"` + strings.Repeat("n", maxNodeName) + `","offline":true,"temporarilyOffline":true}]}`,
	`{"computer":[{"displayName":"a","displayName":"` + strings.Repeat("é", maxNodeName) + `","offline":true,"temporarilyOffline":true}]}`,
	`{"computer":[{"displayName":"` + strings.Repeat("n", maxNodeName+1) + `","displayName":"a","offline":true,"temporarilyOffline":true,"offlineCauseReason":"` + strings.Repeat("é", maxMessage) + `","offlineCause":{"_class":"` + strings.Repeat("\\u00e9x", maxMessage) + `"}}]}`,
	`{"computer":[{"displayName":"a","offline":true,"temporarilyOffline":true,"offlineCauseReason":"` + strings.Repeat("x", maxMessage) + `"},{"displayName":"b","offline":true,"temporarilyOffline":true,"offlineCauseReason":"` + strings.Repeat("x", maxMessage+1) + `"}]}`,
}

// FuzzDecodeMatchesReference holds the streaming decoder to the
// encoding/json decoding it replaced: for any body, the same nodes or
// both an error, for the list and for a single computer, whether the body
// arrives whole or a byte at a time.
func FuzzDecodeMatchesReference(f *testing.F) {
	for _, s := range decodeSeeds {
		f.Add([]byte(s))
	}
	d := newDecoder() // reused, as the Client reuses it
	f.Fuzz(func(t *testing.T, b []byte) {
		var r io.Reader = bytes.NewReader(b)
		if len(b)%2 == 1 {
			r = iotest.OneByteReader(r)
		}
		got, err := d.computers(r)
		want, wantErr := refComputers(b)
		if (err != nil) != (wantErr != nil) || !maps.Equal(got, want) {
			t.Fatalf("list of %q:\n got %v, %v\nwant %v, %v", b, got, err, want, wantErr)
		}
		one, err := d.computer(bytes.NewReader(b))
		wantOne, wantErr := refSingle(b)
		if (err != nil) != (wantErr != nil) || one != wantOne {
			t.Fatalf("single %q:\n got %+v, %v\nwant %+v, %v", b, one, err, wantOne, wantErr)
		}
	})
}

// TestDecodeErrorsSayWhat keeps the messages the operator reads: what is
// missing or wrong, and where.
func TestDecodeErrorsSayWhat(t *testing.T) {
	for body, want := range map[string]string{
		``:                             `no "computer" list`,
		`{"jobs":[]}`:                  `no "computer" list`,
		`{"computer":[{"displayName`:   "decoding JSON",
		`{"computer":[{"offline":1}]}`: `decoding JSON: number at "/computer/0/offline", want a boolean`,
		`{"computer":{}}`:              `decoding JSON: object at "/computer", want an array`,
		`{"computer":[{"displayName":"x","offline":true}]}`: `computer "x" without offline/temporarilyOffline`,
	} {
		_, err := newDecoder().computers(strings.NewReader(body))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", body, err, want)
		}
	}
}

// TestDecodeInternsStrings: a steady poll hands out the same strings, so
// the only allocations that grow with the nodes are the snapshot's map.
func TestDecodeInternsStrings(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"computer":[`)
	for i := range 200 {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"_class":"hudson.slaves.SlaveComputer","displayName":"agent-%04d","offline":true,"temporarilyOffline":true,"absoluteRemotePath":"/home/j","offlineCause":{"_class":"hudson.slaves.OfflineCause$UserCause"},"offlineCauseReason":"[jenkins-failover-watchdog] standby parked: steady","idle":true,"launchSupported":true,"jnlpAgent":false}`, i)
	}
	b.WriteString(`]}`)
	body := b.String()
	d := newDecoder()
	first, err := d.computers(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	r := strings.NewReader(body)
	allocs := testing.AllocsPerRun(20, func() {
		r.Reset(body)
		if _, err := d.computers(r); err != nil {
			t.Fatal(err)
		}
	})
	// The map of 200 nodes takes a handful of allocations; a string per
	// node would be 200 more.
	if allocs > 20 {
		t.Errorf("%v allocations per decode of 200 nodes, want at most 20", allocs)
	}
	second, _ := d.computers(strings.NewReader(body))
	if !maps.Equal(first, second) {
		t.Fatal("second decode differs")
	}
	if unsafe.StringData(first["agent-0007"].Name) != unsafe.StringData(second["agent-0007"].Name) {
		t.Error("node name allocated again on the second decode")
	}
}

// computersAnswer is the fake controller's uncompressed answer to our
// tree-filtered list at agents agents, the first 2×groups paired and
// every standby parked, as the perf benchmarks set it up.
func computersAnswer(tb testing.TB, agents, groups int) []byte {
	tb.Helper()
	fake := fakejenkins.New(fakejenkins.Options{})
	fake.AddUser("watchdog", token, fakejenkins.PermRead, fakejenkins.PermDisconnect)
	for i := range agents {
		if err := fake.AddAgent(fakejenkins.AgentSpec{Name: fmt.Sprintf("agent-%04d", i), Launch: fakejenkins.SSH}); err != nil {
			tb.Fatal(err)
		}
	}
	for g := range groups {
		if err := fake.OperatorOffline(fmt.Sprintf("agent-%04d", 2*g+1), "watchdog", agent.ParkMessage(agent.ParkStandby)); err != nil {
			tb.Fatal(err)
		}
	}
	req := httptest.NewRequest(http.MethodGet, "/computer/api/json?tree="+url.QueryEscape(computersTree), nil)
	req.SetBasicAuth("watchdog", token)
	rec := httptest.NewRecorder()
	fake.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		tb.Fatalf("fake answered %d", rec.Code)
	}
	return rec.Body.Bytes()
}

// BenchmarkDecode decodes the list a poll reads at 1,000 agents in 500
// groups, from memory: the streaming decoder as the Client uses it
// (impl=stream, one decoder reused across polls) against the encoding/json
// struct decoding it replaced (impl=encoding-json). No HTTP, no gzip.
func BenchmarkDecode(b *testing.B) {
	body := computersAnswer(b, 1000, 500)
	for _, impl := range []string{"stream", "encoding-json"} {
		b.Run("impl="+impl+"/agents=1000/groups=500", func(b *testing.B) {
			d := newDecoder()
			r := bytes.NewReader(body)
			decode := func() (map[string]agent.NodeInfo, error) {
				r.Reset(body)
				return d.computers(r)
			}
			if impl == "encoding-json" {
				decode = func() (map[string]agent.NodeInfo, error) { return refComputers(body) }
			}
			if nodes, err := decode(); err != nil || len(nodes) != 1000 {
				b.Fatalf("%d nodes, %v", len(nodes), err)
			}
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := decode(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
