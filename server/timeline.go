package server

import (
	"fmt"
	"strconv"
	"time"

	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/watcher"
)

// The timeline of each group, drawn by the server as inline SVG: no
// script, and nothing the page's Content-Security-Policy would block.
// Colours come from classes in page.css; positions are percentages of the
// width, so the bars stretch with the page while the text keeps its size.

// timelineView is what the page draws of the window [From, To].
type timelineView struct {
	From, To time.Time
	Day      bool   // the window is a whole TimelineSpan, not since start
	Offset   string // the server's local offset from UTC, "+01:00"
	Ticks    []tickView
	Groups   []groupTimeline
	Legend   []legendItem // the states drawn anywhere on the page
}

type groupTimeline struct {
	Name     string
	States   []barView // one per segment
	Carriers []barView // one per run of the same node carrying
	Nodes    []legendItem
}

type barView struct {
	X, W   string // percent of the width, "12.345"
	Class  string
	Title  string
	State  string
	Active string
}

type tickView struct {
	X      string
	Label  string
	Anchor string
}

// carrierRun is a stretch of one node carrying, over segments that may
// differ in state.
type carrierRun struct {
	class, who, active string
	from, to           time.Time
	x0, x1             float64
}

type legendItem struct {
	Class string
	Label string
}

// Phases as the state bar colours them; unknown ones are grey.
var phaseLabels = map[watcher.Phase]string{
	watcher.PhaseNormal:          "normal",
	watcher.PhaseSuspect:         "suspect",
	watcher.PhaseFailingOver:     "failing over",
	watcher.PhaseFailedOver:      "failed over",
	watcher.PhaseMaintenance:     "maintenance",
	watcher.PhaseFailingBack:     "failing back",
	watcher.PhaseFailbackPending: "failback pending",
	watcher.PhaseManualFailback:  "manual failback",
	watcher.PhaseDown:            "down",
	watcher.PhaseUnknown:         "unknown (no poll yet)",
}

const pollFailedClass = "ph-poll_failed"

// minLegendWidth is the narrowest bar, in percent of the width, that the
// legends name: a stretch too short to see (the moments before the first
// poll) is drawn and titled but not named.
const minLegendWidth = 0.1

func phaseClass(s watcher.Segment) string {
	if s.PollFailed {
		return pollFailedClass
	}
	if _, ok := phaseLabels[s.State]; ok {
		return "ph-" + string(s.State)
	}
	return "ph-unknown"
}

// carrierClasses colour the carrying bar: the primary, then standbys in
// priority order (colours repeat past the fourth).
var carrierClasses = []string{"c-primary", "c-s1", "c-s2", "c-s3", "c-s4"}

// carrierClass is the colour of who carries in s, and its name in the
// legend.
func carrierClass(g watcher.GroupStatus, s watcher.Segment) (class, label string) {
	switch {
	case s.State == watcher.PhaseUnknown || s.State == "":
		return "c-unknown", "not known yet"
	case s.Active == "":
		return "c-none", "no node"
	case s.Active == g.Primary:
		return carrierClasses[0], s.Active + " (primary)"
	}
	for i, sb := range g.Standbys {
		if sb == s.Active {
			return carrierClasses[1+i%(len(carrierClasses)-1)], s.Active
		}
	}
	return "c-unknown", s.Active
}

// carrierWords says who carried in a bar's title.
func carrierWords(class, active string) string {
	switch class {
	case "c-unknown":
		if active == "" {
			return "not known yet (no poll)"
		}
	case "c-none":
		return "no node carrying"
	}
	return active + " carrying"
}

// tickSteps are the spacings the axis may use; the first that gives at
// most maxTicks ticks wins (every 3 hours over a day).
var tickSteps = []time.Duration{
	time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 15 * time.Second, 30 * time.Second, time.Minute, 2 * time.Minute, 5 * time.Minute,
	10 * time.Minute, 15 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour,
}

const maxTicks = 8

// buildTimeline lays the groups' timelines out over the last
// TimelineSpan, or since the watchdog started if that is later.
func buildTimeline(st watcher.Status, now time.Time) timelineView {
	from := now.Add(-watcher.TimelineSpan)
	v := timelineView{To: now, Day: true, Offset: now.Format("-07:00")}
	if started := st.Started; started.After(from) {
		from, v.Day = started, false
	}
	if !from.Before(now) { // started this instant, or a clock gone back
		from = now.Add(-time.Second)
	}
	v.From = from
	span := now.Sub(from)
	pct := func(t time.Time) float64 {
		return min(max(float64(t.Sub(from))/float64(span)*100, 0), 100)
	}
	format := func(f float64) string { return strconv.FormatFloat(f, 'f', 3, 64) }

	v.Ticks = ticks(from, now, pct, format)
	seen := map[string]bool{}
	for _, g := range st.Groups {
		gt := groupTimeline{Name: clean(g.Name)}
		listed := map[string]bool{}
		var runs []carrierRun
		for i, s := range g.Timeline {
			end := now
			if i+1 < len(g.Timeline) {
				end = g.Timeline[i+1].Start
			}
			x0, x1 := pct(s.Start), pct(end)
			if x1 <= x0 {
				continue // outside the window
			}
			shown := s.Start
			if shown.Before(from) {
				shown = from
			}
			class := phaseClass(s)
			if x1-x0 >= minLegendWidth {
				seen[class] = true
			}
			gt.States = append(gt.States, barView{X: format(x0), W: format(x1 - x0), Class: class,
				Title: stateTitle(s, shown, end, !end.Before(now)), State: string(s.State), Active: s.Active})

			cc, who := carrierClass(g, s)
			if n := len(runs); n > 0 && runs[n-1].class == cc && runs[n-1].who == who {
				runs[n-1].to, runs[n-1].x1 = end, x1
				continue
			}
			runs = append(runs, carrierRun{class: cc, who: who, active: s.Active, from: shown, to: end, x0: x0, x1: x1})
		}
		for _, r := range runs {
			if key := r.class + " " + r.who; !listed[key] && r.x1-r.x0 >= minLegendWidth {
				listed[key] = true
				gt.Nodes = append(gt.Nodes, legendItem{Class: r.class, Label: clean(r.who)})
			}
			gt.Carriers = append(gt.Carriers, barView{X: format(r.x0), W: format(r.x1 - r.x0), Class: r.class,
				Title: clean(carrierWords(r.class, r.active)) + ", " + stretch(r.from, r.to, !r.to.Before(now)), Active: r.active})
		}
		v.Groups = append(v.Groups, gt)
	}
	for _, p := range watcher.Phases {
		if c := "ph-" + string(p); seen[c] {
			v.Legend = append(v.Legend, legendItem{Class: c, Label: phaseLabels[p]})
		}
	}
	if seen[pollFailedClass] {
		v.Legend = append(v.Legend, legendItem{Class: pollFailedClass, Label: "Jenkins did not answer"})
	}
	return v
}

func ticks(from, to time.Time, pct func(time.Time) float64, format func(float64) string) []tickView {
	span := to.Sub(from)
	step := tickSteps[len(tickSteps)-1]
	for _, s := range tickSteps {
		if span/s <= maxTicks {
			step = s
			break
		}
	}
	layout := "15:04"
	if step < time.Minute {
		layout = "15:04:05"
	}
	var out []tickView
	// Truncate counts from the zero time, a UTC midnight: ticks fall on
	// whole hours and minutes of UTC.
	for t := from.Truncate(step); !t.After(to); t = t.Add(step) {
		if t.Before(from) {
			continue
		}
		x := pct(t)
		anchor := "middle"
		switch {
		case x < 4:
			anchor = "start"
		case x > 96:
			anchor = "end"
		}
		out = append(out, tickView{X: format(x), Label: t.UTC().Format(layout), Anchor: anchor})
	}
	return out
}

func stretch(from, to time.Time, current bool) string {
	end := to.UTC().Format("2006-01-02 15:04:05")
	if current {
		end = "now"
	}
	return fmt.Sprintf("from %s to %s UTC (%s)", from.UTC().Format("2006-01-02 15:04:05"), end, humanDuration(to.Sub(from)))
}

func stateTitle(s watcher.Segment, from, to time.Time, current bool) string {
	who := "no node carrying"
	if s.Active != "" {
		who = clean(s.Active) + " carrying"
	}
	state := string(s.State)
	if s.PollFailed {
		state = "Jenkins did not answer; last seen " + state
	}
	return state + ", " + who + ", " + stretch(from, to, current)
}
