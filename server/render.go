package server

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/watcher"
)

// A rendering of the watcher's Status, /status or the page, is made once
// per change of the Status and shared: every request until the next poll
// is served the same bytes. A client that reads slowly, or never, pins
// that one copy rather than a copy of its own, so the memory of N waiting
// clients does not grow with N times the size of the view (offline
// messages from Jenkins included).
type renderCache struct {
	render func(st watcher.Status, now time.Time) ([]byte, error)
	// maxAge, when set, also renders anew a rendering that old: the page
	// says "2m 5s ago", which must not stand still when polls stop.
	maxAge time.Duration

	mu   sync.Mutex // held while rendering: concurrent requests wait for one rendering
	last *rendering
}

type rendering struct {
	gen  uint64
	at   time.Time
	body []byte
}

// get returns the rendering of w's current Status, made now or earlier
// under the same Status generation. The bytes are shared: never change them.
func (c *renderCache) get(w Watcher, now time.Time) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	// The generation is read before the Status: a Status kept under a
	// generation is at least as new as it.
	gen := w.StatusGeneration()
	if r := c.last; r != nil && r.gen == gen && c.fresh(r, now) {
		return r.body, nil
	}
	body, err := c.render(w.Status(), now)
	if err != nil {
		return nil, err
	}
	c.last = &rendering{gen: gen, at: now, body: body}
	return body, nil
}

func (c *renderCache) fresh(r *rendering, now time.Time) bool {
	if c.maxAge <= 0 {
		return true
	}
	age := now.Sub(r.at)
	return age >= 0 && age < c.maxAge
}

// renderJSON is /status: indented JSON ending in a newline.
func renderJSON(st watcher.Status, _ time.Time) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(st); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// statusJSON serves /status from one rendering per Status generation.
func statusJSON(w Watcher, now func() time.Time, log *slog.Logger) http.Handler {
	cache := &renderCache{render: renderJSON}
	return http.HandlerFunc(func(rw http.ResponseWriter, _ *http.Request) {
		body, err := cache.get(w, now())
		if err != nil {
			log.Error("rendering /status", "err", err)
			http.Error(rw, "cannot render the status\n", http.StatusInternalServerError)
			return
		}
		h := rw.Header()
		h.Set("Content-Type", "application/json")
		// A state that changes every poll: never from a cache, and never
		// sniffed into something a browser would run.
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = rw.Write(body)
	})
}
