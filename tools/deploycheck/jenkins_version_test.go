package deploycheck

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// jenkinsVersion is a Jenkins core version: weekly 2.564 is {2, 564, 0},
// LTS 2.555.3 is {2, 555, 3}.
type jenkinsVersion [3]int

func (v jenkinsVersion) less(w jenkinsVersion) bool {
	for i := range v {
		if v[i] != w[i] {
			return v[i] < w[i]
		}
	}
	return false
}

var jenkinsTagVersion = regexp.MustCompile(`^(\d+)\.(\d+)(?:\.(\d+))?(?:-|$)`)

// parseJenkinsTag reads the core version from a jenkins/jenkins image tag
// such as 2.555.3-lts-jdk21 or 2.564-jdk21.
func parseJenkinsTag(tag string) (jenkinsVersion, error) {
	m := jenkinsTagVersion.FindStringSubmatch(tag)
	if m == nil {
		return jenkinsVersion{}, fmt.Errorf("tag %q names no Jenkins version (floating tags such as lts or latest cannot be checked)", tag)
	}
	var v jenkinsVersion
	for i, s := range m[1:] {
		if s != "" {
			v[i], _ = strconv.Atoi(s)
		}
	}
	return v, nil
}

// dropsParkedAgents reports whether a Jenkins core forgets the
// temporarily-offline state of agents configured as code on every start and
// Configuration as Code reload: introduced in 2.482 (the offline cause moved
// to the node), fixed by jenkinsci/jenkins#26749 (issue #26750) in LTS
// 2.555.3 and weekly 2.564. On such a core the standby the watchdog parked
// comes back online by itself whenever the controller restarts.
func dropsParkedAgents(v jenkinsVersion) bool {
	switch {
	case v.less(jenkinsVersion{2, 482, 0}):
		return false
	case v[0] == 2 && v[1] == 555:
		return v[2] < 3 // the 2.555.x LTS line got the fix in 2.555.3
	default:
		return v.less(jenkinsVersion{2, 564, 0})
	}
}

func TestDropsParkedAgents(t *testing.T) {
	for tag, want := range map[string]bool{
		"2.479.3-lts-jdk21": false,
		"2.481":             false,
		"2.482":             true,
		"2.492.1-lts-jdk17": true,
		"2.541.3-lts-jdk21": true,
		"2.555":             true,
		"2.555.1-lts-jdk21": true,
		"2.555.2-lts-jdk21": true,
		"2.555.3-lts-jdk21": false,
		"2.556-jdk21":       true,
		"2.563":             true,
		"2.564-jdk21":       false,
		"2.568.2-lts-jdk21": false,
	} {
		v, err := parseJenkinsTag(tag)
		if err != nil {
			t.Fatal(err)
		}
		if got := dropsParkedAgents(v); got != want {
			t.Errorf("dropsParkedAgents(%s) = %v, want %v", tag, got, want)
		}
	}
	for _, tag := range []string{"lts", "latest", "lts-jdk21", "jdk21"} {
		if _, err := parseJenkinsTag(tag); err == nil {
			t.Errorf("parseJenkinsTag(%q) accepted a floating tag", tag)
		}
	}
}

// checkJenkinsImage fails for a jenkins/jenkins image that is not pinned to
// a version or is pinned to one that drops parked agents.
func checkJenkinsImage(t *testing.T, where, image string) {
	t.Helper()
	ref, _, _ := strings.Cut(image, "@") // a digest may follow the tag
	name, tag := ref, ""
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		name, tag = ref[:i], ref[i+1:]
	}
	if name != "jenkins/jenkins" && !strings.HasSuffix(name, "/jenkins/jenkins") {
		t.Errorf("%s: controller image %s is not jenkins/jenkins", where, image)
		return
	}
	if tag == "" {
		t.Errorf("%s: controller image %s has no version tag", where, image)
		return
	}
	v, err := parseJenkinsTag(tag)
	if err != nil {
		t.Errorf("%s: %v", where, err)
		return
	}
	if dropsParkedAgents(v) {
		t.Errorf("%s: Jenkins %s drops the temporarily-offline state of agents configured as code on every start (jenkinsci/jenkins#26750, affected 2.482 to 2.555.2 and weeklies to 2.563); use 2.555.3 or later", where, tag)
	}
}
