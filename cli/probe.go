package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/config"
	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/jenkins"
	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/watcher"
)

// Environment variables the probe commands read. They belong to the
// client, not to the daemon's configuration.
const (
	envProbeUser     = "WATCHDOG_STATUS_USER"
	envProbePassword = "WATCHDOG_STATUS_PASSWORD"
)

const probeSynopsis = "[--addr [https://]host:port] [--timeout D] [--ca-file F | --insecure] [--server-name N] " +
	"[--cert-file F --key-file F] [--user U (--password-file F | $" + envProbePassword + ")]"

// probeFlags are the options status and healthcheck share: where the
// daemon is and how to reach it without leaking credentials.
type probeFlags struct {
	addr         string
	timeout      time.Duration
	caFile       string
	insecure     bool
	serverName   string
	certFile     string
	keyFile      string
	user         string
	passwordFile string
}

func addProbeFlags(fs *flag.FlagSet, e Env, health bool) *probeFlags {
	p := &probeFlags{}
	addr := envValue(e.Environ, "WATCHDOG_LISTEN_ADDR", ":9723")
	help := "daemon address: host:port for http, or http://host:port, https://host:port; an empty or wildcard host means 127.0.0.1"
	if h := envValue(e.Environ, "WATCHDOG_HEALTH_ADDR", ""); health && h != "" {
		// The health listener: plain HTTP, no credentials, never busy
		// with basic-auth checks.
		addr = h
		help += " (default $WATCHDOG_HEALTH_ADDR, the health listener, when set)"
	}
	fs.StringVar(&p.addr, "addr", addr, help)
	fs.DurationVar(&p.timeout, "timeout", 5*time.Second, "give up after this long")
	fs.StringVar(&p.caFile, "ca-file", "", "PEM CA bundle trusted for https, on top of the system roots")
	fs.BoolVar(&p.insecure, "insecure", false, "https without verifying the daemon's certificate")
	fs.StringVar(&p.serverName, "server-name", "", "name the daemon's certificate must carry, when it differs from the --addr host")
	fs.StringVar(&p.certFile, "cert-file", "", "PEM client certificate for daemons that require one (needs --key-file)")
	fs.StringVar(&p.keyFile, "key-file", "", "PEM private key for --cert-file")
	fs.StringVar(&p.user, "user", envValue(e.Environ, envProbeUser, ""), "Basic auth user (default $"+envProbeUser+")")
	fs.StringVar(&p.passwordFile, "password-file", "", "file holding the Basic auth password on one line (or set $"+envProbePassword+")")
	return p
}

// probe is a validated target: the daemon's base URL and a client that
// talks to that address only.
type probe struct {
	base     *url.URL
	client   *http.Client
	user     string
	password config.Secret
}

// build checks the flags and loads the files they name. Every error it
// returns is a usage error.
func (f *probeFlags) build(e Env) (*probe, error) {
	if f.timeout <= 0 {
		return nil, fmt.Errorf("--timeout %s: want a positive duration", f.timeout)
	}
	base, err := daemonURL(f.addr)
	if err != nil {
		return nil, err
	}
	p := &probe{base: base, user: f.user}
	if p.password, err = probePassword(f.passwordFile, envValue(e.Environ, envProbePassword, ""), e.ReadFile); err != nil {
		return nil, err
	}
	switch {
	case p.user != "" && !p.password.IsSet():
		return nil, fmt.Errorf("--user %q needs a password: --password-file or %s", terminalSafe(p.user), envProbePassword)
	case p.user == "" && p.password.IsSet():
		return nil, errors.New("a password without --user")
	case strings.ContainsRune(p.user, ':') || strings.IndexFunc(p.user, unicode.IsControl) >= 0:
		return nil, errors.New("--user: a Basic auth user cannot hold ':' or control characters")
	}
	if p.user != "" && base.Scheme == "http" && !isLoopback(base.Hostname()) {
		return nil, fmt.Errorf("--addr %s: credentials go over plain http only to a loopback address; use https://", base)
	}

	t := &http.Transport{
		// Credentials go to --addr and nowhere else: not to a proxy
		// named by HTTP_PROXY or HTTPS_PROXY either.
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: f.timeout}).DialContext,
		TLSHandshakeTimeout: f.timeout,
		ForceAttemptHTTP2:   true,
	}
	if base.Scheme == "https" {
		if t.TLSClientConfig, err = f.tlsConfig(e.ReadFile); err != nil {
			return nil, err
		}
	} else {
		for _, tf := range []struct {
			name string
			set  bool
		}{{"--ca-file", f.caFile != ""}, {"--insecure", f.insecure}, {"--server-name", f.serverName != ""},
			{"--cert-file", f.certFile != ""}, {"--key-file", f.keyFile != ""}} {
			if tf.set {
				return nil, fmt.Errorf("%s applies to https only; use --addr https://%s", tf.name, base.Host)
			}
		}
	}
	p.client = &http.Client{
		Transport: t,
		Timeout:   f.timeout,
		// The daemon never redirects. Following one would carry the
		// Authorization header to wherever it points (Go keeps it for
		// the same host on another port or scheme).
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return p, nil
}

func (f *probeFlags) tlsConfig(readFile func(string) ([]byte, error)) (*tls.Config, error) {
	c := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: f.serverName}
	switch {
	case f.insecure && (f.caFile != "" || f.serverName != ""):
		return nil, errors.New("--insecure skips verification; it does not go with --ca-file or --server-name")
	case f.insecure:
		c.InsecureSkipVerify = true //nolint:gosec // asked for explicitly with --insecure
	case f.caFile != "":
		pem, err := readFile(f.caFile)
		if err != nil {
			return nil, fmt.Errorf("--ca-file: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--ca-file %q: no PEM certificate found", f.caFile)
		}
		c.RootCAs = pool
	}
	if (f.certFile == "") != (f.keyFile == "") {
		return nil, errors.New("--cert-file and --key-file go together")
	}
	if f.certFile != "" {
		certPEM, err := readFile(f.certFile)
		if err != nil {
			return nil, fmt.Errorf("--cert-file: %w", err)
		}
		keyPEM, err := readFile(f.keyFile)
		if err != nil {
			return nil, fmt.Errorf("--key-file: %w", err)
		}
		cert, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			return nil, fmt.Errorf("--cert-file %q, --key-file %q: %w", f.certFile, f.keyFile, err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}

// probePassword takes the password from a file or the environment, never
// from the command line, where other users of the host can read it.
func probePassword(file, env string, readFile func(string) ([]byte, error)) (config.Secret, error) {
	switch {
	case file != "" && env != "":
		return config.Secret{}, fmt.Errorf("set either --password-file or %s, not both", envProbePassword)
	case file == "":
		return config.NewSecret(env), nil
	}
	b, err := readFile(file)
	if err != nil {
		return config.Secret{}, fmt.Errorf("--password-file: %w", err)
	}
	pass := strings.TrimRight(string(b), "\r\n")
	if pass == "" {
		return config.Secret{}, fmt.Errorf("--password-file %q is empty", file)
	}
	if strings.ContainsAny(pass, "\r\n") {
		return config.Secret{}, fmt.Errorf("--password-file %q holds more than one line", file)
	}
	return config.NewSecret(pass), nil
}

// daemonURL turns --addr into the daemon's base URL. A bare host:port
// means http; a wildcard listen address is reached on loopback.
func daemonURL(addr string) (*url.URL, error) {
	bad := func(why string) error {
		return fmt.Errorf("--addr %q: %s; want host:port, http://host:port or https://host:port", addr, why)
	}
	scheme, hostport := "http", addr
	if s, rest, ok := strings.Cut(addr, "://"); ok {
		scheme, hostport = strings.ToLower(s), strings.TrimSuffix(rest, "/")
		if scheme != "http" && scheme != "https" {
			return nil, bad("unknown scheme " + strconv.Quote(s))
		}
	}
	if strings.Contains(hostport, "@") {
		return nil, errors.New("--addr: credentials do not belong in the address; use --user and --password-file")
	}
	if strings.ContainsAny(hostport, "/?#") {
		return nil, bad("no path")
	}
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return nil, bad("no port")
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
		return nil, bad("bad port")
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return &url.URL{Scheme: scheme, Host: net.JoinHostPort(host, port)}, nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// get fetches path from the daemon and returns the body of a 200 answer.
// Any other answer is an error that says what to change.
func (p *probe) get(ctx context.Context, path string) ([]byte, error) {
	u := p.base.JoinPath(path).String()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	if p.user != "" {
		req.SetBasicAuth(p.user, p.password.Reveal())
	}
	body, err := p.fetch(req, u)
	if err != nil {
		return nil, &exitError{ExitDaemonUnreachable, err}
	}
	return body, nil
}

func (p *probe) fetch(req *http.Request, u string) ([]byte, error) {
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("no watchdog answering at %s (is the daemon running? use --addr): %w", p.base, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", u, err)
	}
	status := terminalSafe(resp.Status)
	switch {
	case resp.StatusCode == http.StatusOK:
		return body, nil
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		return nil, fmt.Errorf("%s answered %s, a redirect to %q; not followed", u, status, resp.Header.Get("Location"))
	case resp.StatusCode == http.StatusUnauthorized && p.user == "":
		return nil, fmt.Errorf("%s answered %s: the daemon wants Basic auth (--user, with --password-file or %s)", u, status, envProbePassword)
	case resp.StatusCode == http.StatusUnauthorized:
		return nil, fmt.Errorf("%s answered %s: user %q or its password refused", u, status, terminalSafe(p.user))
	case resp.StatusCode == http.StatusBadRequest && p.base.Scheme == "http" && strings.Contains(string(body), "HTTPS server"):
		return nil, fmt.Errorf("%s answered %s: the daemon serves HTTPS; use --addr https://%s", u, status, p.base.Host)
	default:
		return nil, fmt.Errorf("%s answered %s", u, status)
	}
}

func runHealthcheck(ctx context.Context, e Env, args []string) error {
	fs := newFlagSet(e, "healthcheck", "healthcheck "+probeSynopsis)
	pf := addProbeFlags(fs, e, true)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	p, err := pf.build(e)
	if err != nil {
		return &usageError{err}
	}
	// Liveness only: the poll loop turns. An unreachable Jenkins or a
	// refused token does not fail it, since restarting the watchdog
	// cures neither; status and /readyz report those.
	if _, err := p.get(ctx, "/livez"); err != nil {
		return err
	}
	fmt.Fprintln(e.Stdout, "ok")
	return nil
}

func runStatus(ctx context.Context, e Env, args []string) error {
	fs := newFlagSet(e, "status", "status [--json] "+probeSynopsis)
	pf := addProbeFlags(fs, e, false)
	asJSON := fs.Bool("json", false, "print the raw JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	p, err := pf.build(e)
	if err != nil {
		return &usageError{err}
	}
	body, err := p.get(ctx, "/status")
	if err != nil {
		return err
	}
	var st watcher.Status
	if err := json.Unmarshal(body, &st); err != nil {
		return &exitError{ExitDaemonUnreachable, fmt.Errorf("%s/status: not a watchdog status: %w", p.base, err)}
	}
	if *asJSON {
		if _, err := e.Stdout.Write(body); err != nil {
			return err
		}
	} else {
		PrintStatus(e.Stdout, st, time.Now())
	}
	return statusFinding(st)
}

// statusFinding turns what the daemon reports into status's exit code.
// A Jenkins problem comes first: while the daemon cannot read Jenkins, the
// group states are those of the last good poll.
func statusFinding(st watcher.Status) error {
	c := st.Controller
	switch {
	case !c.Up && (c.LastErrorKind == string(jenkins.KindUnauthorized) || c.LastErrorKind == string(jenkins.KindForbidden)):
		return &exitError{ExitJenkinsRefused, fmt.Errorf("Jenkins refused the watchdog's credentials (%s): %s",
			c.LastErrorKind, terminalSafe(c.LastError))}
	case !c.Up && c.LastError == "":
		return &exitError{ExitJenkinsUnreachable, errors.New("the daemon has not read Jenkins yet")}
	case !c.Up:
		return &exitError{ExitJenkinsUnreachable, fmt.Errorf("the daemon cannot read Jenkins: %s", terminalSafe(c.LastError))}
	}
	var down []string
	for _, g := range st.Groups {
		if g.State == watcher.PhaseDown {
			down = append(down, terminalSafe(g.Name))
		}
	}
	if len(down) > 0 {
		return &exitError{ExitGroupDown, fmt.Errorf("groups down (no node can carry them): %s", strings.Join(down, ", "))}
	}
	return nil
}

// PrintStatus renders a status as tables for people. Every string in it
// came from Jenkins or the daemon and goes through terminalSafe, so an
// agent's offline message cannot drive the reader's terminal.
func PrintStatus(w io.Writer, st watcher.Status, now time.Time) {
	c := st.Controller
	up := "up"
	if !c.Up {
		up = "DOWN"
	}
	fmt.Fprintf(w, "Jenkins %s  version %s  %s", terminalSafe(c.URL), orDash(c.Version), up)
	if c.LastSuccess != nil {
		fmt.Fprintf(w, "  last good poll %s ago", now.Sub(*c.LastSuccess).Round(time.Second))
	}
	fmt.Fprintln(w)
	if c.LastError != "" {
		fmt.Fprintf(w, "last error: %s\n", terminalSafe(c.LastError))
	}
	mode := "failback " + terminalSafe(st.Failback)
	if st.DryRun {
		mode += ", DRY RUN"
	}
	fmt.Fprintf(w, "mode: %s\n\n", mode)

	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "GROUP\tSTATE\tACTIVE\tSINCE\tSTANDBY CARRYING FOR\tREDUNDANCY")
	for _, g := range st.Groups {
		since, carrying := "-", "-"
		if g.Since != nil {
			since = now.Sub(*g.Since).Round(time.Second).String()
		}
		if g.StandbyActiveSince != nil {
			carrying = now.Sub(*g.StandbyActiveSince).Round(time.Second).String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", terminalSafe(g.Name), terminalSafe(string(g.State)), orDash(g.Active), since, carrying, orDash(g.Redundancy))
	}
	_ = tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tGROUP\tROLE\tSTATE\tIDLE\tREADY\tREASON")
	for _, n := range st.Nodes {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%t\t%s\t%s\n", terminalSafe(n.Name), terminalSafe(n.Group), terminalSafe(n.Role),
			terminalSafe(nodeStateText(n)), n.Idle, readinessText(n.Readiness, now), orDash(n.Reason))
	}
	_ = tw.Flush()
	if len(st.Transitions) > 0 {
		fmt.Fprintln(w, "\nRecent transitions:")
		tr := append([]watcher.Transition(nil), st.Transitions...)
		sort.SliceStable(tr, func(i, j int) bool { return tr[i].Time.After(tr[j].Time) })
		for i, t := range tr {
			if i == 10 {
				break
			}
			fmt.Fprintf(w, "  %s  %s: %s -> %s (active %s)\n", t.Time.Format(time.RFC3339), terminalSafe(t.Group),
				terminalSafe(string(t.From)), terminalSafe(string(t.To)), orDash(t.Active))
		}
	}
}

// orDash is terminalSafe that shows an empty value as "-".
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return terminalSafe(s)
}

// terminalSafe escapes, the way strconv.Quote does, what a terminal would
// act on rather than show: C0 and C1 controls and DEL (escape sequences,
// carriage returns that overwrite a line), Unicode bidirectional controls
// (U+202E reverses the text after it), line and paragraph separators and
// bytes that are not UTF-8. Printable text, in any script, stays as it is.
func terminalSafe(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) || unicode.In(r, unicode.Zl, unicode.Zp):
			q := strconv.QuoteRuneToASCII(r) // '\x1b', '\r', '\u202e'
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// envValue is the value of key in environ, or def when it is unset or empty.
func envValue(environ []string, key, def string) string {
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key && v != "" {
			return v
		}
	}
	return def
}

// readinessText is a standby's readiness in one cell: "yes", or "no: why"
// ("-" for a primary, which has none).
func readinessText(r *watcher.Readiness, now time.Time) string {
	switch {
	case r == nil:
		return "-"
	case r.Ready:
		return "yes"
	}
	text := "no: " + terminalSafe(r.Why)
	if r.DisconnectedSince != nil {
		text += ", disconnected for " + now.Sub(*r.DisconnectedSince).Round(time.Second).String()
	}
	if f := r.LastLaunchFailure; f != nil {
		reason := f.Reason
		if len(reason) > 80 {
			reason = strings.ToValidUTF8(reason[:80], "") + "…"
		}
		text += ", last launch failed " + now.Sub(f.Seen).Round(time.Second).String() + " ago: " + terminalSafe(reason)
	}
	return text
}

// nodeStateText is a node's state, with who holds it when held.
func nodeStateText(n watcher.NodeStatus) string {
	if n.HeldBy != "" {
		return string(n.State) + " (by " + n.HeldBy + ")"
	}
	return string(n.State)
}
