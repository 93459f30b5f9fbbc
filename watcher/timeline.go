package watcher

import "time"

// Segment is a stretch of a group's history: from Start until the next
// segment starts (the last one until now) the group was in State, with
// Active carrying it.
type Segment struct {
	Start  time.Time `json:"start"`
	State  Phase     `json:"state"`
	Active string    `json:"active"`
	// PollFailed marks a stretch in which Jenkins did not answer: State
	// and Active are what the last poll that did saw.
	PollFailed bool `json:"pollFailed,omitempty"`
}

// The timelines are kept in memory only and bounded twice: in time (what
// ended more than TimelineSpan ago is forgotten) and in count (a group
// that flaps, or a controller that answers every other poll, adds a
// segment per poll). The count is shared between groups: each keeps
// maxTotalSegments/groups segments, never more than maxGroupSegments nor
// fewer than minGroupSegments (a failover and a failback take six). So
// at most 10,000 segments in all up to 1,250 groups, 8 a group beyond.
const (
	TimelineSpan     = 24 * time.Hour
	maxGroupSegments = 500
	maxTotalSegments = 10_000
	minGroupSegments = 8
)

// segmentsPerGroup is how many segments each of n groups keeps.
func segmentsPerGroup(n int) int {
	if n <= 0 {
		return maxGroupSegments
	}
	return min(maxGroupSegments, max(minGroupSegments, maxTotalSegments/n))
}

// timeline is one group's history, oldest first.
type timeline struct {
	segs []Segment
	max  int
}

// record appends s unless the timeline already ends in the same state,
// then forgets what the bounds leave out: segments that ended before
// now-TimelineSpan (the one in force at that moment stays, it starts the
// picture) and the oldest beyond the count. It reports whether anything
// changed.
func (t *timeline) record(s Segment, now time.Time) bool {
	changed := false
	if n := len(t.segs); n == 0 || !sameStretch(t.segs[n-1], s) {
		t.segs = append(t.segs, s)
		changed = true
	}
	drop := 0
	for cut := now.Add(-TimelineSpan); drop+1 < len(t.segs) && !t.segs[drop+1].Start.After(cut); drop++ {
	}
	drop = max(drop, len(t.segs)-t.max)
	if drop > 0 {
		// Shift in place rather than reslice: a full timeline takes a
		// poll's segment without allocating.
		t.segs = t.segs[:copy(t.segs, t.segs[drop:])]
		changed = true
	}
	return changed
}

func sameStretch(a, b Segment) bool {
	return a.State == b.State && a.Active == b.Active && a.PollFailed == b.PollFailed
}

// recordLocked adds a group's state at now to its timeline. Callers hold
// w.mu and move the generation after it.
func (w *Watcher) recordLocked(group string, s Segment) {
	t := w.timelines[group]
	if t == nil {
		t = &timeline{max: segmentsPerGroup(len(w.groups))}
		w.timelines[group] = t
	}
	t.record(s, s.Start)
}

// recordPollFailedLocked marks every group unseen from now: Jenkins did
// not answer, so nothing is known of them but what was seen last.
func (w *Watcher) recordPollFailedLocked(now time.Time) {
	for _, g := range w.groups {
		st := w.states[g.Name()]
		w.recordLocked(g.Name(), Segment{Start: now, State: st.Phase, Active: st.Active, PollFailed: true})
	}
}

// timelineLocked is a copy of a group's timeline.
func (w *Watcher) timelineLocked(group string) []Segment {
	if t := w.timelines[group]; t != nil {
		return append([]Segment(nil), t.segs...)
	}
	return nil
}
