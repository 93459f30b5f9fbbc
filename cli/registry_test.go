package cli

import (
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/version"
)

// build_info is the ecosystem's own collector: the labels Prometheus,
// node_exporter and every dashboard know, with the version from main.
func TestBuildInfo(t *testing.T) {
	reg := NewRegistry("v1.2.3")
	want := fmt.Sprintf(`
# HELP jenkins_failover_build_info A metric with a constant '1' value labeled by version, revision, branch, goversion from which jenkins_failover was built, and the goos and goarch for the build.
# TYPE jenkins_failover_build_info gauge
jenkins_failover_build_info{branch=%q,goarch=%q,goos=%q,goversion=%q,revision=%q,tags=%q,version="v1.2.3"} 1
`, version.Branch, runtime.GOARCH, runtime.GOOS, runtime.Version(), version.GetRevision(), version.GetTags())
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "jenkins_failover_build_info"); err != nil {
		t.Error(err)
	}
	// Two registries (the daemon's and a test's) never share or change
	// a global: each says its own version.
	if err := testutil.GatherAndCompare(NewRegistry("other"), strings.NewReader(strings.ReplaceAll(want, "v1.2.3", "other")), "jenkins_failover_build_info"); err != nil {
		t.Error(err)
	}
	if version.Version != "" {
		t.Errorf("NewRegistry wrote common/version.Version = %q", version.Version)
	}
}
