package deploycheck

import (
	"bufio"
	"debug/elf"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const testVersion = "deploycheck-test"

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
	buildDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// watchdogBinary builds the daemon with the Dockerfile's own `go build`
// line (same environment and flags; only the version and output path are
// filled in), once per test run.
func watchdogBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		cmdline := goBuildCommand(t)
		if cmdline == "" {
			buildErr = fmt.Errorf("no go build line in the Dockerfile")
			return
		}
		buildDir, buildErr = os.MkdirTemp("", "deploycheck-bin-")
		if buildErr != nil {
			return
		}
		binPath = filepath.Join(buildDir, "jenkins-failover-watchdog")
		cmdline = strings.ReplaceAll(cmdline, "${VERSION}", testVersion)
		cmdline = strings.ReplaceAll(cmdline, "/out/jenkins-failover-watchdog", binPath)
		cmd := exec.Command("sh", "-c", cmdline)
		cmd.Dir = repoRoot(t)
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("%s: %v\n%s", cmdline, err, out)
		}
	})
	if buildErr != nil {
		t.Fatalf("building the daemon as the Dockerfile does: %v", buildErr)
	}
	return binPath
}

func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startFakeJenkins builds and runs the fake controller (cmd/fake-jenkins)
// and stops it when the test ends.
func startFakeJenkins(t *testing.T, args ...string) {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "fake-jenkins")
	build := exec.Command("go", "build", "-o", bin, "./cmd/fake-jenkins")
	build.Dir = repoRoot(t)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building fake-jenkins: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, args...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
}

// startProcess runs the binary with exactly env (nothing inherited but PATH
// and HOME), logs its output to a file, and stops it when the test ends.
func startProcess(t *testing.T, name string, env []string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(watchdogBinary(t), args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, env...)
	logPath := filepath.Join(t.TempDir(), name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
		logFile.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("%s output:\n%s", name, b)
		}
	})
	return cmd
}

// eventually retries f every 100ms until it returns nil or the deadline passes.
func eventually(t *testing.T, what string, timeout time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still failing after %s: %v", what, timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func httpGet(url string) (int, string, error) {
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// TestBinaryAsTheImageBuildsIt builds the binary exactly as the Dockerfile
// does, checks it is static and stamped, runs it against the built-in fake
// Jenkins with the token read from a file (as compose and Kubernetes pass
// it), and checks the image's HEALTHCHECK command and the exported metrics.
func TestBinaryAsTheImageBuildsIt(t *testing.T) {
	bin := watchdogBinary(t)

	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("binary has an ELF interpreter: not static, it would not start on distroless/static")
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("binary links shared libraries %v", libs)
	}
	f.Close()

	out, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil || !strings.Contains(string(out), testVersion) {
		t.Errorf("version: %q, %v; want the -X main.version stamp %q", out, err, testVersion)
	}

	jenkinsAddr := freeLoopbackAddr(t)
	startFakeJenkins(t, "--listen", jenkinsAddr)
	eventually(t, "fake Jenkins answers", 10*time.Second, func() error {
		_, _, err := httpGet("http://" + jenkinsAddr + "/")
		return err
	})

	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("fake-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	listen := freeLoopbackAddr(t)
	env := []string{
		"JENKINS_URL=http://" + jenkinsAddr,
		"JENKINS_USER=watchdog",
		"JENKINS_API_TOKEN_FILE=" + tokenFile,
		"WATCHDOG_PAIRS=slave01:slave02",
		"WATCHDOG_SCHEDULE=@every 1s",
		"WATCHDOG_LISTEN_ADDR=" + listen,
		"LOG_FORMAT=json",
	}
	daemon := startProcess(t, "daemon", env)

	// The image's HEALTHCHECK: the same binary, the same environment.
	healthcheck := func() error {
		cmd := exec.Command(bin, "healthcheck")
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	}
	eventually(t, "healthcheck exits 0", 15*time.Second, healthcheck)
	eventually(t, "/readyz is 200 after a successful poll", 15*time.Second, func() error {
		code, body, err := httpGet("http://" + listen + "/readyz")
		if err == nil && code != http.StatusOK {
			err = fmt.Errorf("status %d: %s", code, body)
		}
		return err
	})

	code, body, err := httpGet("http://" + listen + "/metrics")
	if err != nil || code != http.StatusOK {
		t.Fatalf("/metrics: %d %v", code, err)
	}
	live := exposedFamilies(body)
	for fam, typ := range exportedMetrics {
		if got, ok := live[fam]; !ok {
			t.Errorf("the binary does not export %s", fam)
		} else if got != typ {
			t.Errorf("%s is a %s, the contract says %s", fam, got, typ)
		}
	}
	// Every metric a dashboard query or an alert names must be one the
	// binary really exports.
	known := knownSeries(live)
	checkQueriesAgainst(t, dashboardQueries(t), known)
	checkQueriesAgainst(t, alertRules(t), known)

	// SIGTERM: orderly shutdown, then the healthcheck must fail.
	if err := daemon.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- daemon.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("daemon exit after SIGTERM: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("daemon did not stop within 15s of SIGTERM")
	}
	if err := healthcheck(); err == nil {
		t.Error("healthcheck exits 0 with the daemon stopped")
	}
}

// exposedFamilies reads "# TYPE name type" lines of the text exposition format.
func exposedFamilies(body string) map[string]string {
	fams := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 4 && f[0] == "#" && f[1] == "TYPE" {
			fams[f[2]] = f[3]
		}
	}
	return fams
}
