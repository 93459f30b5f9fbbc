package testlab

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/config"
	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/internal/fakejenkins"
	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/jenkins"
	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/watcher"
)

// The lab's credentials when Options leave them empty.
const (
	DefaultUser  = "watchdog"
	DefaultToken = "lab-token"
)

// Options shape a lab. The zero value is one group, slave01:slave02, both
// SSH agents, the standby parked by "admin" with no message, and a user
// holding Overall/Read and Computer/Disconnect.
type Options struct {
	// Pairs is the WATCHDOG_PAIRS value; "slave01:slave02" when empty.
	Pairs string
	// Agents are the controller's agents; when nil, every node of Pairs,
	// launched over SSH unless named in Inbound.
	Agents  []fakejenkins.AgentSpec
	Inbound map[string]bool
	// Parked are the nodes parked before the first poll; every standby
	// when nil. ParkedBy (default "admin") parks them with ParkMessage.
	Parked      []string
	ParkedBy    string
	ParkMessage string
	// Fake are the controller's own options (prefix, Jenkins release).
	Fake fakejenkins.Options
	// User and Token are the watchdog's credentials; Password makes the
	// user log in with a password (and so need a crumb) instead of a
	// token. Perms default to Overall/Read and Computer/Disconnect.
	User, Token string
	Password    bool
	Perms       []fakejenkins.Permission
	// Wrap, when set, wraps the controller's handler, to watch or hold
	// the requests it serves.
	Wrap func(http.Handler) http.Handler
	// InProcess serves the controller through a RoundTripper instead of
	// a socket, so a test can run in a synctest bubble with fake time.
	InProcess bool
	// TLS serves the controller over HTTPS with httptest's certificate
	// (Server.Certificate).
	TLS bool
}

// Lab is a fake controller served over loopback HTTP (or in process),
// from which real clients and watchers are built.
type Lab struct {
	Fake   *fakejenkins.Controller
	Server *httptest.Server // nil when InProcess
	// URL is the controller's root, without the prefix; the watchdog's
	// JENKINS_URL is URL + the prefix.
	URL    string
	Groups []config.Group
	User   string
	Token  string
	opts   Options
}

// New builds and starts a lab. Close releases it.
func New(o Options) (*Lab, error) {
	o = o.withDefaults()
	fake, groups, err := NewController(o)
	if err != nil {
		return nil, err
	}
	l := &Lab{Fake: fake, Groups: groups, User: o.User, Token: o.Token, opts: o}
	if o.InProcess {
		l.URL = "http://jenkins.test"
		return l, nil
	}
	var h http.Handler = fake
	if o.Wrap != nil {
		h = o.Wrap(fake)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fake.Close()
		return nil, err
	}
	l.Server = &httptest.Server{Listener: ln, Config: &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}}
	if o.TLS {
		l.Server.StartTLS()
	} else {
		l.Server.Start()
	}
	l.URL = l.Server.URL
	return l, nil
}

func (o Options) withDefaults() Options {
	if o.Pairs == "" {
		o.Pairs = "slave01:slave02"
	}
	if o.User == "" {
		o.User, o.Token = DefaultUser, DefaultToken
	}
	if o.Perms == nil {
		o.Perms = []fakejenkins.Permission{fakejenkins.PermRead, fakejenkins.PermDisconnect}
	}
	if o.ParkedBy == "" {
		o.ParkedBy = "admin"
	}
	return o
}

// NewController builds the lab's controller, populated as o says, without
// serving it, and returns it with the groups of o.Pairs.
func NewController(o Options) (*fakejenkins.Controller, []config.Group, error) {
	o = o.withDefaults()
	groups, err := config.ParsePairs(o.Pairs)
	if err != nil {
		return nil, nil, err
	}
	if o.Agents == nil {
		for _, g := range groups {
			for _, n := range g.Nodes() {
				launch := fakejenkins.SSH
				if o.Inbound[n] {
					launch = fakejenkins.Inbound
				}
				o.Agents = append(o.Agents, fakejenkins.AgentSpec{Name: n, Launch: launch})
			}
		}
	}
	if o.Parked == nil {
		for _, g := range groups {
			o.Parked = append(o.Parked, g.Standbys...)
		}
	}
	fake := fakejenkins.New(o.Fake)
	if o.Password {
		fake.AddPasswordUser(o.User, o.Token, o.Perms...)
	} else {
		fake.AddUser(o.User, o.Token, o.Perms...)
	}
	for _, a := range o.Agents {
		if err := fake.AddAgent(a); err != nil {
			fake.Close()
			return nil, nil, err
		}
	}
	for _, n := range o.Parked {
		if err := fake.OperatorOffline(n, o.ParkedBy, o.ParkMessage); err != nil {
			fake.Close()
			return nil, nil, err
		}
	}
	return fake, groups, nil
}

// Start is New for a test: it fails the test on error and closes the lab
// when the test ends.
func Start(t TB, o Options) *Lab {
	t.Helper()
	l, err := New(o)
	if err != nil {
		t.Fatalf("lab: %v", err)
	}
	t.Cleanup(l.Close)
	return l
}

// Close stops the controller first, which releases requests it holds (a
// slow fault), then the server, which waits for them.
func (l *Lab) Close() {
	l.Fake.Close()
	if l.Server != nil {
		l.Server.Close()
	}
}

// JenkinsURL is the watchdog's JENKINS_URL: the root and the prefix.
func (l *Lab) JenkinsURL() string { return l.URL + l.opts.Fake.Prefix }

// ClientOptions shape a client of the lab; zero fields take the lab's
// credentials, a 5s timeout and the lab's transport.
type ClientOptions struct {
	User, Token string
	Timeout     time.Duration
	Transport   http.RoundTripper
	// Read is how polls read the nodes (jenkins.ReadAuto by default: the
	// lab's few agents are listed).
	Read jenkins.ReadStrategy
}

// NewClient builds the real Jenkins client against the lab.
func (l *Lab) NewClient(o ClientOptions) (*jenkins.Client, error) {
	if o.User == "" {
		o.User, o.Token = l.User, l.Token
	}
	if o.Timeout == 0 {
		o.Timeout = 5 * time.Second
	}
	if o.Transport == nil && l.opts.InProcess {
		o.Transport = HandlerTransport{H: l.Fake}
	}
	var watched []string
	for _, g := range l.Groups {
		watched = append(watched, g.Nodes()...)
	}
	return jenkins.New(jenkins.Options{URL: l.JenkinsURL(), User: o.User, Token: o.Token, Timeout: o.Timeout, Transport: o.Transport,
		Nodes: watched, Read: o.Read})
}

// WatcherOptions shape a watcher of the lab.
type WatcherOptions struct {
	Client ClientOptions
	// Wrap, when set, wraps the client, for tests that act between two
	// requests of one poll.
	Wrap   func(watcher.Jenkins) watcher.Jenkins
	Params watcher.Params
	DryRun bool
	Now    func() time.Time
	// Log receives the watcher's JSON log at debug level; nil discards it.
	Log io.Writer
	// Registry receives the metrics; a new one when nil.
	Registry *prometheus.Registry
	// Kinds are the error kinds pre-created in the metrics (ErrorKinds for
	// the daemon's).
	Kinds []string
}

// NewWatcher builds a watcher as the daemon does, with its own client,
// registry and logger, and returns it with its registry.
func (l *Lab) NewWatcher(o WatcherOptions) (*watcher.Watcher, *prometheus.Registry, error) {
	client, err := l.NewClient(o.Client)
	if err != nil {
		return nil, nil, err
	}
	var j watcher.Jenkins = client
	if o.Wrap != nil {
		j = o.Wrap(client)
	}
	reg := o.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	log := slog.New(slog.DiscardHandler)
	if o.Log != nil {
		log = slog.New(slog.NewJSONHandler(o.Log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	w := watcher.New(watcher.Options{
		Jenkins: j, Groups: l.Groups, Params: o.Params, DryRun: o.DryRun, Now: o.Now,
		Logger: log, Metrics: watcher.NewMetrics(reg, l.Groups, o.Kinds), JenkinsURL: l.URL,
	})
	return w, reg, nil
}

// MustWatcher is NewWatcher for a test.
func (l *Lab) MustWatcher(t TB, o WatcherOptions) (*watcher.Watcher, *prometheus.Registry) {
	t.Helper()
	w, reg, err := l.NewWatcher(o)
	if err != nil {
		t.Fatalf("watcher: %v", err)
	}
	return w, reg
}

// Node is the controller's view of a node; the test fails if it has none.
func (l *Lab) Node(t TB, name string) fakejenkins.NodeSnapshot {
	t.Helper()
	n, ok := l.Fake.Node(name)
	if !ok {
		t.Fatalf("node %q missing", name)
	}
	return n
}

// Phase is the phase of w's first group.
func (l *Lab) Phase(w *watcher.Watcher) watcher.Phase { return w.GroupState(l.Groups[0].Name()).Phase }

// HandlerTransport answers requests by calling a handler directly.
type HandlerTransport struct{ H http.Handler }

func (ht HandlerTransport) RoundTrip(r *http.Request) (resp *http.Response, err error) {
	defer func() {
		// A handler aborts a connection by panicking with
		// http.ErrAbortHandler; over a socket the client sees it closed.
		if p := recover(); p != nil {
			if p != http.ErrAbortHandler {
				panic(p)
			}
			resp, err = nil, context.Cause(r.Context())
			if err == nil {
				err = io.ErrUnexpectedEOF
			}
		}
	}()
	rec := httptest.NewRecorder()
	ht.H.ServeHTTP(rec, r)
	if err := r.Context().Err(); err != nil {
		return nil, err
	}
	resp = rec.Result()
	resp.Request = r
	return resp, nil
}
