// Package server serves the watchdog's HTTP endpoints: the status page,
// metrics, health and status.
//
// TLS, client certificates and basic authentication come from a Prometheus
// exporter-toolkit web configuration file, the format node_exporter and
// pushgateway read, served through the toolkit itself. The toolkit applies
// that file to every request, health endpoints included: it has no way to
// leave a path out (see docs/http.md, "TLS and authentication"). A health
// listener of its own (Options.HealthAddr) serves the health endpoints
// again, in plain HTTP with no authentication, so that probes never wait
// behind a bcrypt check or need credentials.
package server

import (
	"compress/gzip"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/exporter-toolkit/web"

	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/watcher"
)

// Watcher is what the endpoints read.
type Watcher interface {
	Live() bool
	Ready() bool
	Status() watcher.Status
	// StatusGeneration moves on whenever Status changes; /status and the
	// page are rendered once per generation.
	StatusGeneration() uint64
}

// Options configure the server.
type Options struct {
	Addr string
	// HealthAddr, when set, is a second address that serves /livez,
	// /healthz and /readyz only, in plain HTTP with no authentication:
	// the web configuration applies to Addr alone.
	HealthAddr string
	// WebConfigFile is an exporter-toolkit web configuration file (TLS,
	// client certificates, basic_auth_users). Empty serves plain HTTP
	// with no authentication.
	WebConfigFile string
	// Gatherer gathers every metric.
	Gatherer prometheus.Gatherer
	// Text, when set, serves the text format (what Prometheus asks for
	// unless told otherwise) cheaply: the families of Text.Rest encoded as
	// usual, then those Text.Write writes itself. Other formats go through
	// Gatherer.
	Text    *TextMetrics
	Watcher Watcher
	Logger  *slog.Logger
	// Now is the clock the status page shows times against; time.Now
	// when nil.
	Now func() time.Time
}

// Server is the HTTP server.
type Server struct {
	srv      *http.Server
	ln       net.Listener
	health   *http.Server // nil without Options.HealthAddr
	healthLn net.Listener
	opts     Options
	draining chan struct{}
}

// ListenError is a failed bind; Health says it is Options.HealthAddr's.
type ListenError struct {
	Addr   string
	Health bool
	Err    error
}

func (e *ListenError) Error() string { return e.Err.Error() }
func (e *ListenError) Unwrap() error { return e.Err }

// Handler builds the routes. Authentication and TLS are not its business:
// the toolkit wraps whatever it returns.
func Handler(o Options, draining <-chan struct{}) http.Handler {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	mux := http.NewServeMux()
	healthRoutes(mux, o.Watcher, draining)
	mux.Handle("GET /metrics", metricsHandler(o))
	mux.Handle("GET /status", statusJSON(o.Watcher, o.Now, o.Logger))
	mux.Handle("GET /{$}", statusPage(o.Watcher, o.Now, o.Logger))
	return mux
}

// healthRoutes registers the health endpoints, on the main listener and
// on the health listener alike.
func healthRoutes(mux *http.ServeMux, w Watcher, draining <-chan struct{}) {
	live := func(rw http.ResponseWriter, _ *http.Request) {
		if !w.Live() {
			http.Error(rw, "poll loop stalled\n", http.StatusServiceUnavailable)
			return
		}
		_, _ = rw.Write([]byte("ok\n"))
	}
	mux.HandleFunc("GET /livez", live)
	mux.HandleFunc("GET /healthz", live)
	mux.HandleFunc("GET /readyz", func(rw http.ResponseWriter, _ *http.Request) {
		select {
		case <-draining:
			http.Error(rw, "shutting down\n", http.StatusServiceUnavailable)
			return
		default:
		}
		if !w.Ready() {
			http.Error(rw, "last poll of Jenkins failed\n", http.StatusServiceUnavailable)
			return
		}
		_, _ = rw.Write([]byte("ok\n"))
	})
}

// healthHandler serves the health endpoints alone, as the health listener
// does.
func healthHandler(w Watcher, draining <-chan struct{}) http.Handler {
	mux := http.NewServeMux()
	healthRoutes(mux, w, draining)
	return mux
}

// Listen binds the address; Serve then serves on it. Splitting the two
// lets a caller learn the port of ":0" before serving.
func Listen(o Options) (*Server, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return nil, &ListenError{Addr: o.Addr, Err: err}
	}
	s := &Server{ln: ln, opts: o, draining: make(chan struct{})}
	s.srv = newHTTPServer(Handler(o, s.draining), o.Logger)
	if o.HealthAddr != "" {
		if s.healthLn, err = net.Listen("tcp", o.HealthAddr); err != nil {
			_ = ln.Close()
			return nil, &ListenError{Addr: o.HealthAddr, Health: true, Err: err}
		}
		s.health = newHTTPServer(healthHandler(o.Watcher, s.draining), o.Logger)
	}
	return s, nil
}

func newHTTPServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler: h,
		// A slow or stuck client must not hold a connection forever.
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// Addr is the bound address.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// HealthAddr is the health listener's bound address, nil without one.
func (s *Server) HealthAddr() net.Addr {
	if s.healthLn == nil {
		return nil
	}
	return s.healthLn.Addr()
}

// Serve serves until Shutdown; it returns nil after a clean shutdown. The
// toolkit reads the web configuration file on every request and every TLS
// handshake, so changed users, passwords and certificates take effect
// without a restart. If either listener fails, both are closed and Serve
// returns the error.
func (s *Server) Serve() error {
	errc := make(chan error, 2)
	n := 1
	go func() { errc <- s.serveMain() }()
	if s.health != nil {
		n++
		go func() {
			err := s.health.Serve(s.healthLn)
			if errors.Is(err, http.ErrServerClosed) {
				err = nil
			}
			errc <- err
		}()
	}
	var errs []error
	for range n {
		if err := <-errc; err != nil {
			errs = append(errs, err)
			// One listener down: the other must not serve on alone,
			// the caller stops the watchdog.
			_ = s.srv.Close()
			if s.health != nil {
				_ = s.health.Close()
			}
		}
	}
	return errors.Join(errs...)
}

func (s *Server) serveMain() error {
	addrs := []string{s.ln.Addr().String()}
	systemd := false
	flags := &web.FlagConfig{WebListenAddresses: &addrs, WebSystemdSocket: &systemd, WebConfigFile: &s.opts.WebConfigFile}
	err := web.Serve(s.ln, s.srv, flags, s.opts.Logger)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	_ = s.ln.Close()
	return err
}

// Shutdown marks the server not ready, then closes it gracefully.
func (s *Server) Shutdown(ctx context.Context) error {
	select {
	case <-s.draining:
	default:
		close(s.draining)
	}
	err := s.srv.Shutdown(ctx)
	if s.health != nil {
		err = errors.Join(err, s.health.Shutdown(ctx))
	}
	return err
}

// TextMetrics splits the metrics for the text format: a thousand agents
// make some twenty thousand per-node and per-group series, which the
// registry would build one by one on every scrape (megabytes each time);
// the watcher writes them as text from its state instead.
type TextMetrics struct {
	Rest  prometheus.Gatherer   // every family but those Write writes
	Write func(io.Writer) error // the other families, in the text format
}

var gzipPool = sync.Pool{New: func() any { return gzip.NewWriter(nil) }}

func metricsHandler(o Options) http.Handler {
	full := promhttp.HandlerFor(o.Gatherer, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(o.Logger.Handler(), slog.LevelError)})
	if o.Text == nil {
		return full
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		format := expfmt.Negotiate(r.Header)
		if format.FormatType() != expfmt.TypeTextPlain {
			full.ServeHTTP(w, r)
			return
		}
		mfs, err := o.Text.Rest.Gather()
		if err != nil {
			http.Error(w, "gathering metrics: "+err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", string(format))
		var out io.Writer = w
		if gzipAccepted(r) {
			w.Header().Set("Content-Encoding", "gzip")
			gz := gzipPool.Get().(*gzip.Writer)
			gz.Reset(w)
			defer func() { _ = gz.Close(); gzipPool.Put(gz) }()
			out = gz
		}
		enc := expfmt.NewEncoder(out, format)
		for _, mf := range mfs {
			if err := enc.Encode(mf); err != nil {
				o.Logger.Error("writing metrics", "error", err)
				return
			}
		}
		if err := o.Text.Write(out); err != nil {
			o.Logger.Error("writing metrics", "error", err)
		}
	})
}

func gzipAccepted(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		if enc, _, _ := strings.Cut(strings.TrimSpace(part), ";"); enc == "gzip" {
			return true
		}
	}
	return false
}
