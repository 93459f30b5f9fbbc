package server

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/watcher"
)

// The status page: one server-rendered HTML document with its style
// inline, no script and no external asset, so it works behind any proxy,
// on a phone and with a Content-Security-Policy that allows nothing else.

//go:embed page.html
var pageHTML string

//go:embed page.css
var pageCSS string

const (
	refreshSeconds = 10
	maxTransitions = 20
)

// pageCSP allows the page's own inline style and nothing else: no script,
// no image, no frame, no form.
var pageCSP = func() string {
	sum := sha256.Sum256([]byte(pageCSS))
	return "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) +
		"'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
}()

// Group states by colour. States not listed here (one added later, or a
// string this build does not know) fall back to "unknown", grey.
var groupClasses = map[string]string{
	"normal":           "ok",
	"suspect":          "warn",
	"failing_over":     "warn",
	"failed_over":      "warn",
	"failing_back":     "warn",
	"failback_pending": "warn",
	"manual_failback":  "warn",
	"maintenance":      "info",
	"down":             "bad",
}

var nodeClasses = map[string]string{
	"online":       "ok",
	"parked":       "info",
	"held":         "warn",
	"disconnected": "bad",
	"missing":      "bad",
}

func classOf(m map[string]string, state string) string {
	if c, ok := m[state]; ok {
		return c
	}
	return "unknown"
}

type pageData struct {
	Title          string
	CSS            template.CSS
	RefreshSeconds int
	Now            time.Time
	Status         watcher.Status
	Transitions    []watcher.Transition // newest first
	Timeline       timelineView
}

func statusPage(w Watcher, now func() time.Time, log *slog.Logger) http.Handler {
	tmpl := template.Must(template.New("page").Funcs(template.FuncMap{
		// any: the state types are strings under other names.
		"groupClass": func(s any) string { return classOf(groupClasses, fmt.Sprint(s)) },
		"nodeClass":  func(s any) string { return classOf(nodeClasses, fmt.Sprint(s)) },
		"clean":      clean,
		"orNone": func(s string) string {
			if s == "" {
				return "unknown"
			}
			return s
		},
		"join":    func(s []string) string { return strings.Join(s, ", ") },
		"clock":   func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
		"rfc3339": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"ago":     func(now, t time.Time) string { return humanDuration(now.Sub(t)) + " ago" },
		"since":   func(now, t time.Time) string { return humanDuration(now.Sub(t)) },
	}).Parse(pageHTML))

	// The page says how long ago things happened; a browser shows it for
	// refreshSeconds anyway, so a rendering that old is rendered again
	// even with no poll in between (polls that stopped show as such).
	cache := &renderCache{maxAge: refreshSeconds * time.Second, render: func(st watcher.Status, now time.Time) ([]byte, error) {
		d := pageData{Title: pageTitle(st), CSS: template.CSS(pageCSS), RefreshSeconds: refreshSeconds, Now: now, Status: st,
			Timeline: buildTimeline(st, now)}
		for i := len(st.Transitions) - 1; i >= 0 && len(d.Transitions) < maxTransitions; i-- {
			d.Transitions = append(d.Transitions, st.Transitions[i])
		}
		// Render first: a template error must not leave half a page behind a 200.
		var buf bytes.Buffer
		if err := tmpl.Execute(&buf, d); err != nil {
			return nil, err
		}
		return buf.Bytes(), nil
	}}

	return http.HandlerFunc(func(rw http.ResponseWriter, _ *http.Request) {
		body, err := cache.get(w, now())
		if err != nil {
			log.Error("rendering the status page", "err", err)
			http.Error(rw, "cannot render the status page\n", http.StatusInternalServerError)
			return
		}
		h := rw.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		// The web configuration file may set its own policy; it wins.
		if h.Get("Content-Security-Policy") == "" {
			h.Set("Content-Security-Policy", pageCSP)
		}
		h.Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = rw.Write(body)
	})
}

// pageTitle says at a glance, in a browser tab, whether anything is wrong.
func pageTitle(st watcher.Status) string {
	const suffix = " · Jenkins failover watchdog"
	var odd []string
	for _, g := range st.Groups {
		if g.State != "normal" {
			odd = append(odd, clean(g.Name)+" "+string(g.State))
		}
	}
	switch {
	case !st.Controller.Up && st.Controller.LastPoll != nil:
		return "Jenkins unreachable" + suffix
	case len(odd) == 0:
		return fmt.Sprintf("%d of %d groups normal", len(st.Groups), len(st.Groups)) + suffix
	case len(odd) == 1:
		return odd[0] + suffix
	default:
		return fmt.Sprintf("%s and %d more", odd[0], len(odd)-1) + suffix
	}
}

// clean makes text that came from Jenkins safe to look at: html/template
// already escapes markup, this shows control characters and bidirectional
// overrides as escapes instead of letting them reorder or hide the text.
func clean(s string) string {
	if strings.IndexFunc(s, needsEscape) < 0 {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == unicode.ReplacementChar || !needsEscape(r):
			b.WriteRune(r)
		case r < 0x100:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			fmt.Fprintf(&b, `\u%04x`, r)
		}
	}
	return b.String()
}

func needsEscape(r rune) bool {
	return unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r)
}

// humanDuration rounds a duration to what a person reading a status page
// cares about: two units at most.
func humanDuration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm %ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh %dm", int(d.Hours()), int(d.Minutes())%60)
	default:
		return fmt.Sprintf("%dd %dh", int(d.Hours())/24, int(d.Hours())%24)
	}
}
