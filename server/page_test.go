package server

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/net/html"

	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/watcher"
)

var pageNow = time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC)

func at(d time.Duration) *time.Time { t := pageNow.Add(-d); return &t }

func failedOverStatus() watcher.Status {
	return watcher.Status{
		Controller: watcher.ControllerStatus{URL: "https://ci.example.com/jenkins", Version: "2.479.3", Up: true,
			LastPoll: at(2 * time.Second), LastSuccess: at(12 * time.Second)},
		Failback: "auto",
		Groups: []watcher.GroupStatus{
			{Name: "slave01", Primary: "slave01", Standbys: []string{"slave02"}, State: watcher.PhaseFailedOver,
				Active: "slave02", Since: at(5 * time.Minute), StandbyActiveSince: at(5 * time.Minute)},
			{Name: "build-a", Primary: "build-a", Standbys: []string{"build-b", "build-c"}, State: watcher.PhaseNormal,
				Active: "build-a", Since: at(3 * time.Hour), ReadyStandbys: 1, Redundancy: "1 of 2 standbys ready"},
		},
		Nodes: []watcher.NodeStatus{
			{Name: "slave01", Group: "slave01", Role: "primary", State: "disconnected", Reason: "Connection was broken"},
			{Name: "slave02", Group: "slave01", Role: "standby", State: "online", Idle: true, Readiness: &watcher.Readiness{Ready: true, Why: "online"}},
			{Name: "build-a", Group: "build-a", Role: "primary", State: "online"},
			{Name: "build-b", Group: "build-a", Role: "standby", State: "parked", Reason: "[jenkins-failover-watchdog] standby parked",
				Readiness: &watcher.Readiness{Ready: true, Why: "parked and connected"}},
			{Name: "build-c", Group: "build-a", Role: "standby", State: "held", Reason: "disk full",
				Readiness: &watcher.Readiness{Why: "held by a person or a node monitor"}},
		},
		Transitions: []watcher.Transition{ // oldest first, as /status serves them
			{Time: pageNow.Add(-5*time.Minute - 20*time.Second), Group: "slave01", From: watcher.PhaseNormal, To: watcher.PhaseSuspect, Active: "slave01"},
			{Time: pageNow.Add(-5*time.Minute - 10*time.Second), Group: "slave01", From: watcher.PhaseSuspect, To: watcher.PhaseFailingOver},
			{Time: pageNow.Add(-5 * time.Minute), Group: "slave01", From: watcher.PhaseFailingOver, To: watcher.PhaseFailedOver, Active: "slave02"},
		},
	}
}

func renderPage(t *testing.T, st watcher.Status) (*http.Response, string) {
	t.Helper()
	w := &stubWatcher{status: st}
	h := Handler(Options{Gatherer: prometheus.NewRegistry(), Watcher: w, Now: func() time.Time { return pageNow }}, make(chan struct{}))
	rec := get(t, h, http.MethodGet, "/")
	if rec.Code != http.StatusOK {
		t.Fatalf("GET / = %d: %s", rec.Code, rec.Body)
	}
	return rec.Result(), rec.Body.String()
}

// element finds the first element with the attribute key=val.
func element(t *testing.T, doc *html.Node, key, val string) *html.Node {
	t.Helper()
	var found *html.Node
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if found != nil {
			return
		}
		if n.Type == html.ElementNode && attr(n, key) == val {
			found = n
			return
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	if found == nil {
		t.Fatalf("no element with %s=%q", key, val)
	}
	return found
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func text(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			if c.Type == html.ElementNode {
				b.WriteString(" ") // cells and terms read apart, as on screen
			}
			walk(c)
		}
	}
	walk(n)
	return strings.Join(strings.Fields(b.String()), " ")
}

func parse(t *testing.T, body string) *html.Node {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func TestStatusPageShowsGroupsNodesAndTransitions(t *testing.T) {
	resp, body := renderPage(t, failedOverStatus())
	if ct := resp.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	doc := parse(t, body)

	g := element(t, doc, "data-group", "slave01")
	if attr(g, "data-state") != "failed_over" || attr(g, "data-active") != "slave02" || !strings.Contains(attr(g, "class"), "g-warn") {
		t.Errorf("group card: %v", g.Attr)
	}
	for _, want := range []string{"slave01", "failed_over", "active slave02", "standbys slave02", "since 5m 0s ago 2025-03-04 09:55:00 UTC", "standby carrying for 5m 0s"} {
		if !strings.Contains(text(g), want) {
			t.Errorf("group card %q lacks %q", text(g), want)
		}
	}
	if b := element(t, doc, "data-group", "build-a"); attr(b, "data-state") != "normal" || !strings.Contains(attr(b, "class"), "g-ok") ||
		!strings.Contains(text(b), "standbys build-b, build-c") || !strings.Contains(text(b), "redundancy 1 of 2 standbys ready") {
		t.Errorf("build-a card: %v %q", b.Attr, text(b))
	}

	for node, want := range map[string]string{
		"slave01": "slave01 slave01 primary disconnected busy - Connection was broken",
		"slave02": "slave02 slave01 standby online idle ready -",
		"build-b": "build-b build-a standby parked busy ready [jenkins-failover-watchdog] standby parked",
		"build-c": "build-c build-a standby held busy not ready held by a person or a node monitor disk full",
	} {
		if got := text(element(t, doc, "data-node", node)); got != want {
			t.Errorf("node row %s = %q, want %q", node, got, want)
		}
	}

	tr := element(t, doc, "id", "transitions")
	rows := text(tr)
	first := strings.Index(rows, "failing_over → failed_over")
	last := strings.Index(rows, "normal → suspect")
	if first < 0 || last < 0 || first > last {
		t.Errorf("transitions not newest first with times: %q", rows)
	}
	if !strings.Contains(rows, "2025-03-04 09:55:00 UTC (5m 0s ago)") {
		t.Errorf("transition time missing: %q", rows)
	}

	if got := text(element(t, doc, "id", "jenkins-version")); got != "2.479.3" {
		t.Errorf("Jenkins version %q", got)
	}
	if got := text(element(t, doc, "id", "last-success")); got != "12s ago" {
		t.Errorf("last successful poll %q", got)
	}
	for _, want := range []string{
		`<meta name="viewport" content="width=device-width, initial-scale=1">`,
		`<meta http-equiv="refresh" content="10">`,
		`<title>slave01 failed_over · Jenkins failover watchdog</title>`,
		`<a href="status">JSON</a>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %s", want)
		}
	}
}

func TestStatusPageBeforeTheFirstPoll(t *testing.T) {
	_, body := renderPage(t, watcher.Status{Failback: "manual", DryRun: true,
		Controller: watcher.ControllerStatus{URL: "http://j:8080"},
		Groups:     []watcher.GroupStatus{{Name: "slave01", Primary: "slave01", Standbys: []string{"slave02"}, State: watcher.PhaseUnknown}}})
	doc := parse(t, body)
	if g := element(t, doc, "data-group", "slave01"); !strings.Contains(attr(g, "class"), "g-unknown") || !strings.Contains(text(g), "active none") {
		t.Errorf("group before the first poll: %v %q", g.Attr, text(g))
	}
	if got := text(element(t, doc, "id", "last-success")); got != "never" {
		t.Errorf("last success %q", got)
	}
	for _, want := range []string{"version unknown", "No transition yet.", "dry run", "failback manual"} {
		if !strings.Contains(text(doc), want) {
			t.Errorf("page lacks %q", want)
		}
	}
}

// Everything Jenkins says reaches the page escaped: offline messages are
// typed by people, and anyone who can take a node offline can write one.
func TestStatusPageEscapesWhatJenkinsSays(t *testing.T) {
	st := failedOverStatus()
	st.Nodes[0].Reason = "<script>alert(1)</script>\x1b[31mred\x07\x00 \u202eevil\r\nnext"
	st.Nodes[1].Reason = `" onmouseover="alert(2)`
	st.Controller.Version = `<img src=x onerror=alert(3)>`
	st.Controller.LastError = `</p><script>alert(4)</script>`
	st.Controller.URL = "javascript:alert(5)"
	_, body := renderPage(t, st)

	doc := parse(t, body)
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			if n.Data == "script" || n.Data == "img" {
				t.Errorf("a <%s> element reached the page", n.Data)
			}
			for _, a := range n.Attr {
				if strings.HasPrefix(a.Key, "on") {
					t.Errorf("<%s %s=%q> reached the page", n.Data, a.Key, a.Val)
				}
				if a.Key == "href" && strings.HasPrefix(a.Val, "javascript:") {
					t.Errorf("a javascript: link reached the page")
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)

	for _, raw := range []string{"\x1b", "\x07", "\x00", "\u202e", "\r"} {
		if strings.Contains(body, raw) {
			t.Errorf("control character %q reached the page raw", raw)
		}
	}
	want := `<script>alert(1)</script>\x1b[31mred\x07\x00 \u202eevil\x0d\x0anext`
	if got := text(element(t, doc, "data-node", "slave01")); !strings.Contains(got, want) {
		t.Errorf("reason shown as %q, want it to contain %q", got, want)
	}
	if got := text(element(t, doc, "id", "jenkins-version")); got != `<img src=x onerror=alert(3)>` {
		t.Errorf("version shown as %q", got)
	}
}

func TestStateColours(t *testing.T) {
	for state, want := range map[string]string{
		"normal": "ok", "suspect": "warn", "failing_over": "warn", "failed_over": "warn",
		"failing_back": "warn", "failback_pending": "warn", "manual_failback": "warn",
		"maintenance": "info", "down": "bad", "unknown": "unknown", "": "unknown", "some_new_state": "unknown",
	} {
		if got := classOf(groupClasses, state); got != want {
			t.Errorf("group state %q: class %q, want %q", state, got, want)
		}
	}
	for state, want := range map[string]string{
		"online": "ok", "parked": "info", "held": "warn", "disconnected": "bad", "missing": "bad",
		"unknown": "unknown", "later": "unknown",
	} {
		if got := classOf(nodeClasses, state); got != want {
			t.Errorf("node state %q: class %q, want %q", state, got, want)
		}
	}
	// An unknown state still renders, grey.
	st := failedOverStatus()
	st.Groups[0].State = "some_new_state"
	_, body := renderPage(t, st)
	if g := element(t, parse(t, body), "data-group", "slave01"); !strings.Contains(attr(g, "class"), "g-unknown") {
		t.Errorf("unknown state card: %v", g.Attr)
	}
}

// The page's own style is the only thing its policy allows; the hash in
// the header must match the style the page carries, or browsers drop it.
func TestStatusPagePolicyAllowsItsOwnStyleOnly(t *testing.T) {
	resp, body := renderPage(t, failedOverStatus())
	_, style, ok := strings.Cut(body, "<style>")
	style, _, ok2 := strings.Cut(style, "</style>")
	if !ok || !ok2 {
		t.Fatal("no <style> in the page")
	}
	sum := sha256.Sum256([]byte(style))
	csp := resp.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "style-src 'sha256-"+base64.StdEncoding.EncodeToString(sum[:])+"'") {
		t.Errorf("CSP %q does not allow the page's style", csp)
	}
	if !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "script-src") {
		t.Errorf("CSP %q allows more than the style", csp)
	}
	if resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q", resp.Header.Get("Cache-Control"))
	}
}

func TestHumanDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		-time.Second: "0s", 0: "0s", 59 * time.Second: "59s", 61 * time.Second: "1m 1s",
		3*time.Hour + 4*time.Minute + 5*time.Second: "3h 4m", 50 * time.Hour: "2d 2h",
	} {
		if got := humanDuration(d); got != want {
			t.Errorf("humanDuration(%s) = %q, want %q", d, got, want)
		}
	}
}
