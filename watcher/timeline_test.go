package watcher

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/config"
)

var timelineStart = time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC)

// timelineWatcher is a watcher of the given groups on a clock the test
// moves by hand; nothing polls.
func timelineWatcher(t *testing.T, groups int) (*Watcher, []config.Group, *time.Time) {
	t.Helper()
	var gs []config.Group
	for i := range groups {
		gs = append(gs, config.Group{Primary: fmt.Sprintf("p%d", i), Standbys: []string{fmt.Sprintf("s%d", i)}})
	}
	now := timelineStart
	return New(Options{Groups: gs, Now: func() time.Time { return now }}), gs, &now
}

func timelineOf(w *Watcher, group string) []Segment {
	for _, g := range w.Status().Groups {
		if g.Name == group {
			return g.Timeline
		}
	}
	return nil
}

// flap commits n changes of group g, one a second, alternating between
// the primary carrying and a standby carrying; it returns the last state.
func flap(w *Watcher, g config.Group, now *time.Time, n int) GroupState {
	prev := GroupState{Phase: PhaseUnknown}
	for i := range n {
		*now = now.Add(time.Second)
		next := GroupState{Phase: PhaseNormal, Active: g.Primary}
		if i%2 == 1 {
			next = GroupState{Phase: PhaseFailedOver, Active: g.Standbys[0]}
		}
		w.commit(g, prev, next)
		prev = next
	}
	return prev
}

func TestTimelineStartsWithTheWatchdog(t *testing.T) {
	w, gs, now := timelineWatcher(t, 1)
	if st := w.Status(); !st.Started.Equal(timelineStart) || len(st.Groups[0].Timeline) != 1 ||
		st.Groups[0].Timeline[0] != (Segment{Start: timelineStart, State: PhaseUnknown}) {
		t.Fatalf("before the first poll: started %v, timeline %+v", st.Started, st.Groups[0].Timeline)
	}
	// The same state poll after poll is one segment.
	for range 5 {
		*now = now.Add(time.Second)
		w.commit(gs[0], GroupState{Phase: PhaseNormal, Active: "p0"}, GroupState{Phase: PhaseNormal, Active: "p0"})
	}
	tl := timelineOf(w, "p0")
	if len(tl) != 2 || tl[1] != (Segment{Start: timelineStart.Add(time.Second), State: PhaseNormal, Active: "p0"}) {
		t.Fatalf("five polls in one state: %+v", tl)
	}
	// Another node carrying in the same phase is a segment of its own.
	*now = now.Add(time.Second)
	w.commit(gs[0], GroupState{Phase: PhaseFailedOver, Active: "p0"}, GroupState{Phase: PhaseFailedOver, Active: "s0"})
	*now = now.Add(time.Second)
	w.commit(gs[0], GroupState{Phase: PhaseFailedOver, Active: "s0"}, GroupState{Phase: PhaseFailedOver, Active: "p0"})
	if tl := timelineOf(w, "p0"); len(tl) != 4 || tl[2].Active != "s0" || tl[3].Active != "p0" {
		t.Fatalf("the carrier changed twice: %+v", tl)
	}
}

// A group that flaps for hours keeps its latest segments only.
func TestTimelineKeepsTheNewestWithinTheCap(t *testing.T) {
	w, gs, now := timelineWatcher(t, 1)
	last := flap(w, gs[0], now, 10_000)
	tl := timelineOf(w, "p0")
	if len(tl) != maxGroupSegments {
		t.Fatalf("%d segments kept, want the cap %d", len(tl), maxGroupSegments)
	}
	newest := tl[len(tl)-1]
	if !newest.Start.Equal(*now) || newest.State != last.Phase || newest.Active != last.Active {
		t.Errorf("newest segment %+v, want %v %s at %v", newest, last.Phase, last.Active, *now)
	}
	for i, s := range tl {
		if want := now.Add(-time.Duration(len(tl)-1-i) * time.Second); !s.Start.Equal(want) {
			t.Fatalf("segment %d starts %v, want %v: not the newest in order", i, s.Start, want)
		}
	}
}

// What ended more than a day ago is forgotten; the segment in force a day
// ago stays, it starts the picture.
func TestTimelineForgetsWhatEndedADayAgo(t *testing.T) {
	w, gs, now := timelineWatcher(t, 1)
	prev := GroupState{Phase: PhaseUnknown}
	for i := range 3 * 24 * 6 { // a change every 10 minutes for 3 days
		*now = now.Add(10 * time.Minute)
		next := GroupState{Phase: PhaseNormal, Active: "p0"}
		if i%2 == 1 {
			next = GroupState{Phase: PhaseDown}
		}
		w.commit(gs[0], prev, next)
		prev = next
	}
	tl := timelineOf(w, "p0")
	cut := now.Add(-TimelineSpan)
	if len(tl) != 24*6+1 || tl[0].Start.After(cut) || !tl[1].Start.After(cut) {
		t.Fatalf("%d segments, first two from %v and %v; want 145, the first in force at %v", len(tl), tl[0].Start, tl[1].Start, cut)
	}
}

// Many groups share one count, so that memory does not grow with groups
// times the per-group cap.
func TestTimelineCountIsSharedBetweenGroups(t *testing.T) {
	for n, want := range map[int]int{0: 500, 1: 500, 20: 500, 21: 476, 100: 100, 1250: 8, 5000: 8} {
		if got := segmentsPerGroup(n); got != want {
			t.Errorf("segmentsPerGroup(%d) = %d, want %d", n, got, want)
		}
	}
	w, gs, now := timelineWatcher(t, 100)
	flap(w, gs[7], now, 1000)
	if tl := timelineOf(w, "p7"); len(tl) != 100 {
		t.Errorf("one of 100 groups keeps %d segments, want 100", len(tl))
	}
}

// Once full, a timeline takes a poll's segment without allocating.
func TestTimelineRecordsWithoutAllocatingWhenFull(t *testing.T) {
	tl := &timeline{max: 10}
	at := timelineStart
	phases := []Phase{PhaseNormal, PhaseSuspect}
	i := 0
	next := func() Segment {
		i++
		at = at.Add(time.Second)
		return Segment{Start: at, State: phases[i%2]}
	}
	for range 20 {
		tl.record(next(), at)
	}
	array := &tl.segs[0]
	if allocs := testing.AllocsPerRun(100, func() { tl.record(next(), at) }); allocs != 0 || &tl.segs[0] != array {
		t.Errorf("%v allocations per record on a full timeline; same array: %v", allocs, &tl.segs[0] == array)
	}
	if len(tl.segs) != 10 {
		t.Errorf("%d segments, want 10", len(tl.segs))
	}
}

// A poll that fails shows on every group as a stretch seen last as it
// was; a run of failures is one stretch; the next good poll ends it.
func TestTimelineMarksFailedPolls(t *testing.T) {
	w, gs, now := timelineWatcher(t, 2)
	for _, g := range gs {
		w.commit(g, GroupState{Phase: PhaseUnknown}, GroupState{Phase: PhaseNormal, Active: g.Primary})
	}
	gen := w.StatusGeneration()
	for range 3 {
		*now = now.Add(time.Second)
		w.pollFailed(errors.New("connection refused"), "network")
	}
	if w.StatusGeneration() == gen {
		t.Error("a failed poll changed the timeline and left the generation where it was")
	}
	*now = now.Add(time.Second)
	w.commit(gs[0], GroupState{Phase: PhaseNormal, Active: "p0"}, GroupState{Phase: PhaseNormal, Active: "p0"})
	want := []Segment{
		{Start: timelineStart, State: PhaseUnknown},
		{Start: timelineStart, State: PhaseNormal, Active: "p0"},
		{Start: timelineStart.Add(time.Second), State: PhaseNormal, Active: "p0", PollFailed: true},
		{Start: timelineStart.Add(4 * time.Second), State: PhaseNormal, Active: "p0"},
	}
	if got := timelineOf(w, "p0"); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("timeline\n%+v\nwant\n%+v", got, want)
	}
	if got := timelineOf(w, "p1"); len(got) != 3 || !got[2].PollFailed || got[2].Active != "p1" {
		t.Errorf("the other group: %+v", got)
	}
}
