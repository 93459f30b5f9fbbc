package deploycheck

import (
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"testing"

	"sigs.k8s.io/yaml"
)

// repoRoot is the repository this module lives in (tools/deploycheck/../..).
func repoRoot(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the test source")
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// repoPath joins parts under the repository root.
func repoPath(t testing.TB, parts ...string) string {
	return filepath.Join(append([]string{repoRoot(t)}, parts...)...)
}

func readRepoFile(t testing.TB, parts ...string) []byte {
	t.Helper()
	b, err := os.ReadFile(repoPath(t, parts...))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// mustExist fails the test when a path referenced by a deployment file is
// missing from the repository.
func mustExist(t testing.TB, what, path string) os.FileInfo {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Errorf("%s: %v", what, err)
		return nil
	}
	return fi
}

// unmarshalYAMLStrict decodes YAML into v through JSON with unknown fields
// rejected, the way the Kubernetes API server treats a strict request.
func unmarshalYAMLStrict(t testing.TB, what string, data []byte, v any) bool {
	t.Helper()
	if err := yaml.UnmarshalStrict(data, v); err != nil {
		t.Errorf("%s: %v", what, err)
		return false
	}
	return true
}

// envContract lists the environment variables the daemon reads, taken
// from the env tags of its configuration (config/config.go, the one place
// they are declared), plus the Go runtime's GOMEMLIMIT. Deployment files may
// set only these, so a typo such as WATCHDOG_PAIR cannot pass silently.
func envContract(t testing.TB) []string {
	t.Helper()
	src := string(readRepoFile(t, "config", "config.go"))
	names := []string{"GOMEMLIMIT"}
	for _, m := range regexp.MustCompile(`env:"([A-Z0-9_]+)"`).FindAllStringSubmatch(src, -1) {
		names = append(names, m[1])
	}
	if len(names) < 10 {
		t.Fatalf("config/config.go: found only %v; has the declaration changed shape?", names)
	}
	return names
}

func checkEnvName(t testing.TB, where, name string) {
	t.Helper()
	if contract := envContract(t); !slices.Contains(contract, name) {
		t.Errorf("%s: environment variable %s is not one the watchdog reads (%v)", where, name, contract)
	}
}

// parkTag reads the tag the watchdog writes into the offline message of the
// standbys it parks, from the daemon's source. "" when that file is absent.
func parkTag(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile(repoPath(t, "watcher", "node.go"))
	if err != nil {
		return ""
	}
	m := regexp.MustCompile(`(?m)^const ParkTag = "([^"]+)"`).FindSubmatch(b)
	if m == nil {
		return ""
	}
	return string(m[1])
}

func regexpMatch(pattern, s string) bool { return regexp.MustCompile(pattern).MatchString(s) }
