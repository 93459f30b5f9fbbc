// Package config reads and validates the watchdog's configuration. The
// environment is the only source: every variable is declared once, on the
// fields of rawConfig, and the help text and the README table are generated
// from those declarations so the three cannot drift apart.
package config

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"
	"github.com/prometheus/exporter-toolkit/web"
	"github.com/robfig/cron/v3"

	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/timewindow"
)

// FailbackMode says whether the watchdog returns a standby to standby by
// itself once the primary is back.
type FailbackMode string

const (
	FailbackAuto   FailbackMode = "auto"
	FailbackManual FailbackMode = "manual"
)

// Secret holds a credential. Its String and Format never reveal the value,
// so a Config can be logged or printed with %v without leaking it.
type Secret struct{ value string }

// NewSecret wraps a credential.
func NewSecret(v string) Secret { return Secret{value: v} }

// Reveal returns the credential for the one place that must send it.
func (s Secret) Reveal() string { return s.value }

// IsSet reports whether a credential was configured.
func (s Secret) IsSet() bool { return s.value != "" }

func (s Secret) String() string {
	if s.value == "" {
		return ""
	}
	return "[redacted]"
}

// GoString keeps %#v from printing the value too.
func (s Secret) GoString() string { return s.String() }

// LogValue keeps slog from printing the value.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// Group is one failover group: a primary and its standbys in priority order.
type Group struct {
	Primary  string
	Standbys []string
}

// Name identifies the group in metrics and logs: the primary's name.
func (g Group) Name() string { return g.Primary }

// Nodes returns the primary followed by the standbys.
func (g Group) Nodes() []string { return append([]string{g.Primary}, g.Standbys...) }

// Config is the validated configuration.
type Config struct {
	JenkinsURL   *url.URL
	JenkinsUser  string
	JenkinsToken Secret
	// JenkinsTokenFile is where the token is read from; it may not exist
	// yet on a first install (JenkinsToken is then unset).
	JenkinsTokenFile string
	JenkinsCAFile    string
	JenkinsCA        []byte // the CA file's content, read once
	JenkinsTimeout   time.Duration

	Groups   []Group
	Schedule string
	// Cron is Schedule parsed, once; Interval the time between two polls
	// it gives.
	Cron          cron.Schedule
	Interval      time.Duration
	FailoverAfter int
	FailbackAfter int
	StandbyWait   int
	Failback      FailbackMode
	DryRun        bool
	// StartupPatience is how long a primary that has not connected since
	// the controller started is not counted as down.
	StartupPatience time.Duration
	// KeepWarm is how often, at most, a parked launchable standby that
	// stays disconnected is launched; 0 never.
	KeepWarm time.Duration

	// FailbackWindow confines automatic failback to certain days and
	// hours; the zero Window allows it at any time.
	FailbackWindow timewindow.Window

	ListenAddr    string
	WebConfigFile string // exporter-toolkit web configuration: TLS, client certificates, basic auth
	// HealthAddr, when set, serves the health endpoints again on a plain
	// HTTP listener of their own, with no authentication.
	HealthAddr string

	LogLevel  slog.Level
	LogFormat string
}

// rawConfig declares every variable. Values are read as strings and
// converted by Load, so that every error can name the variable to fix.
type rawConfig struct {
	JenkinsURL       string `env:"JENKINS_URL" default:"required" help:"controller base URL, http or https, may carry a path prefix (https://ci.example.com/jenkins)"`
	JenkinsUser      string `env:"JENKINS_USER" help:"user for HTTP Basic authentication"`
	JenkinsToken     string `env:"JENKINS_API_TOKEN" help:"API token of that user (prefer JENKINS_API_TOKEN_FILE)"`
	JenkinsTokenFile string `env:"JENKINS_API_TOKEN_FILE" help:"file holding the API token, trailing newline trimmed; setting both token variables is an error"`
	JenkinsCAFile    string `env:"JENKINS_CA_FILE" help:"extra PEM CA bundle trusted for https, on top of the system roots"`
	JenkinsTimeout   string `env:"JENKINS_TIMEOUT" envDefault:"10s" help:"limit for each request to Jenkins"`

	Pairs         string `env:"WATCHDOG_PAIRS" envDefault:"slave01:slave02" help:"groups, comma-separated; each a colon-separated priority list: primary first, then one or more standbys (slave01:slave02:slave03,build-a:build-b)"`
	Schedule      string `env:"WATCHDOG_SCHEDULE" envDefault:"@every 10s" help:"cron spec that triggers a poll (robfig/cron: @every 10s, */1 * * * *)"`
	FailoverAfter string `env:"WATCHDOG_FAILOVER_AFTER" envDefault:"2" help:"consecutive polls the primary must read offline before failover"`
	FailbackAfter string `env:"WATCHDOG_FAILBACK_AFTER" envDefault:"6" help:"consecutive polls the primary must read online before failback"`
	StandbyWait   string `env:"WATCHDOG_STANDBY_WAIT" envDefault:"3" help:"polls a standby that was asked to come online gets before it is parked again and the next standby is tried"`
	Failback      string `env:"WATCHDOG_FAILBACK" envDefault:"auto" help:"auto, or manual (never switch back by itself: an operator parks the standby)"`
	DryRun        string `env:"WATCHDOG_DRY_RUN" envDefault:"false" help:"decide and report, never change Jenkins"`

	StartupPatience string `env:"WATCHDOG_STARTUP_PATIENCE" envDefault:"3m" help:"how long a primary that has not connected since the controller started is not counted as down; ends at once on a failed launch or a broken channel (sized for the SSH launcher: 10 tries 15s apart)"`

	KeepWarm string `env:"WATCHDOG_KEEP_WARM" envDefault:"0" help:"launch a parked SSH (launchable) standby that stays disconnected at most this often (such as 5m), while no failover is under way; it stays parked and takes no builds; 0 never (Jenkins' Always retention strategy already relaunches agents)"`

	FailbackWindow string `env:"WATCHDOG_FAILBACK_WINDOW" help:"weekly window for automatic failback, [days] HH:MM-HH:MM [time zone] (\"mon-fri 08:00-17:00 Europe/Paris\"; syntax in docs/decisions.md); outside it the group waits in failback_pending; empty means any time"`

	ListenAddr    string `env:"WATCHDOG_LISTEN_ADDR" envDefault:":9723" help:"HTTP address for the status page, /metrics, /status and health"`
	WebConfigFile string `env:"WATCHDOG_WEB_CONFIG_FILE" help:"Prometheus exporter-toolkit web configuration file (TLS, client certificates, bcrypt basic_auth_users); applies to every path of WATCHDOG_LISTEN_ADDR, re-read on each request; unset serves plain HTTP with no authentication"`
	HealthAddr    string `env:"WATCHDOG_HEALTH_ADDR" help:"second HTTP address (such as :9724) that serves /livez, /healthz and /readyz only, in plain HTTP with no authentication whatever WATCHDOG_WEB_CONFIG_FILE says, for probes; empty serves them on WATCHDOG_LISTEN_ADDR only"`
	LogLevel      string `env:"LOG_LEVEL" envDefault:"info" help:"debug, info, warn or error"`
	LogFormat     string `env:"LOG_FORMAT" envDefault:"json" help:"json or text"`
}

// Error is a configuration error naming the variable to fix.
type Error struct {
	Var string
	Msg string
}

func (e *Error) Error() string { return e.Var + ": " + e.Msg }

func varErr(name, format string, args ...any) error {
	return &Error{Var: name, Msg: fmt.Sprintf(format, args...)}
}

// Load builds a Config from environment entries ("KEY=value"). readFile
// reads the files the configuration names; pass os.ReadFile.
func Load(environ []string, readFile func(string) ([]byte, error)) (*Config, error) {
	var raw rawConfig
	if err := env.ParseWithOptions(&raw, env.Options{Environment: env.ToMap(environ)}); err != nil {
		return nil, fmt.Errorf("reading environment: %w", err)
	}
	if readFile == nil {
		readFile = os.ReadFile
	}
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	c := &Config{JenkinsUser: raw.JenkinsUser, JenkinsCAFile: raw.JenkinsCAFile, Schedule: raw.Schedule}

	var err error
	c.JenkinsURL, err = parseJenkinsURL(raw.JenkinsURL)
	add(err)
	c.JenkinsToken, err = loadToken(raw.JenkinsToken, raw.JenkinsTokenFile, readFile)
	add(err)
	c.JenkinsTokenFile = raw.JenkinsTokenFile
	if (c.JenkinsToken.IsSet() || raw.JenkinsTokenFile != "") && strings.TrimSpace(raw.JenkinsUser) == "" {
		add(varErr("JENKINS_USER", "required with an API token: a token belongs to a user"))
	}
	if raw.JenkinsCAFile != "" {
		if c.JenkinsCA, err = readFile(raw.JenkinsCAFile); err != nil {
			add(varErr("JENKINS_CA_FILE", "cannot read %q: %v", raw.JenkinsCAFile, unwrapPathError(err)))
		} else if !x509.NewCertPool().AppendCertsFromPEM(c.JenkinsCA) {
			add(varErr("JENKINS_CA_FILE", "%q holds no PEM certificate", raw.JenkinsCAFile))
		}
	}
	c.JenkinsTimeout, err = positiveDuration("JENKINS_TIMEOUT", raw.JenkinsTimeout)
	add(err)
	if v, ok := lookup(environ, "WATCHDOG_PAIRS"); ok && v == "" {
		// env gives the default for a set but empty variable; here that
		// would quietly watch slave01:slave02 on a misconfigured controller.
		add(varErr("WATCHDOG_PAIRS", "set but empty: want at least one group such as slave01:slave02 (unset it for the default)"))
	} else if c.Groups, err = ParsePairs(raw.Pairs); err != nil {
		add(&Error{Var: "WATCHDOG_PAIRS", Msg: err.Error()})
	}
	if c.Cron, err = cron.ParseStandard(raw.Schedule); err != nil {
		add(varErr("WATCHDOG_SCHEDULE", "%q is not a cron spec: %v", raw.Schedule, err))
	} else {
		t0 := c.Cron.Next(time.Now())
		c.Interval = c.Cron.Next(t0).Sub(t0)
		if every, ok := strings.CutPrefix(strings.TrimSpace(raw.Schedule), "@every "); ok {
			// cron quietly rounds anything under a second up to a second.
			if d, err := time.ParseDuration(strings.TrimSpace(every)); err == nil && d < time.Second {
				add(varErr("WATCHDOG_SCHEDULE", "%q: polls must be at least 1s apart", raw.Schedule))
			}
		}
	}
	c.FailoverAfter, err = positiveInt("WATCHDOG_FAILOVER_AFTER", raw.FailoverAfter)
	add(err)
	c.FailbackAfter, err = positiveInt("WATCHDOG_FAILBACK_AFTER", raw.FailbackAfter)
	add(err)
	c.StandbyWait, err = positiveInt("WATCHDOG_STANDBY_WAIT", raw.StandbyWait)
	add(err)
	if d, perr := time.ParseDuration(strings.TrimSpace(raw.StartupPatience)); perr != nil || d < 0 {
		add(varErr("WATCHDOG_STARTUP_PATIENCE", "%q: want a duration of zero or more, such as 3m", raw.StartupPatience))
	} else {
		c.StartupPatience = d
	}
	if d, perr := time.ParseDuration(strings.TrimSpace(raw.KeepWarm)); strings.TrimSpace(raw.KeepWarm) == "0" {
		c.KeepWarm = 0
	} else if perr != nil || d < time.Minute {
		add(varErr("WATCHDOG_KEEP_WARM", "%q: want 0 (never) or a duration of at least 1m, such as 5m", raw.KeepWarm))
	} else {
		c.KeepWarm = d
	}
	switch FailbackMode(strings.ToLower(strings.TrimSpace(raw.Failback))) {
	case FailbackAuto:
		c.Failback = FailbackAuto
	case FailbackManual:
		c.Failback = FailbackManual
	default:
		add(varErr("WATCHDOG_FAILBACK", "%q: want auto or manual", raw.Failback))
	}
	if c.FailbackWindow, err = timewindow.Parse(raw.FailbackWindow); err != nil {
		add(varErr("WATCHDOG_FAILBACK_WINDOW", "%v", err))
	}
	if b, err := strconv.ParseBool(strings.TrimSpace(raw.DryRun)); err != nil {
		add(varErr("WATCHDOG_DRY_RUN", "%q: want true or false", raw.DryRun))
	} else {
		c.DryRun = b
	}
	c.ListenAddr = raw.ListenAddr
	if _, _, err := net.SplitHostPort(raw.ListenAddr); err != nil {
		add(varErr("WATCHDOG_LISTEN_ADDR", "%q: want host:port or :port", raw.ListenAddr))
	}
	c.HealthAddr, err = checkHealthAddr(raw.HealthAddr, raw.ListenAddr)
	add(err)
	c.WebConfigFile, err = checkWebConfig(raw.WebConfigFile, readFile)
	add(err)
	if err := c.LogLevel.UnmarshalText([]byte(raw.LogLevel)); err != nil {
		add(varErr("LOG_LEVEL", "%q: want debug, info, warn or error", raw.LogLevel))
	}
	switch f := strings.ToLower(raw.LogFormat); f {
	case "json", "text":
		c.LogFormat = f
	default:
		add(varErr("LOG_FORMAT", "%q: want json or text", raw.LogFormat))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return c, nil
}

// lookup finds a variable in the raw environment; the last entry wins, as
// in env.ToMap.
func lookup(environ []string, name string) (value string, ok bool) {
	for _, kv := range environ {
		if k, v, found := strings.Cut(kv, "="); found && k == name {
			value, ok = v, true
		}
	}
	return value, ok
}

func parseJenkinsURL(s string) (*url.URL, error) {
	const name = "JENKINS_URL"
	if strings.TrimSpace(s) == "" {
		return nil, varErr(name, "required: the controller's base URL, such as https://ci.example.com/ (no Jenkins at hand? `jenkins-failover-watchdog demo` runs a failover against a built-in fake controller)")
	}
	shown := shownURL(s)
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil {
		return nil, varErr(name, "%s: not a URL; want http://host[:port][/prefix] or https://...", shown)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		if !strings.Contains(s, "://") {
			return nil, varErr(name, "%s: no scheme; write it in full, such as https://%s", shown, strings.TrimSpace(strings.Trim(shown, `"`)))
		}
		return nil, varErr(name, "%s: scheme must be http or https", shown)
	}
	if u.Host == "" {
		return nil, varErr(name, "%s: no host", shown)
	}
	if u.User != nil {
		// The URL ends up in logs and errors; credentials must not.
		return nil, varErr(name, "must not carry credentials: use JENKINS_USER and JENKINS_API_TOKEN_FILE")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, varErr(name, "%s: must not have a query or fragment", shown)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawPath = ""
	return u, nil
}

// shownURL quotes a refused JENKINS_URL for its error message, without
// anything before an '@': that part may be a user and token.
func shownURL(s string) string {
	if i := strings.LastIndex(s, "@"); i >= 0 {
		s = "xxxxx@" + s[i+1:]
	}
	return strconv.Quote(s)
}

func loadToken(inline, file string, readFile func(string) ([]byte, error)) (Secret, error) {
	switch {
	case inline != "" && file != "":
		return Secret{}, varErr("JENKINS_API_TOKEN_FILE", "set either JENKINS_API_TOKEN or JENKINS_API_TOKEN_FILE, not both")
	case file != "":
		// A file on disk is read only by ReadTokenFile, whatever reader
		// the caller passed: a FIFO or a device named here must not hang
		// or flood the start. Tests pass readers of files not on disk.
		read := readFile
		if _, statErr := os.Stat(file); statErr == nil {
			read = ReadTokenFile
		}
		b, err := read(file)
		if errors.Is(err, fs.ErrNotExist) {
			// On a first install the token exists only once Jenkins
			// runs: the client waits for the file (ReadTokenFile).
			return Secret{}, nil
		}
		if err != nil {
			return Secret{}, varErr("JENKINS_API_TOKEN_FILE", "cannot read %q: %v", file, unwrapPathError(err))
		}
		tok, err := ParseTokenFile(b)
		if err != nil {
			return Secret{}, varErr("JENKINS_API_TOKEN_FILE", "%q %v", file, err)
		}
		return tok, nil
	default:
		return NewSecret(inline), nil
	}
}

// ParseTokenFile reads a token file's content: one line, trailing newline
// trimmed.
func ParseTokenFile(b []byte) (Secret, error) {
	tok := strings.TrimRight(string(b), "\r\n")
	if tok == "" {
		return Secret{}, errors.New("is empty")
	}
	if strings.ContainsAny(tok, "\r\n") {
		return Secret{}, errors.New("holds more than one line")
	}
	return NewSecret(tok), nil
}

// checkHealthAddr validates the health listener's address: empty, or a
// host:port other than the main listener's.
func checkHealthAddr(addr, listen string) (string, error) {
	const name = "WATCHDOG_HEALTH_ADDR"
	if addr == "" {
		return "", nil
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", varErr(name, "%q: want host:port or :port, such as :9724", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return "", varErr(name, "%q: the port must be a number from 0 to 65535", addr)
	}
	if lhost, lport, err := net.SplitHostPort(listen); err == nil && lport == port && lport != "0" &&
		(host == lhost || host == "" || lhost == "") {
		return "", varErr(name, "%q: the same port as WATCHDOG_LISTEN_ADDR %q; give the health endpoints a port of their own", addr, listen)
	}
	return addr, nil
}

// checkWebConfig validates the web configuration file the way the server
// will read it, so that a mistake stops the watchdog at start rather than
// on the first request.
func checkWebConfig(file string, readFile func(string) ([]byte, error)) (string, error) {
	const name = "WATCHDOG_WEB_CONFIG_FILE"
	if file == "" {
		return "", nil
	}
	if _, err := readFile(file); err != nil {
		return "", varErr(name, "cannot read %q: %v", file, unwrapPathError(err))
	}
	// The toolkit reads the file, and the certificate, key and CA files
	// it names, from disk itself.
	if err := web.Validate(file); err != nil {
		return "", varErr(name, "%q: %v", file, err)
	}
	return file, nil
}

func positiveInt(name, s string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return 0, varErr(name, "%q is not a whole number", s)
	}
	if n < 1 {
		return 0, varErr(name, "%d: must be 1 or more", n)
	}
	return n, nil
}

func positiveDuration(name, s string) (time.Duration, error) {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return 0, varErr(name, "%q is not a duration such as 10s", s)
	}
	if d <= 0 {
		return 0, varErr(name, "%s: must be positive", d)
	}
	return d, nil
}

// unwrapPathError drops the path from an *os.PathError: the caller names
// the file already.
func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
