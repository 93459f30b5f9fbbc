// Package server serves the watchdog's HTTP endpoints: metrics, health and
// status.
package server

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/config"
	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/watcher"
)

// Watcher is what the endpoints read.
type Watcher interface {
	Live() bool
	Ready() bool
	Status() watcher.Status
}

// Options configure the server.
type Options struct {
	Addr     string
	Gatherer prometheus.Gatherer
	Watcher  Watcher
	Auth     *config.BasicAuth // guards /metrics and /status when set
	CertFile string            // serve TLS when set
	KeyFile  string
	Logger   *slog.Logger
}

// Server is the HTTP server.
type Server struct {
	srv      *http.Server
	ln       net.Listener
	opts     Options
	draining chan struct{}
}

// Handler builds the routes.
func Handler(o Options, draining <-chan struct{}) http.Handler {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	mux := http.NewServeMux()
	live := func(w http.ResponseWriter, _ *http.Request) {
		if !o.Watcher.Live() {
			http.Error(w, "poll loop stalled\n", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	}
	mux.HandleFunc("GET /livez", live)
	mux.HandleFunc("GET /healthz", live)
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		select {
		case <-draining:
			http.Error(w, "shutting down\n", http.StatusServiceUnavailable)
			return
		default:
		}
		if !o.Watcher.Ready() {
			http.Error(w, "last poll of Jenkins failed\n", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	metrics := promhttp.HandlerFor(o.Gatherer, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(o.Logger.Handler(), slog.LevelError)})
	mux.Handle("GET /metrics", guard(o.Auth, metrics))
	mux.Handle("GET /status", guard(o.Auth, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(o.Watcher.Status())
	})))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("jenkins-failover-watchdog: /metrics /status /livez /readyz\n"))
	})
	return mux
}

func guard(auth *config.BasicAuth, h http.Handler) http.Handler {
	if auth == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		if !ok || !auth.Match(u, p) {
			w.Header().Set("WWW-Authenticate", `Basic realm="jenkins-failover-watchdog"`)
			http.Error(w, "unauthorized\n", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// Listen binds the address; Serve then serves on it. Splitting the two
// lets a caller learn the port of ":0" before serving.
func Listen(o Options) (*Server, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return nil, err
	}
	s := &Server{ln: ln, opts: o, draining: make(chan struct{})}
	s.srv = &http.Server{
		Handler: Handler(o, s.draining),
		// A slow or stuck client must not hold a connection forever.
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(o.Logger.Handler(), slog.LevelWarn),
	}
	if o.CertFile != "" {
		s.srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	return s, nil
}

// Addr is the bound address.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Serve serves until Shutdown; it returns nil after a clean shutdown.
func (s *Server) Serve() error {
	var err error
	if s.opts.CertFile != "" {
		err = s.srv.ServeTLS(s.ln, s.opts.CertFile, s.opts.KeyFile)
	} else {
		err = s.srv.Serve(s.ln)
	}
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown marks the server not ready, then closes it gracefully.
func (s *Server) Shutdown(ctx context.Context) error {
	select {
	case <-s.draining:
	default:
		close(s.draining)
	}
	return s.srv.Shutdown(ctx)
}
