package server

import (
	"net/http"
	"testing"
	"time"
	"unsafe"

	"github.com/prometheus/client_golang/prometheus"
)

// /status and the page are rendered once per Status generation: requests
// between two polls get the same bytes, and only a new generation (or, for
// the page, a rendering older than its refresh) renders again. The stub
// counts its Status calls: one per rendering.
func TestStatusAndPageRenderedOncePerPoll(t *testing.T) {
	for _, path := range []string{"/status", "/"} {
		t.Run(path, func(t *testing.T) {
			now := pageNow
			w := &stubWatcher{status: failedOverStatus()}
			h := Handler(Options{Gatherer: prometheus.NewRegistry(), Watcher: w, Now: func() time.Time { return now }}, make(chan struct{}))
			body := func() string {
				t.Helper()
				rec := get(t, h, http.MethodGet, path)
				if rec.Code != http.StatusOK {
					t.Fatalf("GET %s = %d", path, rec.Code)
				}
				if rec.Header().Get("Cache-Control") != "no-store" || rec.Header().Get("X-Content-Type-Options") != "nosniff" {
					t.Errorf("GET %s: headers %v", path, rec.Header())
				}
				return rec.Body.String()
			}
			first, second := body(), body()
			if first != second || w.reads.Load() != 1 {
				t.Fatalf("two requests between polls: %d renderings, same body %v; want 1, true", w.reads.Load(), first == second)
			}
			st := failedOverStatus()
			st.Controller.Version = "2.555.3"
			w.setStatus(st)
			third := body()
			if w.reads.Load() != 2 || third == first {
				t.Fatalf("after a poll: %d renderings, body changed %v; want 2, true", w.reads.Load(), third != first)
			}
			// The page says "12s ago": it must not stand still when
			// polls stop. /status carries no such text.
			now = now.Add(refreshSeconds * time.Second)
			body()
			want := int64(2)
			if path == "/" {
				want = 3
			}
			if got := w.reads.Load(); got != want {
				t.Errorf("a refresh interval later with no poll: %d renderings, want %d", got, want)
			}
		})
	}
}

// The rendering is shared, not copied per request: a thousand clients
// that read slowly hold one copy between them.
func TestRenderingIsShared(t *testing.T) {
	w := &stubWatcher{status: failedOverStatus()}
	c := &renderCache{render: renderJSON}
	a, err := c.get(w, pageNow)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := c.get(w, pageNow)
	if len(a) == 0 || unsafe.SliceData(a) != unsafe.SliceData(b) {
		t.Fatal("two requests under one generation got two copies of the rendering")
	}
}
