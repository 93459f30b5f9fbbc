package timewindow

import (
	"fmt"
	"strings"
	"time"
)

// weekdays is a set of days of the week, bit i standing for time.Weekday(i).
type weekdays uint8

const everyDay weekdays = 1<<7 - 1

// week lists the days in the order people write them, Monday first.
var week = [7]struct {
	name string
	day  time.Weekday
}{
	{"mon", time.Monday}, {"tue", time.Tuesday}, {"wed", time.Wednesday}, {"thu", time.Thursday},
	{"fri", time.Friday}, {"sat", time.Saturday}, {"sun", time.Sunday},
}

func (w weekdays) has(d time.Weekday) bool { return w&(1<<d) != 0 }

// String writes the set Monday first, runs of three days or more as
// ranges: "mon-fri", "mon,wed,fri", "mon-wed,sat,sun".
func (w weekdays) String() string {
	var parts []string
	for i := 0; i < len(week); {
		if !w.has(week[i].day) {
			i++
			continue
		}
		j := i
		for j+1 < len(week) && w.has(week[j+1].day) {
			j++
		}
		switch {
		case j-i >= 2:
			parts = append(parts, week[i].name+"-"+week[j].name)
		default:
			for k := i; k <= j; k++ {
				parts = append(parts, week[k].name)
			}
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}

// parseDays reads "*", or a comma-separated list of days and ranges of
// days such as "mon-fri,sun".
func parseDays(s string) (weekdays, error) {
	if s == "*" {
		return everyDay, nil
	}
	var set weekdays
	for item := range strings.SplitSeq(s, ",") {
		if item == "" {
			return 0, fmt.Errorf("days %q: empty item in the list", s)
		}
		if item == "*" {
			return 0, fmt.Errorf("days %q: * stands alone, for every day", s)
		}
		from, to, isRange := strings.Cut(item, "-")
		if isRange && (from == "" || to == "") {
			return 0, fmt.Errorf("day range %q: want two days, such as mon-fri", item)
		}
		first, err := weekIndex(from)
		if err != nil {
			return 0, err
		}
		if !isRange {
			set |= 1 << week[first].day
			continue
		}
		last, err := weekIndex(to)
		if err != nil {
			return 0, err
		}
		if first == last {
			return 0, fmt.Errorf("day range %q starts and ends on the same day", item)
		}
		// A range may wrap past Sunday: fri-mon is fri,sat,sun,mon.
		for i := first; ; i = (i + 1) % len(week) {
			set |= 1 << week[i].day
			if i == last {
				break
			}
		}
	}
	return set, nil
}

// weekIndex returns the position of a day's name, in any case, in week.
func weekIndex(name string) (int, error) {
	for i, d := range week {
		if strings.EqualFold(d.name, name) {
			return i, nil
		}
	}
	return 0, fmt.Errorf("unknown day %q (want mon, tue, wed, thu, fri, sat or sun)", name)
}
