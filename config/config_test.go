package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/agent"
)

func files(m map[string]string) func(string) ([]byte, error) {
	return func(name string) ([]byte, error) {
		if v, ok := m[name]; ok {
			return []byte(v), nil
		}
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
}

func TestLoadDefaults(t *testing.T) {
	c, err := Load([]string{"JENKINS_URL=https://ci.example.com/jenkins/"}, files(nil))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.JenkinsURL.String(); got != "https://ci.example.com/jenkins" {
		t.Errorf("URL = %q", got)
	}
	if c.JenkinsTimeout != 10*time.Second || c.Schedule != "@every 10s" || c.FailoverAfter != 2 ||
		c.FailbackAfter != 6 || c.StandbyWait != 3 || c.Failback != FailbackAuto || c.DryRun ||
		c.ListenAddr != ":9723" || c.HealthAddr != "" || c.LogFormat != "json" || c.LogLevel.String() != "INFO" || c.KeepWarm != 0 {
		t.Errorf("defaults: %+v", c)
	}
	if len(c.Groups) != 1 || c.Groups[0].Primary != "slave01" || strings.Join(c.Groups[0].Standbys, ",") != "slave02" {
		t.Errorf("default groups: %+v", c.Groups)
	}
}

// The health listener is optional; set, it must be an address of its own.
func TestLoadHealthAddr(t *testing.T) {
	for _, addr := range []string{":9724", "127.0.0.1:9724", "[::1]:9724", "127.0.0.1:0"} {
		c, err := Load([]string{"JENKINS_URL=http://j:8080", "WATCHDOG_HEALTH_ADDR=" + addr}, files(nil))
		if err != nil || c.HealthAddr != addr {
			t.Errorf("WATCHDOG_HEALTH_ADDR=%s: %v, %+v", addr, err, c)
		}
	}
	// Other hosts on the same port are for the bind to judge.
	if _, err := Load([]string{"JENKINS_URL=http://j:8080", "WATCHDOG_LISTEN_ADDR=127.0.0.1:9723", "WATCHDOG_HEALTH_ADDR=127.0.0.2:9723"}, files(nil)); err != nil {
		t.Errorf("two hosts, one port: %v", err)
	}
}

func TestLoadTokenFile(t *testing.T) {
	c, err := Load([]string{"JENKINS_URL=http://j:8080", "JENKINS_USER=w", "JENKINS_API_TOKEN_FILE=/run/secrets/t"},
		files(map[string]string{"/run/secrets/t": "abc123\n"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.JenkinsToken.Reveal() != "abc123" {
		t.Errorf("token = %q", c.JenkinsToken.Reveal())
	}
	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c.JenkinsToken), c.JenkinsToken.String()} {
		if strings.Contains(s, "abc123") {
			t.Errorf("token printed: %s", s)
		}
	}
}

func TestLoadErrorsNameTheVariable(t *testing.T) {
	base := []string{"JENKINS_URL=http://jenkins:8080"}
	tests := []struct {
		env  []string
		want string
	}{
		{nil, "JENKINS_URL: required"},
		{[]string{"JENKINS_URL=ftp://x"}, `JENKINS_URL: "ftp://x": scheme must be http or https`},
		{[]string{"JENKINS_URL=::not a url"}, `JENKINS_URL: "::not a url": not a URL`},
		{[]string{"JENKINS_URL=http://"}, `JENKINS_URL: "http://": no host`},
		// A URL without its scheme is echoed, with the fix.
		{[]string{"JENKINS_URL=ci.example.com"}, `JENKINS_URL: "ci.example.com": no scheme; write it in full, such as https://ci.example.com`},
		{[]string{"JENKINS_URL=ci.example.com:8080"}, `JENKINS_URL: "ci.example.com:8080": no scheme; write it in full, such as https://ci.example.com:8080`},
		// What could be a user and token is never echoed.
		{[]string{"JENKINS_URL=watchdog:s3cret@ci.example.com"}, `JENKINS_URL: "xxxxx@ci.example.com": no scheme`},
		{[]string{"JENKINS_URL=http://u:p@jenkins"}, "JENKINS_URL: must not carry credentials"},
		{append(base, "JENKINS_API_TOKEN=a", "JENKINS_API_TOKEN_FILE=/t"), "JENKINS_API_TOKEN_FILE: set either"},
		{append(base, "JENKINS_API_TOKEN_FILE=/nope"), "JENKINS_USER: required with an API token"},
		{append(base, "WATCHDOG_STARTUP_PATIENCE=-1m"), "WATCHDOG_STARTUP_PATIENCE: \"-1m\""},
		{append(base, "WATCHDOG_STARTUP_PATIENCE=soon"), "WATCHDOG_STARTUP_PATIENCE: \"soon\""},
		{append(base, "WATCHDOG_KEEP_WARM=30s"), "WATCHDOG_KEEP_WARM: \"30s\""},
		{append(base, "WATCHDOG_KEEP_WARM=often"), "WATCHDOG_KEEP_WARM: \"often\""},
		{append(base, "JENKINS_API_TOKEN_FILE=/empty"), "JENKINS_API_TOKEN_FILE: \"/empty\" is empty"},
		{append(base, "JENKINS_CA_FILE=/nope"), "JENKINS_CA_FILE: cannot read"},
		{append(base, "JENKINS_API_TOKEN=abc"), "JENKINS_USER: required with an API token"},
		{append(base, "JENKINS_TIMEOUT=0s"), "JENKINS_TIMEOUT: 0s: must be positive"},
		{append(base, "JENKINS_TIMEOUT=soon"), "JENKINS_TIMEOUT"},
		{append(base, "WATCHDOG_PAIRS=slave01"), "WATCHDOG_PAIRS: \"slave01\": a group needs a primary and at least one standby"},
		{append(base, "WATCHDOG_PAIRS=a:b,b:c"), "WATCHDOG_PAIRS: \"b:c\": node \"b\" is already in group \"a\""},
		{append(base, "WATCHDOG_PAIRS=a:a"), "WATCHDOG_PAIRS: \"a:a\": node \"a\" appears twice"},
		{append(base, "WATCHDOG_PAIRS=a:(built-in)"), "WATCHDOG_PAIRS"},
		{append(base, "WATCHDOG_PAIRS=a:b,"), "WATCHDOG_PAIRS: group 2 is empty"},
		{append(base, "WATCHDOG_PAIRS=a:"+strings.Repeat("é", 129)), "is 258 bytes long, more than the 256"},
		{append(base, "WATCHDOG_SCHEDULE=every tuesday"), "WATCHDOG_SCHEDULE"},
		{append(base, "WATCHDOG_SCHEDULE=@every 0s"), "WATCHDOG_SCHEDULE: \"@every 0s\": polls must be at least 1s apart"},
		{append(base, "WATCHDOG_FAILOVER_AFTER=0"), "WATCHDOG_FAILOVER_AFTER: 0: must be 1 or more"},
		{append(base, "WATCHDOG_FAILBACK_AFTER=-3"), "WATCHDOG_FAILBACK_AFTER"},
		{append(base, "WATCHDOG_FAILBACK_AFTER=two"), "WATCHDOG_FAILBACK_AFTER: \"two\" is not a whole number"},
		{append(base, "WATCHDOG_STANDBY_WAIT=0"), "WATCHDOG_STANDBY_WAIT"},
		{append(base, "WATCHDOG_FAILBACK=sometimes"), "WATCHDOG_FAILBACK: \"sometimes\""},
		{append(base, "WATCHDOG_FAILBACK_WINDOW=mun-fri 08:00-17:00"), "WATCHDOG_FAILBACK_WINDOW: unknown day \"mun\""},
		{append(base, "WATCHDOG_FAILBACK_WINDOW=mon-fri 08:00-17:00 Europe/Pariss"), "WATCHDOG_FAILBACK_WINDOW: unknown time zone \"Europe/Pariss\""},
		{append(base, "WATCHDOG_FAILBACK_WINDOW=mon-fri"), "WATCHDOG_FAILBACK_WINDOW: \"mon-fri\" has no time range"},
		{append(base, "WATCHDOG_DRY_RUN=maybe"), "WATCHDOG_DRY_RUN"},
		{append(base, "WATCHDOG_LISTEN_ADDR=9723"), "WATCHDOG_LISTEN_ADDR"},
		{append(base, "WATCHDOG_HEALTH_ADDR=9724"), "WATCHDOG_HEALTH_ADDR: \"9724\": want host:port"},
		{append(base, "WATCHDOG_HEALTH_ADDR=:health"), "WATCHDOG_HEALTH_ADDR: \":health\": the port must be a number"},
		{append(base, "WATCHDOG_HEALTH_ADDR=:70000"), "WATCHDOG_HEALTH_ADDR"},
		{append(base, "WATCHDOG_HEALTH_ADDR=:9723"), "WATCHDOG_HEALTH_ADDR: \":9723\": the same port as WATCHDOG_LISTEN_ADDR"},
		{append(base, "WATCHDOG_LISTEN_ADDR=127.0.0.1:9000", "WATCHDOG_HEALTH_ADDR=127.0.0.1:9000"), "WATCHDOG_HEALTH_ADDR"},
		{append(base, "WATCHDOG_WEB_CONFIG_FILE=/nope"), "WATCHDOG_WEB_CONFIG_FILE: cannot read \"/nope\""},
		{append(base, "LOG_LEVEL=loud"), "LOG_LEVEL"},
		{append(base, "LOG_FORMAT=xml"), "LOG_FORMAT"},
	}
	fsys := files(map[string]string{"/t": "x", "/empty": "\n"})
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			c, err := Load(tt.env, fsys)
			if err == nil {
				t.Fatalf("Load(%v) = %+v, want an error", tt.env, c)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Errorf("error %T is not a *config.Error", err)
			}
		})
	}
}

func TestLoadReportsEveryError(t *testing.T) {
	_, err := Load([]string{"WATCHDOG_FAILOVER_AFTER=0", "LOG_FORMAT=xml"}, files(nil))
	for _, v := range []string{"JENKINS_URL", "WATCHDOG_FAILOVER_AFTER", "LOG_FORMAT"} {
		if err == nil || !strings.Contains(err.Error(), v) {
			t.Errorf("error %v does not name %s", err, v)
		}
	}
}

// No window, or an empty one, allows failback at any time; a window is
// read in its zone; with manual failback it is accepted and has no effect.
func TestLoadFailbackWindow(t *testing.T) {
	base := []string{"JENKINS_URL=http://jenkins:8080"}
	tests := []struct {
		env  []string
		want string // the window as String writes it; "" is any time
	}{
		{base, ""},
		{append(base, "WATCHDOG_FAILBACK_WINDOW="), ""},
		{append(base, "WATCHDOG_FAILBACK_WINDOW=mon-fri 8:00-17:00 Europe/Paris"), "mon-fri 08:00-17:00 Europe/Paris"},
		{append(base, "WATCHDOG_FAILBACK_WINDOW=22:00-02:00"), "22:00-02:00 UTC"},
		{append(base, "WATCHDOG_FAILBACK=manual", "WATCHDOG_FAILBACK_WINDOW=sat,sun 00:00-24:00"), "sat,sun 00:00-24:00 UTC"},
	}
	for _, tt := range tests {
		c, err := Load(tt.env, files(nil))
		if err != nil {
			t.Errorf("Load(%v): %v", tt.env, err)
			continue
		}
		if got := c.FailbackWindow.String(); got != tt.want || c.FailbackWindow.IsAlways() != (tt.want == "") {
			t.Errorf("Load(%v): FailbackWindow = %q, want %q", tt.env, got, tt.want)
		}
	}
	c, err := Load(append(base, "WATCHDOG_FAILBACK_WINDOW=mon-fri 08:00-17:00 Europe/Paris"), files(nil))
	if err != nil {
		t.Fatal(err)
	}
	if monday := time.Date(2026, 3, 2, 7, 30, 0, 0, time.UTC); !c.FailbackWindow.Contains(monday) {
		t.Errorf("%s does not contain Monday 08:30 in Paris", c.FailbackWindow)
	}
}

func TestParsePairs(t *testing.T) {
	g, err := ParsePairs(" slave01 : slave02 : slave03 , build-a:build-b,agent 01:ağent 02")
	if err != nil {
		t.Fatal(err)
	}
	// The longest name the Jenkins adapter keeps in a snapshot.
	if _, err := ParsePairs("a:" + strings.Repeat("b", agent.MaxNameBytes)); err != nil {
		t.Errorf("a name of agent.MaxNameBytes refused: %v", err)
	}
	got := fmt.Sprint(g)
	want := "[{slave01 [slave02 slave03]} {build-a [build-b]} {agent 01 [ağent 02]}]"
	if got != want {
		t.Errorf("ParsePairs = %s, want %s", got, want)
	}
}

// A bcrypt hash of "fakepassword", as the exporter-toolkit documents.
const fakeHash = "$2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi"

// The web configuration file is checked at start with the toolkit's own
// validation, certificate files included, and a mistake names the variable.
func TestWebConfigFileIsValidatedAtStart(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.yml", "basic_auth_users:\n  prom: "+fakeHash+"\n")
	c, err := Load([]string{"JENKINS_URL=http://j:8080", "WATCHDOG_WEB_CONFIG_FILE=" + good}, os.ReadFile)
	if err != nil {
		t.Fatal(err)
	}
	if c.WebConfigFile != good {
		t.Errorf("WebConfigFile = %q", c.WebConfigFile)
	}
	if c, err := Load([]string{"JENKINS_URL=http://j:8080"}, os.ReadFile); err != nil || c.WebConfigFile != "" {
		t.Errorf("no web config: %v %q", err, c.WebConfigFile)
	}

	for _, tt := range []struct{ name, content, want string }{
		{"plain-password.yml", "basic_auth_users:\n  prom: secret-pw\n", "bcrypt"},
		{"unknown-field.yml", "basic_auth_user:\n  prom: " + fakeHash + "\n", "basic_auth_user"},
		{"missing-cert.yml", "tls_server_config:\n  cert_file: nope.crt\n  key_file: nope.key\n", "nope.crt"},
		{"no-key.yml", "tls_server_config:\n  cert_file: nope.crt\n", "key"},
		{"bad-client-auth.yml", "tls_server_config:\n  client_auth_type: Sometimes\n", "WATCHDOG_WEB_CONFIG_FILE"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := write(tt.name, tt.content)
			_, err := Load([]string{"JENKINS_URL=http://j:8080", "WATCHDOG_WEB_CONFIG_FILE=" + p}, os.ReadFile)
			var ce *Error
			if !errors.As(err, &ce) || ce.Var != "WATCHDOG_WEB_CONFIG_FILE" {
				t.Fatalf("error %v does not name WATCHDOG_WEB_CONFIG_FILE", err)
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), p) {
				t.Errorf("error %q does not name the file and %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "secret-pw") {
				t.Errorf("error %q shows the password", err)
			}
		})
	}
}

// The README's configuration table is generated from the declarations;
// this keeps the committed copy in step.
// On a first install the token file exists only once Jenkins runs: a
// missing file is waited for by the client, not a configuration error.
func TestMissingTokenFileIsWaitedFor(t *testing.T) {
	c, err := Load([]string{"JENKINS_URL=http://jenkins:8080", "JENKINS_USER=w", "JENKINS_API_TOKEN_FILE=/run/secrets/none"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.JenkinsToken.IsSet() || c.JenkinsTokenFile != "/run/secrets/none" {
		t.Errorf("token %v, file %q", c.JenkinsToken.IsSet(), c.JenkinsTokenFile)
	}
}

func TestReadmeTableIsCurrent(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), MarkdownTable()) {
		t.Errorf("README.md's configuration table is stale; replace it with:\n%s", MarkdownTable())
	}
}

func TestUsageListsEveryVariable(t *testing.T) {
	u := Usage()
	for _, v := range Variables() {
		if !strings.Contains(u, v.Name) || v.Help == "" {
			t.Errorf("variable %s missing from usage or undocumented", v.Name)
		}
	}
}

// WATCHDOG_PAIRS set but empty is a mistake, not a request for the default;
// only an unset variable gets the default. The last entry of the
// environment wins, as for every other variable.
func TestPairsSetButEmpty(t *testing.T) {
	base := []string{"JENKINS_URL=http://jenkins:8080"}
	for _, tt := range []struct {
		env     []string
		wantErr bool
		primary string
	}{
		{base, false, "slave01"},
		{append(base, "WATCHDOG_PAIRS="), true, ""},
		{append(base, "WATCHDOG_PAIRS=a:b", "WATCHDOG_PAIRS="), true, ""},
		{append(base, "WATCHDOG_PAIRS=", "WATCHDOG_PAIRS=a:b"), false, "a"},
	} {
		c, err := Load(tt.env, files(nil))
		if tt.wantErr {
			var ce *Error
			if !errors.As(err, &ce) || ce.Var != "WATCHDOG_PAIRS" || !strings.Contains(err.Error(), "WATCHDOG_PAIRS: set but empty") {
				t.Errorf("%v: error %v, want WATCHDOG_PAIRS: set but empty", tt.env, err)
			}
			continue
		}
		if err != nil || len(c.Groups) != 1 || c.Groups[0].Primary != tt.primary {
			t.Errorf("%v: %v, groups %+v, want primary %s", tt.env, err, c, tt.primary)
		}
	}
}

// A refused JENKINS_URL is echoed so the reader sees what was read, but
// never what could be a token before an '@'.
func TestRefusedJenkinsURLEchoesNoCredentials(t *testing.T) {
	for _, v := range []string{"watchdog:s3cret@ci.example.com", "ftp://watchdog:s3cret@ci.example.com", "s3cret@:x y"} {
		_, err := Load([]string{"JENKINS_URL=" + v}, files(nil))
		if err == nil || strings.Contains(err.Error(), "s3cret") || !strings.Contains(err.Error(), "JENKINS_URL") {
			t.Errorf("JENKINS_URL=%s: %v", v, err)
		}
	}
}

func TestLoadKeepWarm(t *testing.T) {
	c, err := Load([]string{"JENKINS_URL=http://j:8080", "WATCHDOG_KEEP_WARM=5m"}, files(nil))
	if err != nil || c.KeepWarm != 5*time.Minute {
		t.Errorf("WATCHDOG_KEEP_WARM=5m: %v, %v", err, c)
	}
}
