package server

import (
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/watcher"
)

// timelineStatus is failedOverStatus with a day of history: slave01
// carried, failed over to slave02 and back, then failed over again.
func timelineStatus() watcher.Status {
	st := failedOverStatus()
	st.Started = pageNow.Add(-30 * time.Hour)
	day := pageNow.Add(-watcher.TimelineSpan)
	st.Groups[0].Timeline = []watcher.Segment{
		{Start: day.Add(-6 * time.Hour), State: watcher.PhaseNormal, Active: "slave01"}, // in force when the day starts
		{Start: day.Add(6 * time.Hour), State: watcher.PhaseSuspect},
		{Start: day.Add(6*time.Hour + 30*time.Second), State: watcher.PhaseFailingOver},
		{Start: day.Add(6*time.Hour + time.Minute), State: watcher.PhaseFailedOver, Active: "slave02"},
		{Start: day.Add(12 * time.Hour), State: watcher.PhaseFailingBack, Active: "slave02"},
		{Start: day.Add(12*time.Hour + time.Minute), State: watcher.PhaseNormal, Active: "slave01"},
		{Start: day.Add(18 * time.Hour), State: watcher.PhaseNormal, Active: "slave01", PollFailed: true},
		{Start: day.Add(19 * time.Hour), State: watcher.PhaseNormal, Active: "slave01"},
		{Start: pageNow.Add(-5 * time.Minute), State: watcher.PhaseFailedOver, Active: "slave02"},
	}
	st.Groups[1].Timeline = []watcher.Segment{{Start: st.Started, State: watcher.PhaseNormal, Active: "build-a"}}
	return st
}

// elements lists the elements named tag under n, n included.
func elements(n *html.Node, tag string) []*html.Node {
	var out []*html.Node
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == tag {
			out = append(out, n)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return out
}

func hasClass(n *html.Node, class string) bool {
	for _, c := range strings.Fields(attr(n, "class")) {
		if c == class {
			return true
		}
	}
	return false
}

// percent reads an x or width of "12.345%".
func percent(t *testing.T, n *html.Node, key string) float64 {
	t.Helper()
	v, ok := strings.CutSuffix(attr(n, key), "%")
	f, err := strconv.ParseFloat(v, 64)
	if !ok || err != nil {
		t.Fatalf("<%s %s=%q>: not a percentage", n.Data, key, attr(n, key))
	}
	return f
}

func bars(n *html.Node, class string) []*html.Node {
	var out []*html.Node
	for _, r := range elements(n, "rect") {
		if hasClass(r, class) {
			out = append(out, r)
		}
	}
	return out
}

func TestTimelineDrawsEveryGroupsDay(t *testing.T) {
	_, body := renderPage(t, timelineStatus())
	doc := parse(t, body)
	if got := text(element(t, doc, "id", "timeline")); got != "Last 24 hours" {
		t.Errorf("heading %q", got)
	}
	if note := text(element(t, doc, "id", "timeline-note")); !strings.Contains(note, "2025-03-03 10:00:00 UTC to 2025-03-04 10:00:00 UTC") ||
		!strings.Contains(note, "times UTC; server local offset +00:00") {
		t.Errorf("note %q", note)
	}

	fig := element(t, doc, "data-timeline", "slave01")
	svgs := elements(fig, "svg")
	if len(svgs) == 0 {
		t.Fatal("no svg in slave01's timeline")
	}
	states := bars(svgs[0], "seg")
	segs := timelineStatus().Groups[0].Timeline
	if len(states) != len(segs) {
		t.Fatalf("%d state bars for %d segments", len(states), len(segs))
	}
	from := pageNow.Add(-watcher.TimelineSpan)
	wantClass := []string{"ph-normal", "ph-suspect", "ph-failing_over", "ph-failed_over", "ph-failing_back", "ph-normal", "ph-poll_failed", "ph-normal", "ph-failed_over"}
	for i, r := range states {
		if !hasClass(r, wantClass[i]) {
			t.Errorf("bar %d class %q, want %s", i, attr(r, "class"), wantClass[i])
		}
		// x proportional to time: the share of the day the segment
		// started at (the first one is clipped to the day's start).
		start := max(segs[i].Start.Sub(from), 0)
		if want, got := float64(start)/float64(watcher.TimelineSpan)*100, percent(t, r, "x"); got < want-0.001 || got > want+0.001 {
			t.Errorf("bar %d at x=%.3f%%, want %.3f%%", i, got, want)
		}
		end := pageNow
		if i+1 < len(segs) {
			end = segs[i+1].Start
		}
		if want, got := float64(end.Sub(from)-start)/float64(watcher.TimelineSpan)*100, percent(t, r, "width"); got < want-0.002 || got > want+0.002 {
			t.Errorf("bar %d width %.3f%%, want %.3f%%", i, got, want)
		}
	}
	for i, want := range map[int]string{
		0: "normal, slave01 carrying, from 2025-03-03 10:00:00 to 2025-03-03 16:00:00 UTC (6h 0m)",
		3: "failed_over, slave02 carrying, from 2025-03-03 16:01:00 to 2025-03-03 22:00:00 UTC (5h 59m)",
		6: "Jenkins did not answer; last seen normal, slave01 carrying, from 2025-03-04 04:00:00 to 2025-03-04 05:00:00 UTC (1h 0m)",
		8: "failed_over, slave02 carrying, from 2025-03-04 09:55:00 to now UTC (5m 0s)",
	} {
		if got := text(elements(states[i], "title")[0]); got != want {
			t.Errorf("bar %d title %q, want %q", i, got, want)
		}
	}

	// The carrying bar: one run per node in turn, suspect and failing
	// over being nobody's.
	var carried []string
	for _, r := range bars(svgs[0], "car") {
		carried = append(carried, attr(r, "class")+"="+text(r))
	}
	want := []string{
		"car c-primary=slave01 carrying, from 2025-03-03 10:00:00 to 2025-03-03 16:00:00 UTC (6h 0m)",
		"car c-none=no node carrying, from 2025-03-03 16:00:00 to 2025-03-03 16:01:00 UTC (1m 0s)",
		"car c-s1=slave02 carrying, from 2025-03-03 16:01:00 to 2025-03-03 22:01:00 UTC (6h 0m)",
		"car c-primary=slave01 carrying, from 2025-03-03 22:01:00 to 2025-03-04 09:55:00 UTC (11h 54m)",
		"car c-s1=slave02 carrying, from 2025-03-04 09:55:00 to now UTC (5m 0s)",
	}
	if strings.Join(carried, "\n") != strings.Join(want, "\n") {
		t.Errorf("carrying bars:\n%s\nwant\n%s", strings.Join(carried, "\n"), strings.Join(want, "\n"))
	}
	if got := text(elements(fig, "p")[0]); got != "slave01 (primary) slave02" {
		t.Errorf("slave01's nodes legend %q", got)
	}

	// Ticks every three hours, on the hour in UTC, on the axis above
	// the groups.
	axis := elements(element(t, doc, "class", "timeline axis"), "svg")[0]
	var labels []string
	for _, tx := range elements(axis, "text") {
		labels = append(labels, text(tx))
	}
	if got := strings.Join(labels, " "); got != "12:00 15:00 18:00 21:00 00:00 03:00 06:00 09:00" {
		t.Errorf("tick labels %q", got)
	}

	if b := bars(elements(element(t, doc, "data-timeline", "build-a"), "svg")[0], "seg"); len(b) != 1 || !hasClass(b[0], "ph-normal") ||
		attr(b[0], "x") != "0.000%" || attr(b[0], "width") != "100.000%" {
		t.Errorf("build-a, normal all day: %d bars", len(b))
	}
	// suspect, failing over and failing back are drawn, but a minute of
	// a day is too thin to see: the legend does not name them.
	if got := text(element(t, doc, "id", "timeline-legend")); got != "normal failed over Jenkins did not answer" {
		t.Errorf("legend %q", got)
	}
}

// A watchdog that started a while ago shows what it saw since, ticks
// spaced for the shorter span, and the server's local offset.
func TestTimelineSinceStart(t *testing.T) {
	st := failedOverStatus()
	st.Started = pageNow.Add(-40 * time.Second)
	st.Groups[0].Timeline = []watcher.Segment{
		{Start: st.Started, State: watcher.PhaseUnknown},
		{Start: st.Started.Add(time.Second), State: watcher.PhaseNormal, Active: "slave01"},
		{Start: pageNow.Add(-20 * time.Second), State: watcher.PhaseFailedOver, Active: "slave02"},
	}
	w := &stubWatcher{status: st}
	zone := time.FixedZone("CET", 3600)
	h := Handler(Options{Watcher: w, Now: func() time.Time { return pageNow.In(zone) }}, make(chan struct{}))
	doc := parse(t, get(t, h, "GET", "/").Body.String())
	if got := text(element(t, doc, "id", "timeline")); got != "Since the watchdog started" {
		t.Errorf("heading %q", got)
	}
	if note := text(element(t, doc, "id", "timeline-note")); !strings.Contains(note, "2025-03-04 09:59:20 UTC to 2025-03-04 10:00:00 UTC: times UTC; server local offset +01:00") {
		t.Errorf("note %q", note)
	}
	svg := elements(element(t, doc, "data-timeline", "slave01"), "svg")[0]
	axis := elements(element(t, doc, "class", "timeline axis"), "svg")[0]
	states := bars(svg, "seg")
	if len(states) != 3 || attr(states[2], "x") != "50.000%" || attr(states[2], "width") != "50.000%" || !hasClass(states[0], "ph-unknown") {
		t.Errorf("since start: %d bars", len(states))
	}
	var labels []string
	for _, tx := range elements(axis, "text") {
		labels = append(labels, text(tx))
	}
	if got := strings.Join(labels, " "); got != "09:59:20 09:59:25 09:59:30 09:59:35 09:59:40 09:59:45 09:59:50 09:59:55 10:00:00" {
		t.Errorf("tick labels %q", got)
	}
	// A group with no history yet (a status from an older watchdog) still
	// has its figure, with nothing recorded.
	if b := bars(elements(element(t, doc, "data-timeline", "build-a"), "svg")[0], "seg"); len(b) != 0 {
		t.Errorf("build-a with no timeline: %d bars", len(b))
	}
}

// The timeline adds no script and nothing the policy would block: no
// style attribute (CSP drops those), colours only from classes.
func TestTimelineNeedsNoScriptNorInlineStyle(t *testing.T) {
	resp, body := renderPage(t, timelineStatus())
	doc := parse(t, body)
	if len(elements(doc, "script")) != 0 || strings.Contains(strings.ToLower(body), "<script") {
		t.Error("the page carries a script")
	}
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			for _, a := range n.Attr {
				// href outside links: an SVG <use> or <image> would load it.
				if a.Key == "style" || strings.HasPrefix(a.Key, "on") || (a.Key == "href" && n.Data != "a") {
					t.Errorf("<%s %s=%q>", n.Data, a.Key, a.Val)
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	if got := resp.Header.Get("Content-Security-Policy"); got != pageCSP ||
		!regexp.MustCompile(`^default-src 'none'; style-src 'sha256-[A-Za-z0-9+/=]{44}'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'$`).MatchString(got) {
		t.Errorf("CSP %q", got)
	}
	if len(elements(doc, "svg")) < 2 {
		t.Error("no timeline drawn")
	}
}

// BenchmarkPageTimelines renders the page and /status with every group's
// timeline full, at the count the watcher keeps for that many groups
// (watcher/timeline.go: 10,000 segments shared, 8 to 500 per group):
// the worst a flapping day can make of them.
//
//	go test -run '^$' -bench PageTimelines -benchmem ./server/
func BenchmarkPageTimelines(b *testing.B) {
	for _, c := range []struct{ groups, perGroup int }{{5000, 1}, {1, 500}, {20, 500}, {500, 20}, {5000, 8}} {
		st := watcher.Status{Started: pageNow.Add(-48 * time.Hour), Controller: watcher.ControllerStatus{Up: true}}
		for g := range c.groups {
			gs := watcher.GroupStatus{Name: "primary-" + strconv.Itoa(g), Primary: "primary-" + strconv.Itoa(g),
				Standbys: []string{"standby-" + strconv.Itoa(g)}, State: watcher.PhaseNormal, Active: "primary-" + strconv.Itoa(g)}
			for i := range c.perGroup {
				s := watcher.Segment{Start: pageNow.Add(-watcher.TimelineSpan + time.Duration(i)*watcher.TimelineSpan/time.Duration(c.perGroup)),
					State: watcher.PhaseNormal, Active: gs.Primary}
				if i%2 == 1 {
					s.State, s.Active = watcher.PhaseFailedOver, gs.Standbys[0]
				}
				gs.Timeline = append(gs.Timeline, s)
			}
			st.Groups = append(st.Groups, gs)
		}
		name := strconv.Itoa(c.groups) + "x" + strconv.Itoa(c.perGroup)
		b.Run("page/"+name, func(b *testing.B) {
			w := &stubWatcher{status: st}
			h := statusPage(w, func() time.Time { return pageNow }, nil)
			var size int
			for b.Loop() {
				w.gen.Add(1) // a new generation: render again
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
				size = rec.Body.Len()
			}
			b.ReportMetric(float64(size), "bytes/page")
		})
		b.Run("status/"+name, func(b *testing.B) {
			var size int
			for b.Loop() {
				body, err := renderJSON(st, pageNow)
				if err != nil {
					b.Fatal(err)
				}
				size = len(body)
			}
			b.ReportMetric(float64(size), "bytes/status")
		})
	}
}
