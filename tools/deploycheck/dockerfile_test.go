package deploycheck

import (
	"bufio"
	"bytes"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// parseDockerfile parses a Dockerfile with BuildKit's own parser and runs
// BuildKit's Dockerfile linter (the rules of `docker build --check`) on it,
// failing on every warning.
func parseDockerfile(t *testing.T, rel string) []instructions.Stage {
	t.Helper()
	res, err := parser.Parse(bytes.NewReader(readRepoFile(t, rel)))
	if err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
	for _, w := range res.Warnings {
		t.Errorf("%s: parser warning: %s", rel, w.Short)
	}
	lint := linter.New(&linter.Config{
		ExperimentalAll: true,
		Warn: func(rule, _, url, msg string, loc []parser.Range) {
			line := 0
			if len(loc) > 0 {
				line = loc[0].Start.Line
			}
			t.Errorf("%s:%d: lint %s: %s (%s)", rel, line, rule, msg, url)
		},
	})
	stages, _, err := instructions.Parse(res.AST, lint)
	if err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
	return stages
}

var digestPinned = regexp.MustCompile(`^[a-z0-9./-]+(:[A-Za-z0-9._-]+)?@sha256:[0-9a-f]{64}$`)

// TestDockerfile lints the image's Dockerfile and checks what the issue
// asks of it: base images pinned by digest, a static build with the version
// stamped, distroless non-root, HEALTHCHECK through the binary, OCI labels.
func TestDockerfile(t *testing.T) {
	stages := parseDockerfile(t, "Dockerfile")
	if len(stages) != 2 {
		t.Fatalf("want a build stage and a final stage, got %d stages", len(stages))
	}
	for _, s := range stages {
		if !digestPinned.MatchString(s.BaseName) {
			t.Errorf("FROM %s is not pinned by digest (name:tag@sha256:...)", s.BaseName)
		}
	}
	build, final := stages[0], stages[1]
	if !strings.HasPrefix(build.BaseName, "golang:") {
		t.Errorf("build stage from %s, want golang", build.BaseName)
	}
	if !strings.HasPrefix(final.BaseName, "gcr.io/distroless/static-debian12:nonroot@") {
		t.Errorf("final stage from %s, want gcr.io/distroless/static-debian12:nonroot", final.BaseName)
	}
	if cmd := goBuildCommand(t); cmd != "" {
		for _, want := range []string{"CGO_ENABLED=0", "go build", "-trimpath", "-X main.version=${VERSION}", "-o /out/jenkins-failover-watchdog"} {
			if !strings.Contains(cmd, want) {
				t.Errorf("build command %q lacks %q", cmd, want)
			}
		}
	}

	var user, health string
	var exposed []string
	labels := map[string]string{}
	var copied bool
	for _, c := range final.Commands {
		switch c := c.(type) {
		case *instructions.UserCommand:
			user = c.User
		case *instructions.HealthCheckCommand:
			health = fmt.Sprintf("%q", c.Health.Test)
		case *instructions.ExposeCommand:
			exposed = append(exposed, c.Ports...)
		case *instructions.LabelCommand:
			for _, kv := range c.Labels {
				labels[kv.Key] = kv.Value
			}
		case *instructions.CopyCommand:
			copied = c.From == build.Name && c.DestPath == "/jenkins-failover-watchdog"
		case *instructions.RunCommand:
			t.Errorf("RUN in the distroless stage: there is no shell there (%v)", c.CmdLine)
		}
	}
	if !copied {
		t.Error("final stage does not copy the binary from the build stage to /jenkins-failover-watchdog")
	}
	if user != "nonroot:nonroot" && user != "nonroot" && user != "65532:65532" {
		t.Errorf("USER %q, want nonroot", user)
	}
	if want := fmt.Sprintf("%q", []string{"CMD", "/jenkins-failover-watchdog", "healthcheck"}); health != want {
		t.Errorf("HEALTHCHECK %s, want %s", health, want)
	}
	if want := fmt.Sprint(metricsPort); !slices.Contains(exposed, want) {
		t.Errorf("EXPOSE %v, want %s", exposed, want)
	}
	for _, l := range []string{"title", "description", "source", "version", "revision"} {
		if labels["org.opencontainers.image."+l] == "" {
			t.Errorf("OCI label org.opencontainers.image.%s missing", l)
		}
	}

	ignore := string(readRepoFile(t, ".dockerignore"))
	for _, must := range []string{".git", "compose/secrets", "compose"} {
		if !slices.Contains(strings.Split(ignore, "\n"), must) {
			t.Errorf(".dockerignore does not exclude %s", must)
		}
	}
}

// goBuildCommand returns the Dockerfile's `go build` command line.
func goBuildCommand(t testing.TB) string {
	t.Helper()
	sc := bufio.NewScanner(bytes.NewReader(readRepoFile(t, "Dockerfile")))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "RUN ") && strings.Contains(line, "go build") {
			return strings.TrimPrefix(line, "RUN ")
		}
	}
	t.Error("Dockerfile has no single-line RUN ... go build")
	return ""
}

// TestLabJenkinsDockerfile lints the lab controller's Dockerfile and checks
// that what it copies exists and that every plugin is pinned.
func TestLabJenkinsDockerfile(t *testing.T) {
	stages := parseDockerfile(t, "compose/jenkins/Dockerfile")
	for _, s := range stages {
		if !regexp.MustCompile(`^jenkins/jenkins:\d+\.\d+\.\d+-lts-jdk\d+`).MatchString(s.BaseName) {
			t.Errorf("lab controller from %s, want a pinned jenkins/jenkins LTS tag", s.BaseName)
		}
		checkJenkinsImage(t, "compose/jenkins/Dockerfile", s.BaseName)
		for _, c := range s.Commands {
			if c, ok := c.(*instructions.CopyCommand); ok {
				for _, src := range c.SourcePaths {
					mustExist(t, "compose/jenkins/Dockerfile COPY", repoPath(t, "compose", "jenkins", src))
				}
			}
		}
	}
	pinned := regexp.MustCompile(`^[a-z0-9-]+:[0-9][A-Za-z0-9._-]*$`)
	n := 0
	for _, l := range strings.Split(string(readRepoFile(t, "compose/jenkins/plugins.txt")), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		n++
		if !pinned.MatchString(l) {
			t.Errorf("plugins.txt: %q is not name:version", l)
		}
	}
	for _, need := range []string{"configuration-as-code:", "ssh-slaves:", "matrix-auth:", "job-dsl:"} {
		if !strings.Contains(string(readRepoFile(t, "compose/jenkins/plugins.txt")), "\n"+need) {
			t.Errorf("plugins.txt lacks %s", need)
		}
	}
	if n == 0 {
		t.Error("plugins.txt is empty")
	}
}
