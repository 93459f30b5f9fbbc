package timewindow

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func mustParse(t *testing.T, s string) Window {
	t.Helper()
	w, err := Parse(s)
	if err != nil {
		t.Fatalf("Parse(%q): %v", s, err)
	}
	return w
}

// at reads an RFC 3339 instant; the offset in each case says which side of
// a daylight-saving change it is on.
func at(t *testing.T, s string) time.Time {
	t.Helper()
	u, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// 2026: 2 March is a Monday; Paris moves to summer time on Sunday 29 March
// (02:00 CET becomes 03:00 CEST) and back on Sunday 25 October (03:00 CEST
// becomes 02:00 CET); New York moves on Sunday 8 March.
func TestContains(t *testing.T) {
	tests := []struct {
		window, at string
		want       bool
	}{
		// Office hours.
		{"mon-fri 08:00-17:00 Europe/Paris", "2026-03-02T07:59:59+01:00", false},
		{"mon-fri 08:00-17:00 Europe/Paris", "2026-03-02T08:00:00+01:00", true}, // start included
		{"mon-fri 08:00-17:00 Europe/Paris", "2026-03-02T12:00:00+01:00", true},
		{"mon-fri 08:00-17:00 Europe/Paris", "2026-03-02T16:59:59.999999999+01:00", true},
		{"mon-fri 08:00-17:00 Europe/Paris", "2026-03-02T17:00:00+01:00", false}, // end excluded
		{"mon-fri 08:00-17:00 Europe/Paris", "2026-03-06T16:00:00+01:00", true},  // Friday
		{"mon-fri 08:00-17:00 Europe/Paris", "2026-03-07T12:00:00+01:00", false}, // Saturday
		{"mon-fri 08:00-17:00 Europe/Paris", "2026-03-08T12:00:00+01:00", false}, // Sunday
		{"mon-fri 08:00-17:00 Europe/Paris", "2026-03-02T07:30:00Z", true},       // 08:30 in Paris
		{"mon-fri 08:00-17:00 Europe/Paris", "2026-03-02T16:30:00Z", false},      // 17:30 in Paris
		{"mon 00:00-01:00 Europe/Paris", "2026-03-01T23:30:00Z", true},           // Sunday in UTC, Monday 00:30 in Paris
		{"sun 23:00-24:00 UTC", "2026-03-01T23:30:00+01:00", false},              // Sunday 23:30 in Paris, 22:30 in UTC
		// The first working day of summer time: 08:00 CEST, not 08:00 CET.
		{"mon-fri 08:00-17:00 Europe/Paris", "2026-03-30T07:30:00+02:00", false},
		{"mon-fri 08:00-17:00 Europe/Paris", "2026-03-30T08:00:00+02:00", true},
		{"mon-fri 08:00-17:00 Europe/Paris", "2026-03-30T16:30:00+02:00", true},
		{"mon-fri 08:00-17:00 Europe/Paris", "2026-03-30T17:00:00+02:00", false},
		{"mon-fri 09:00-17:00 America/New_York", "2026-03-09T08:59:00-04:00", false},
		{"mon-fri 09:00-17:00 America/New_York", "2026-03-09T09:00:00-04:00", true},
		{"mon-fri 09:00-17:00 America/New_York", "2026-03-06T16:59:00-05:00", true},

		// Every day, past midnight.
		{"22:00-02:00 UTC", "2026-03-02T21:59:59Z", false},
		{"22:00-02:00 UTC", "2026-03-02T22:00:00Z", true},
		{"22:00-02:00 UTC", "2026-03-02T23:59:59Z", true},
		{"22:00-02:00 UTC", "2026-03-03T00:00:00Z", true},
		{"22:00-02:00 UTC", "2026-03-03T01:59:59Z", true},
		{"22:00-02:00 UTC", "2026-03-03T02:00:00Z", false},
		{"22:00-02:00 UTC", "2026-03-03T12:00:00Z", false},
		// Past midnight, one day: the hours after midnight belong to the
		// day the window starts on.
		{"fri 22:00-02:00 UTC", "2026-03-06T23:00:00Z", true},  // Friday night
		{"fri 22:00-02:00 UTC", "2026-03-07T01:00:00Z", true},  // Saturday, early
		{"fri 22:00-02:00 UTC", "2026-03-07T02:00:00Z", false}, // closed
		{"fri 22:00-02:00 UTC", "2026-03-06T01:00:00Z", false}, // Friday, early: Thursday's, not listed
		{"fri 22:00-02:00 UTC", "2026-03-07T23:00:00Z", false}, // Saturday night
		{"fri 22:00-00:00 UTC", "2026-03-06T23:59:59Z", true},
		{"fri 22:00-00:00 UTC", "2026-03-07T00:00:00Z", false},
		// Past midnight on the night the clocks go forward: the window
		// closes at 06:00 on the new clock, seven hours after it opened.
		{"sat 23:00-06:00 Europe/Paris", "2026-03-28T22:59:00+01:00", false},
		{"sat 23:00-06:00 Europe/Paris", "2026-03-28T23:00:00+01:00", true},
		{"sat 23:00-06:00 Europe/Paris", "2026-03-29T05:59:59+02:00", true},
		{"sat 23:00-06:00 Europe/Paris", "2026-03-29T06:00:00+02:00", false},

		// Whole days, lists and ranges that wrap past Sunday.
		{"sat,sun 00:00-24:00 UTC", "2026-03-06T23:59:59Z", false},
		{"sat,sun 00:00-24:00 UTC", "2026-03-07T00:00:00Z", true},
		{"sat,sun 00:00-24:00 UTC", "2026-03-08T23:59:59Z", true},
		{"sat,sun 00:00-24:00 UTC", "2026-03-09T00:00:00Z", false},
		{"* 00:00-24:00", "2026-03-04T13:00:00Z", true},
		{"mon,wed,fri 10:00-11:00", "2026-03-04T10:30:00Z", true},
		{"mon,wed,fri 10:00-11:00", "2026-03-05T10:30:00Z", false},
		{"fri-mon 10:00-11:00", "2026-03-08T10:30:00Z", true},  // Sunday
		{"fri-mon 10:00-11:00", "2026-03-09T10:30:00Z", true},  // Monday
		{"fri-mon 10:00-11:00", "2026-03-10T10:30:00Z", false}, // Tuesday

		// A start the clocks skip opens the window as they jump.
		{"sun 02:30-04:00 Europe/Paris", "2026-03-29T01:59:59+01:00", false},
		{"sun 02:30-04:00 Europe/Paris", "2026-03-29T03:00:00+02:00", true},
		{"sun 02:30-04:00 Europe/Paris", "2026-03-29T03:59:59+02:00", true},
		{"sun 02:30-04:00 Europe/Paris", "2026-03-29T04:00:00+02:00", false},
		// An end the clocks skip closes it as they jump.
		{"01:00-02:30 Europe/Paris", "2026-03-29T01:59:59+01:00", true},
		{"01:00-02:30 Europe/Paris", "2026-03-29T03:00:00+02:00", false},
		// A window wholly inside the skipped hour does not open that day.
		{"sun 02:00-02:30 Europe/Paris", "2026-03-29T01:59:59+01:00", false},
		{"sun 02:00-02:30 Europe/Paris", "2026-03-29T03:00:00+02:00", false},
		{"sun 02:00-02:30 Europe/Paris", "2026-04-05T02:15:00+02:00", true},
		// A start the clocks repeat opens the window the first time round...
		{"sun 02:30-04:00 Europe/Paris", "2026-10-25T02:29:59+02:00", false},
		{"sun 02:30-04:00 Europe/Paris", "2026-10-25T02:30:00+02:00", true},
		{"sun 02:30-04:00 Europe/Paris", "2026-10-25T02:10:00+01:00", true},
		{"sun 02:30-04:00 Europe/Paris", "2026-10-25T03:59:59+01:00", true},
		{"sun 02:30-04:00 Europe/Paris", "2026-10-25T04:00:00+01:00", false},
		// ...and an end the clocks repeat closes it the first time round,
		// for good: the window does not reopen when the clock shows those
		// minutes again.
		{"00:00-02:30 Europe/Paris", "2026-10-25T02:29:59+02:00", true},
		{"00:00-02:30 Europe/Paris", "2026-10-25T02:30:00+02:00", false},
		{"00:00-02:30 Europe/Paris", "2026-10-25T02:15:00+01:00", false},

		// No restriction.
		{"", "2026-03-07T03:00:00Z", true},
	}
	for _, tt := range tests {
		t.Run(tt.window+" at "+tt.at, func(t *testing.T) {
			if got := mustParse(t, tt.window).Contains(at(t, tt.at)); got != tt.want {
				t.Errorf("Contains = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestZeroWindowIsAlways(t *testing.T) {
	var w Window
	if !w.IsAlways() || w.String() != "" {
		t.Errorf("zero Window: IsAlways %v, String %q", w.IsAlways(), w.String())
	}
	for _, s := range []string{"0001-01-01T00:00:00Z", "2026-03-29T02:30:00+02:00", "9999-12-31T23:59:59Z"} {
		u := at(t, s)
		if !w.Contains(u) || !w.Next(u).Equal(u) {
			t.Errorf("zero Window at %s: Contains %v, Next %s", s, w.Contains(u), w.Next(u))
		}
	}
	if mustParse(t, "mon 08:00-09:00").IsAlways() {
		t.Error("a parsed window claims to be always open")
	}
}

func TestNext(t *testing.T) {
	tests := []struct {
		name, window, from, want string
	}{
		{"inside: now", "mon-fri 08:00-17:00 Europe/Paris", "2026-03-02T10:00:00+01:00", "2026-03-02T10:00:00+01:00"},
		{"at the start: now", "mon-fri 08:00-17:00 Europe/Paris", "2026-03-02T08:00:00+01:00", "2026-03-02T08:00:00+01:00"},
		{"before today's", "mon-fri 08:00-17:00 Europe/Paris", "2026-03-02T07:00:00+01:00", "2026-03-02T08:00:00+01:00"},
		{"at the end: tomorrow", "mon-fri 08:00-17:00 Europe/Paris", "2026-03-02T17:00:00+01:00", "2026-03-03T08:00:00+01:00"},
		{"over the weekend", "mon-fri 08:00-17:00 Europe/Paris", "2026-03-06T17:00:00+01:00", "2026-03-09T08:00:00+01:00"},
		{"over the weekend the clocks go forward", "mon-fri 08:00-17:00 Europe/Paris", "2026-03-27T18:00:00+01:00", "2026-03-30T08:00:00+02:00"},
		{"over the weekend the clocks go back", "mon-fri 08:00-17:00 Europe/Paris", "2026-10-23T18:00:00+02:00", "2026-10-26T08:00:00+01:00"},
		{"New York, clocks forward", "mon-fri 09:00-17:00 America/New_York", "2026-03-06T17:00:00-05:00", "2026-03-09T09:00:00-04:00"},
		{"from another zone", "mon-fri 08:00-17:00 Europe/Paris", "2026-03-08T23:30:00Z", "2026-03-09T08:00:00+01:00"},
		{"past midnight, next week", "fri 22:00-02:00 UTC", "2026-03-07T02:00:00Z", "2026-03-13T22:00:00Z"},
		{"past midnight, inside after midnight", "fri 22:00-02:00 UTC", "2026-03-07T01:00:00Z", "2026-03-07T01:00:00Z"},
		{"past midnight, not on the early hours of its own day", "fri 22:00-02:00 UTC", "2026-03-06T01:00:00Z", "2026-03-06T22:00:00Z"},
		{"start skipped by the clocks", "sun 02:30-04:00 Europe/Paris", "2026-03-29T01:00:00+01:00", "2026-03-29T03:00:00+02:00"},
		{"start repeated by the clocks", "sun 02:30-04:00 Europe/Paris", "2026-10-25T01:00:00+02:00", "2026-10-25T02:30:00+02:00"},
		{"window skipped by the clocks", "sun 02:00-02:30 Europe/Paris", "2026-03-28T12:00:00+01:00", "2026-04-05T02:00:00+02:00"},
		// Samoa moved across the date line: Friday 30 December 2011 never
		// happened there.
		{"day skipped by the zone", "fri 10:00-11:00 Pacific/Apia", "2011-12-29T12:00:00-10:00", "2012-01-06T10:00:00+14:00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := mustParse(t, tt.window)
			got := w.Next(at(t, tt.from))
			if want := at(t, tt.want); !got.Equal(want) {
				t.Errorf("Next = %s, want %s", got.Format(time.RFC3339), want.Format(time.RFC3339))
			}
			if got.Location().String() != w.loc.String() {
				t.Errorf("Next is in %s, want the window's zone %s", got.Location(), w.loc)
			}
		})
	}
}

// Next and Contains must agree everywhere, daylight-saving changes
// included: Next is inside the window, nothing between the starting point
// and Next is, and the instant before an opening is outside.
func TestNextAgreesWithContains(t *testing.T) {
	windows := []string{
		"mon-fri 08:00-17:00 Europe/Paris",
		"sun 02:30-04:00 Europe/Paris",
		"sun 02:00-02:30 Europe/Paris",
		"00:00-02:30 Europe/Paris",
		"sat 23:00-06:00 Europe/Paris",
		"fri 22:00-02:00 America/New_York",
		"01:30-01:45 America/New_York",
		"sat,sun 00:00-24:00 Australia/Lord_Howe", // a half-hour daylight-saving change
	}
	spans := []string{"2026-03-25T00:00:00Z", "2026-10-21T00:00:00Z", "2026-03-05T00:00:00Z", "2026-10-29T00:00:00Z", "2026-04-01T00:00:00Z"}
	const step = 7 * time.Minute
	for _, ws := range windows {
		w := mustParse(t, ws)
		for _, s := range spans {
			var samples []time.Time
			for u, end := at(t, s), at(t, s).Add(8*24*time.Hour); u.Before(end); u = u.Add(step) {
				samples = append(samples, u)
			}
			// firstInside[i] is the first sample from i on inside the window.
			firstInside := make([]time.Time, len(samples)+1)
			for i := len(samples) - 1; i >= 0; i-- {
				firstInside[i] = firstInside[i+1]
				if w.Contains(samples[i]) {
					firstInside[i] = samples[i]
				}
			}
			for i, u := range samples {
				next := w.Next(u)
				if next.IsZero() || next.Before(u) || !w.Contains(next) {
					t.Fatalf("%s: Next(%s) = %s, which is not an instant inside the window from then on", ws, u, next)
				}
				if !firstInside[i].IsZero() && next.After(firstInside[i]) {
					t.Fatalf("%s: Next(%s) = %s, but the window contains %s", ws, u, next, firstInside[i])
				}
				if !next.Equal(u) && w.Contains(next.Add(-time.Nanosecond)) {
					t.Fatalf("%s: Next(%s) = %s, but the window was open just before", ws, u, next)
				}
			}
		}
	}
}

func TestParse(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"   ", ""},
		{"mon-fri 08:00-17:00 Europe/Paris", "mon-fri 08:00-17:00 Europe/Paris"},
		{"  MON-Fri   8:00-17:00   Europe/Paris ", "mon-fri 08:00-17:00 Europe/Paris"},
		{"08:00-17:00", "08:00-17:00 UTC"},
		{"08:00-17:00 UTC", "08:00-17:00 UTC"},
		{"* 22:00-02:00", "22:00-02:00 UTC"},
		{"mon-sun 22:00-02:00", "22:00-02:00 UTC"},
		{"mon,wed,fri 09:00-10:00 America/New_York", "mon,wed,fri 09:00-10:00 America/New_York"},
		{"sat,sun 00:00-24:00", "sat,sun 00:00-24:00 UTC"},
		{"sun,sat 00:00-24:00", "sat,sun 00:00-24:00 UTC"},
		{"fri-mon 10:00-11:00", "mon,fri-sun 10:00-11:00 UTC"},
		{"tue,mon,mon-wed 10:00-11:00", "mon-wed 10:00-11:00 UTC"},
		{"mon-wed,fri-sun 10:00-11:00", "mon-wed,fri-sun 10:00-11:00 UTC"},
		{"sun-sat 10:00-11:00", "10:00-11:00 UTC"},
		{"fri 22:00-00:00", "fri 22:00-00:00 UTC"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			w := mustParse(t, tt.in)
			if got := w.String(); got != tt.want {
				t.Fatalf("String = %q, want %q", got, tt.want)
			}
			again := mustParse(t, w.String())
			if again.String() != w.String() {
				t.Errorf("String does not round-trip: %q, then %q", w.String(), again.String())
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"mun-fri 08:00-17:00", `unknown day "mun"`},
		{"Mun 08:00-17:00", `unknown day "Mun"`},
		{"mon-fri", "no time range such as 08:00-17:00"},
		{"mon-fri Europe/Paris", "no time range"},
		{"mon fri 08:00-17:00", "want [days] HH:MM-HH:MM [time zone]"},
		{"mon-fri Europe/Paris 08:00-17:00", "want [days] HH:MM-HH:MM [time zone]"},
		{"08:00-17:00 UTC mon", `unexpected "mon" after the time zone`},
		{"08:00-17:00 Europe/Pariss", `unknown time zone "Europe/Pariss"`},
		{"08:00-17:00 Local", `time zone "Local": name the zone`},
		{"08:00", `time range "08:00": want HH:MM-HH:MM`},
		{"8-17", `time range "8-17": start "8" is not HH:MM`},
		{"08:00-5pm", `time range "08:00-5pm": end "5pm" is not HH:MM`},
		{"08:0-09:00", `start "08:0" is not HH:MM`},
		{"008:00-09:00", `start "008:00" is not HH:MM`},
		{"+8:00-09:00", "no time range"},
		{"08:00-+9:00", `end "+9:00" is not HH:MM`},
		{"25:00-26:00", `start "25:00" is not a time of day between 00:00 and 24:00`},
		{"08:60-09:00", `start "08:60" is not a time of day`},
		{"08:00-24:30", `end "24:30" is not a time of day`},
		{"24:00-08:00", "24:00 can only end a window"},
		{"08:00-08:00", `time range "08:00-08:00" starts and ends at the same time`},
		{"00:00-00:00", "for the whole day write 00:00-24:00"},
		{"08:00-09:00-10:00", `end "09:00-10:00" is not HH:MM`},
		{"mon,,fri 08:00-09:00", `days "mon,,fri": empty item`},
		{"mon, 08:00-09:00", `days "mon,": empty item`},
		{"mon-mon 08:00-09:00", `day range "mon-mon" starts and ends on the same day`},
		{"mon- 08:00-09:00", `day range "mon-": want two days`},
		{"mon,* 08:00-09:00", `days "mon,*": * stands alone`},
		{"mon-fri-sun 08:00-09:00", `unknown day "fri-sun"`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			w, err := Parse(tt.in)
			if err == nil {
				t.Fatalf("Parse = %q, want an error", w)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

// A window shows in JSON (the status endpoint) as the text a person
// would write.
func TestTextMarshaling(t *testing.T) {
	type status struct {
		Window Window `json:"window"`
	}
	for _, tt := range []struct{ in, want string }{
		{"mon-fri 8:00-17:00 Europe/Paris", `{"window":"mon-fri 08:00-17:00 Europe/Paris"}`},
		{"", `{"window":""}`},
	} {
		b, err := json.Marshal(status{mustParse(t, tt.in)})
		if err != nil || string(b) != tt.want {
			t.Errorf("Marshal(%q) = %s, %v; want %s", tt.in, b, err, tt.want)
		}
		var back status
		if err := json.Unmarshal(b, &back); err != nil || back.Window.String() != mustParse(t, tt.in).String() {
			t.Errorf("Unmarshal(%s) = %q, %v", b, back.Window, err)
		}
	}
	var bad status
	if err := json.Unmarshal([]byte(`{"window":"mun 08:00-09:00"}`), &bad); err == nil || !strings.Contains(err.Error(), `unknown day "mun"`) {
		t.Errorf("Unmarshal of a bad window: %v", err)
	}
}
