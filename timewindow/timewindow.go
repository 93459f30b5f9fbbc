// Package timewindow describes a weekly window of days and hours in a time
// zone, such as "mon-fri 08:00-17:00 Europe/Paris", says whether an
// instant falls inside it, and when it next opens. The watchdog uses one
// to confine automatic failback to hours when people are around.
//
// The written form, read by Parse and produced by String, is
//
//	[days] HH:MM-HH:MM [zone]
//
// days is a comma-separated list of mon, tue, wed, thu, fri, sat and sun
// (any case) and ranges of them such as mon-fri; a range may wrap past the
// end of the week (fri-mon is fri,sat,sun,mon); "*" or no days at all
// means every day. The time range is start and end on a 24-hour clock; the
// start is included and the end is not, so 08:00-17:00 closes as the clock
// reaches 17:00, and the end may be 24:00 for "to the end of the day".
// zone is an IANA time zone name such as Europe/Paris; without one the
// times are UTC. An empty string is the window that is always open.
//
// A window whose end is not after its start, such as 22:00-02:00, runs
// past midnight, and all of it belongs to the day it starts on: "fri
// 22:00-02:00" is open from Friday 22:00 to Saturday 02:00, and not in the
// early hours of Friday. (kured's reboot windows test the day of the
// instant itself instead, which cuts such a window into two pieces that
// are not adjacent; one stretch per listed day is what a person reading
// "fri 22:00-02:00" expects.)
//
// Times are clock readings in the zone. On a day with a daylight-saving
// change each day's window is still one stretch of time: it opens at the
// first instant the clock reads the start time or later, and closes at the
// first instant it reads the end time or later. So a boundary that falls
// in an hour the clocks skip is the instant they jump (02:30 on the
// morning Paris moves to summer time is 03:00 CEST), and a boundary in an
// hour they repeat is its first occurrence (02:30 on the morning Paris
// leaves summer time is 02:30 CEST, not CET). A window lying wholly in a
// skipped hour does not open that day.
package timewindow

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	// Zone data in the binary, used only when the system has none (a
	// scratch image, a bare host); a system copy, usually newer, wins.
	_ "time/tzdata"
)

const (
	minutesPerDay = 24 * 60
	day           = 24 * time.Hour
)

// Window is a weekly window of days and hours in a time zone. The zero
// Window has no restriction: it contains every instant.
type Window struct {
	days weekdays // empty only in the zero Window
	// Minutes after midnight; end may be minutesPerDay. An end not after
	// the start means the window runs past midnight.
	start, end int
	loc        *time.Location
}

// IsAlways reports whether w contains every instant, as the zero Window
// and the window parsed from an empty string do.
func (w Window) IsAlways() bool { return w.days == 0 }

// Contains reports whether t falls inside the window.
func (w Window) Contains(t time.Time) bool {
	if w.IsAlways() {
		return true
	}
	y, m, d := t.In(w.loc).Date()
	// A window that runs past midnight may have opened the day before.
	for _, dd := range []int{d - 1, d} {
		if open, end, ok := w.on(y, m, dd); ok && !t.Before(open) && t.Before(end) {
			return true
		}
	}
	return false
}

// Next returns the first instant at or after t inside the window: t
// itself when the window contains t, otherwise the instant it next opens,
// in the window's time zone. For the zero Window it returns t.
func (w Window) Next(t time.Time) time.Time {
	if w.IsAlways() {
		return t
	}
	if w.Contains(t) {
		return t.In(w.loc)
	}
	y, m, d := t.In(w.loc).Date()
	// Each listed day comes round within a week; the margin covers a
	// date a zone skips altogether (Pacific/Apia dropped 30 December 2011).
	for i := range 15 {
		if open, _, ok := w.on(y, m, d+i); ok && open.After(t) {
			return open.In(w.loc)
		}
	}
	return time.Time{} // unreachable for a window from Parse
}

// on returns when the window that starts on the given date (normalised
// as time.Date does) opens and closes; ok is false when no window starts
// that day, or when the clocks skip all of it.
func (w Window) on(y int, m time.Month, d int) (open, end time.Time, ok bool) {
	date := time.Date(y, m, d, 0, 0, 0, 0, time.UTC) // a calendar date, not an instant
	if !w.days.has(date.Weekday()) {
		return time.Time{}, time.Time{}, false
	}
	endDate := date
	if w.end <= w.start {
		endDate = date.Add(day)
	}
	open = firstReading(date.Add(time.Duration(w.start)*time.Minute), w.loc)
	end = firstReading(endDate.Add(time.Duration(w.end)*time.Minute), w.loc)
	return open, end, open.Before(end)
}

// firstReading returns the first instant at which the clock in loc reads
// wall or later; wall carries the clock reading in a UTC time.Time.
// time.Date is not enough: for a reading that a daylight-saving change
// repeats it picks the second occurrence, and for one the change skips it
// moves on by the length of the gap, neither of which it promises.
func firstReading(wall time.Time, loc *time.Location) time.Time {
	// No zone is a day away from UTC, so the instants whose clock reads
	// anything near wall lie within a day of it. Walk the zone's periods
	// (spans of one UTC offset) across that span: the answer is either
	// where some period's clock reads wall exactly or where the clock
	// jumps over it at the start of a period.
	var first time.Time
	consider := func(u time.Time) {
		if first.IsZero() || u.Before(first) {
			first = u
		}
	}
	for u := wall.Add(-day); u.Before(wall.Add(day)); {
		start, end := u.In(loc).ZoneBounds()
		if c := wall.Add(-offset(u, loc)); !c.Before(u) && (end.IsZero() || c.Before(end)) {
			consider(c)
		}
		if !start.IsZero() && !start.Before(u) && !reading(start, loc).Before(wall) &&
			reading(start.Add(-time.Nanosecond), loc).Before(wall) {
			consider(start)
		}
		if end.IsZero() {
			break
		}
		u = end
	}
	if first.IsZero() {
		return time.Date(wall.Year(), wall.Month(), wall.Day(), wall.Hour(), wall.Minute(), 0, 0, loc)
	}
	return first
}

func offset(u time.Time, loc *time.Location) time.Duration {
	_, off := u.In(loc).Zone()
	return time.Duration(off) * time.Second
}

// reading returns what the clock in loc shows at u, in a UTC time.Time.
func reading(u time.Time, loc *time.Location) time.Time { return u.UTC().Add(offset(u, loc)) }

// String returns the window in the form Parse reads, with the days in
// canonical form and the zone always named: "mon-fri 08:00-17:00
// Europe/Paris", "22:00-02:00 UTC". The zero Window is "".
func (w Window) String() string {
	if w.IsAlways() {
		return ""
	}
	var b strings.Builder
	if w.days != everyDay {
		b.WriteString(w.days.String())
		b.WriteByte(' ')
	}
	fmt.Fprintf(&b, "%s-%s %s", clock(w.start), clock(w.end), w.loc)
	return b.String()
}

// MarshalText writes the window as String does, so that it shows in JSON
// as the text a person wrote.
func (w Window) MarshalText() ([]byte, error) { return []byte(w.String()), nil }

// UnmarshalText reads the window as Parse does.
func (w *Window) UnmarshalText(text []byte) error {
	parsed, err := Parse(string(text))
	if err != nil {
		return err
	}
	*w = parsed
	return nil
}

func clock(minutes int) string { return fmt.Sprintf("%02d:%02d", minutes/60, minutes%60) }

// Parse reads a window in the form the package documentation describes.
// Errors name the part that is wrong, not the variable it came from.
func Parse(s string) (Window, error) {
	fields := strings.Fields(s)
	if len(fields) == 0 {
		return Window{}, nil
	}
	// The time range is the one part that starts with a digit; the days
	// come before it and the zone after.
	r := -1
	for i, f := range fields {
		if f[0] >= '0' && f[0] <= '9' {
			r = i
			break
		}
	}
	switch {
	case r < 0:
		return Window{}, fmt.Errorf("%q has no time range such as 08:00-17:00", s)
	case r > 1:
		return Window{}, fmt.Errorf("%q: want [days] HH:MM-HH:MM [time zone], with the days as one word such as mon,wed,fri", s)
	case len(fields) > r+2:
		return Window{}, fmt.Errorf("%q: unexpected %q after the time zone", s, fields[r+2])
	}

	w := Window{days: everyDay, loc: time.UTC}
	var err error
	if r == 1 {
		if w.days, err = parseDays(fields[0]); err != nil {
			return Window{}, err
		}
	}
	if w.start, w.end, err = parseTimes(fields[r]); err != nil {
		return Window{}, err
	}
	if len(fields) == r+2 {
		if w.loc, err = parseZone(fields[r+1]); err != nil {
			return Window{}, err
		}
	}
	return w, nil
}

func parseTimes(s string) (start, end int, err error) {
	from, to, ok := strings.Cut(s, "-")
	if !ok {
		return 0, 0, fmt.Errorf("time range %q: want HH:MM-HH:MM", s)
	}
	if start, err = parseClock(from); err != nil {
		return 0, 0, fmt.Errorf("time range %q: start %w", s, err)
	}
	if start == minutesPerDay {
		return 0, 0, fmt.Errorf("time range %q: 24:00 can only end a window", s)
	}
	if end, err = parseClock(to); err != nil {
		return 0, 0, fmt.Errorf("time range %q: end %w", s, err)
	}
	if start == end {
		return 0, 0, fmt.Errorf("time range %q starts and ends at the same time: for the whole day write 00:00-24:00", s)
	}
	return start, end, nil
}

// parseClock reads H:MM or HH:MM, 00:00 to 24:00, as minutes after midnight.
func parseClock(s string) (int, error) {
	hh, mm, ok := strings.Cut(s, ":")
	if !ok || len(hh) < 1 || len(hh) > 2 || len(mm) != 2 {
		return 0, fmt.Errorf("%q is not HH:MM", s)
	}
	h, herr := strconv.Atoi(hh)
	m, merr := strconv.Atoi(mm)
	if herr != nil || merr != nil || h < 0 || m < 0 || hh[0] == '+' || mm[0] == '+' {
		return 0, fmt.Errorf("%q is not HH:MM", s)
	}
	if h > 24 || m > 59 || h == 24 && m != 0 {
		return 0, fmt.Errorf("%q is not a time of day between 00:00 and 24:00", s)
	}
	return h*60 + m, nil
}

func parseZone(name string) (*time.Location, error) {
	if name == "Local" {
		// The host's zone differs between a laptop and a container.
		return nil, fmt.Errorf("time zone %q: name the zone, such as Europe/Paris or UTC", name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("unknown time zone %q: want an IANA name such as Europe/Paris or America/New_York", name)
	}
	return loc, nil
}
