package deploycheck

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// The subset of the compose file format this lab uses. Decoded strictly, so
// a key outside it (a typo, or a feature Debian's docker-compose 1.29 cannot
// read) fails here and must be added on purpose.
type composeFile struct {
	Services map[string]composeService `json:"services"`
	Secrets  map[string]struct {
		File string `json:"file"`
	} `json:"secrets"`
	Volumes map[string]any `json:"volumes"`
}

type composeService struct {
	Build *struct {
		Context    string            `json:"context"`
		Dockerfile string            `json:"dockerfile,omitempty"`
		Args       map[string]string `json:"args,omitempty"`
	} `json:"build,omitempty"`
	Image       string            `json:"image"`
	Hostname    string            `json:"hostname,omitempty"`
	Command     []string          `json:"command,omitempty"`
	Environment map[string]string `json:"environment,omitempty"`
	EnvFile     []string          `json:"env_file,omitempty"`
	Ports       []string          `json:"ports,omitempty"`
	Volumes     []string          `json:"volumes,omitempty"`
	Secrets     []string          `json:"secrets,omitempty"`
	DependsOn   any               `json:"depends_on,omitempty"`
	Healthcheck *struct {
		Test        []string `json:"test"`
		Interval    string   `json:"interval"`
		Timeout     string   `json:"timeout"`
		Retries     int      `json:"retries"`
		StartPeriod string   `json:"start_period"`
	} `json:"healthcheck,omitempty"`
	Restart     string   `json:"restart,omitempty"`
	ReadOnly    bool     `json:"read_only,omitempty"`
	CapDrop     []string `json:"cap_drop,omitempty"`
	SecurityOpt []string `json:"security_opt,omitempty"`
}

func loadCompose(t *testing.T) composeFile {
	t.Helper()
	var c composeFile
	if !unmarshalYAMLStrict(t, "docker-compose.yml", readRepoFile(t, "docker-compose.yml"), &c) {
		t.FailNow()
	}
	return c
}

// generatedSecrets runs scripts/gen-lab-secrets.sh into a temporary
// directory and returns the names of the files it made.
func generatedSecrets(t *testing.T) map[string]bool {
	t.Helper()
	if _, err := exec.LookPath("ssh-keygen"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("ssh-keygen not installed (Debian: openssh-client); scripts/verify-deploy.sh installs it")
		}
		t.Skip("ssh-keygen not installed (Debian: openssh-client)")
	}
	dir := t.TempDir()
	out, err := exec.Command("bash", repoPath(t, "scripts", "gen-lab-secrets.sh"), dir).CombinedOutput()
	if err != nil {
		t.Fatalf("gen-lab-secrets.sh: %v\n%s", err, out)
	}
	names := map[string]bool{}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		names[e.Name()] = true
	}
	token, err := os.ReadFile(filepath.Join(dir, "watchdog_token"))
	if err != nil {
		t.Fatal(err)
	}
	// Jenkins' ApiTokenStore.addFixedNewToken accepts only "11" + 32 hex.
	if !regexpMatch(`^11[0-9a-f]{32}$`, string(token)) {
		t.Errorf("watchdog_token %q is not in Jenkins' fixed-token format", token)
	}
	return names
}

// TestComposeReferencedFilesExist checks that every file the compose file
// names is there: build contexts and Dockerfiles, bind-mount sources, and the
// secret and env files, which scripts/gen-lab-secrets.sh must produce.
func TestComposeReferencedFilesExist(t *testing.T) {
	c := loadCompose(t)
	generated := generatedSecrets(t)
	secretsDir := "./compose/secrets/"
	checkPath := func(what, p string) {
		if strings.HasPrefix(p, secretsDir) {
			if !generated[strings.TrimPrefix(p, secretsDir)] {
				t.Errorf("%s: %s is not made by scripts/gen-lab-secrets.sh", what, p)
			}
			return
		}
		mustExist(t, what, repoPath(t, p))
	}
	for name, s := range c.Services {
		if s.Build != nil {
			checkPath(name+" build context", s.Build.Context)
			df := s.Build.Dockerfile
			if df == "" {
				df = "Dockerfile"
			}
			checkPath(name+" build dockerfile", filepath.Join(s.Build.Context, df))
		}
		for _, v := range s.Volumes {
			src, _, _ := strings.Cut(v, ":")
			if strings.HasPrefix(src, ".") {
				checkPath(name+" volume", src)
			} else if _, ok := c.Volumes[src]; !ok {
				t.Errorf("%s: named volume %s is not declared", name, src)
			}
		}
		for _, f := range s.EnvFile {
			checkPath(name+" env_file", f)
		}
		for _, sec := range s.Secrets {
			if _, ok := c.Secrets[sec]; !ok {
				t.Errorf("%s: secret %s is not declared", name, sec)
			}
		}
		for _, p := range s.Ports {
			if !strings.HasPrefix(p, "127.0.0.1:") {
				t.Errorf("%s: port %s is published beyond loopback", name, p)
			}
		}
	}
	for name, sec := range c.Secrets {
		checkPath("secret "+name, sec.File)
	}
	for _, need := range []string{"jenkins", "slave01", "slave02", "watchdog", "prometheus", "grafana"} {
		if _, ok := c.Services[need]; !ok {
			t.Errorf("service %s missing", need)
		}
	}
}

// TestComposeWatchdogService checks the watchdog's service against the
// daemon's contract.
func TestComposeWatchdogService(t *testing.T) {
	c := loadCompose(t)
	wd := c.Services["watchdog"]
	for k := range wd.Environment {
		checkEnvName(t, "docker-compose.yml watchdog", k)
	}
	if _, ok := wd.Environment["JENKINS_API_TOKEN"]; ok {
		t.Error("the token must come from a Docker secret (JENKINS_API_TOKEN_FILE)")
	}
	tokenFile := wd.Environment["JENKINS_API_TOKEN_FILE"]
	if !strings.HasPrefix(tokenFile, "/run/secrets/") || !slices.Contains(wd.Secrets, strings.TrimPrefix(tokenFile, "/run/secrets/")) {
		t.Errorf("JENKINS_API_TOKEN_FILE=%q is not one of the service's secrets %v", tokenFile, wd.Secrets)
	}
	if wd.Healthcheck == nil || !slices.Equal(wd.Healthcheck.Test, []string{"CMD", "/jenkins-failover-watchdog", "healthcheck"}) {
		t.Errorf("watchdog healthcheck must run the binary's healthcheck subcommand")
	}
	if wd.Restart != "unless-stopped" {
		t.Errorf("watchdog restart %q, want unless-stopped", wd.Restart)
	}
	deps, _ := wd.DependsOn.(map[string]any)
	jd, _ := deps["jenkins"].(map[string]any)
	if jd["condition"] != "service_healthy" {
		t.Errorf("watchdog must depend on jenkins with condition service_healthy, got %v", wd.DependsOn)
	}
	if c.Services["jenkins"].Healthcheck == nil {
		t.Error("jenkins has no healthcheck, so service_healthy can never be reached")
	}
	if !strings.HasPrefix(wd.Environment["JENKINS_URL"], "http://jenkins:8080") {
		t.Errorf("JENKINS_URL %q does not point at the jenkins service", wd.Environment["JENKINS_URL"])
	}
	pairs := wd.Environment["WATCHDOG_PAIRS"]
	for _, node := range strings.FieldsFunc(pairs, func(r rune) bool { return r == ':' || r == ',' }) {
		if _, ok := c.Services[node]; !ok {
			t.Errorf("WATCHDOG_PAIRS names %s, which is no agent service of the lab", node)
		}
	}
	// The pre-parked standby must carry the watchdog's own tag.
	if tag := parkTag(t); tag == "" {
		t.Log("watcher/node.go has no ParkTag yet; LAB_STANDBY_PARK_MESSAGE not cross-checked")
	} else if msg := c.Services["jenkins"].Environment["LAB_STANDBY_PARK_MESSAGE"]; !strings.Contains(msg, tag) {
		t.Errorf("LAB_STANDBY_PARK_MESSAGE %q lacks the watchdog's park tag %q", msg, tag)
	}
}

// TestComposeJenkinsCasC checks the lab controller's Configuration as Code
// against the compose file: secrets it reads are mounted, the job file it
// loads is mounted, both agents exist, and the watchdog user has only the
// permissions it needs.
func TestComposeJenkinsCasC(t *testing.T) {
	c := loadCompose(t)
	j := c.Services["jenkins"]
	casc := string(readRepoFile(t, "compose/jenkins/casc/jenkins.yaml"))
	var doc map[string]any
	if err := yaml.Unmarshal([]byte(casc), &doc); err != nil {
		t.Fatalf("casc/jenkins.yaml: %v", err)
	}
	for _, key := range []string{"jenkins", "credentials", "security", "unclassified", "jobs"} {
		if _, ok := doc[key]; !ok {
			t.Errorf("casc/jenkins.yaml: no %s section", key)
		}
	}
	for _, sec := range []string{"jenkins_admin_password", "watchdog_password", "agent_ssh_key"} {
		if !strings.Contains(casc, sec) {
			t.Errorf("casc/jenkins.yaml does not use secret %s", sec)
		}
		if !slices.Contains(j.Secrets, sec) {
			t.Errorf("jenkins service does not mount secret %s", sec)
		}
	}
	if !slices.Contains(j.Secrets, "watchdog_token") {
		t.Error("jenkins service does not mount watchdog_token (init.groovy.d reads it)")
	}
	for _, agent := range []string{`name: "slave01"`, `name: "slave02"`, `host: "slave01"`, `host: "slave02"`} {
		if !strings.Contains(casc, agent) {
			t.Errorf("casc/jenkins.yaml lacks %s", agent)
		}
	}
	// jobs: file: /usr/share/jenkins/jobs/X must be a mounted compose/jenkins/jobs/X.
	jobs, _ := doc["jobs"].([]any)
	if len(jobs) == 0 {
		t.Fatal("casc/jenkins.yaml: no jobs")
	}
	for _, jb := range jobs {
		f, _ := jb.(map[string]any)["file"].(string)
		rel, ok := strings.CutPrefix(f, "/usr/share/jenkins/jobs/")
		if !ok || !slices.Contains(j.Volumes, "./compose/jenkins/jobs:/usr/share/jenkins/jobs:ro") {
			t.Errorf("job file %s is not under the mounted jobs directory", f)
			continue
		}
		body := string(readRepoFile(t, "compose", "jenkins", "jobs", rel))
		if !strings.Contains(body, "label('slave01 || slave02')") || !strings.Contains(body, "cron(") {
			t.Errorf("%s: the job must be restricted to slave01 || slave02 and run on a timer", rel)
		}
	}
}

// TestLabTokenScript checks that the lab's init script seeds the watchdog's
// token through ApiTokenProperty's scripting methods only. The ApiTokenStore
// behind getTokenStore() is internal: its two-argument addFixedNewToken,
// which an earlier version of this script called, is gone since Jenkins
// 2.548, so the script would fail on the lab's core.
func TestLabTokenScript(t *testing.T) {
	script := string(readRepoFile(t, "compose", "jenkins", "init.groovy.d", "watchdog-lab.groovy"))
	code := regexp.MustCompile(`(?m)^\s*//.*$`).ReplaceAllString(script, "")
	for _, internal := range []string{"tokenStore", "TokenStore", "getTokenStats", "setAccessible", "getDeclaredField", "setTemporarilyOffline("} {
		if strings.Contains(code, internal) {
			t.Errorf("watchdog-lab.groovy uses %s: internal or deprecated Jenkins API", internal)
		}
	}
	for _, want := range []string{"import jenkins.security.ApiTokenProperty", ".addFixedNewToken(", ".revokeAllTokensExceptOne(", "/run/secrets/watchdog_token", ".setTemporaryOfflineCause("} {
		if !strings.Contains(code, want) {
			t.Errorf("watchdog-lab.groovy lacks %s", want)
		}
	}
}
