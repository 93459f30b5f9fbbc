package deploycheck

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// metricsPort is the port the watchdog serves /metrics, /status and health
// on in every deployment file. It must be the daemon's default
// (WATCHDOG_LISTEN_ADDR in config/config.go) and the image's EXPOSE; the
// tests of each deployment compare against it, and TestMetricsPortAgrees
// against the daemon and the image.
const metricsPort = 9723

// metricsHealthPort is where the deployment files serve the health
// endpoints alone (WATCHDOG_HEALTH_ADDR), for the kubelet's probes.
const metricsHealthPort = 9724

// TestMetricsPortAgrees checks that the daemon's default listen address, the
// image and the compose lab use metricsPort, so that changing the port is
// one change the tests walk you through.
func TestMetricsPortAgrees(t *testing.T) {
	port := fmt.Sprint(metricsPort)
	m := regexp.MustCompile(`env:"WATCHDOG_LISTEN_ADDR" envDefault:"([^"]*)"`).FindSubmatch(readRepoFile(t, "config", "config.go"))
	if m == nil {
		t.Error(`config/config.go: no env:"WATCHDOG_LISTEN_ADDR" envDefault:"..." declaration`)
	} else if !strings.HasSuffix(string(m[1]), ":"+port) {
		t.Errorf("config/config.go: WATCHDOG_LISTEN_ADDR defaults to %q, the deployment files use port %s", m[1], port)
	}
	df := string(readRepoFile(t, "Dockerfile"))
	if !regexp.MustCompile(`(?m)^ENV WATCHDOG_LISTEN_ADDR=":` + port + `"$`).MatchString(df) {
		t.Errorf("Dockerfile: ENV WATCHDOG_LISTEN_ADDR is not \":%s\"", port)
	}
	c := loadCompose(t)
	wd := c.Services["watchdog"]
	if wd.Environment["WATCHDOG_LISTEN_ADDR"] != ":"+port {
		t.Errorf("docker-compose.yml: watchdog WATCHDOG_LISTEN_ADDR %q, want :%s", wd.Environment["WATCHDOG_LISTEN_ADDR"], port)
	}
	if want := "127.0.0.1:" + port + ":" + port; !slices.Contains(wd.Ports, want) {
		t.Errorf("docker-compose.yml: watchdog ports %v, want %s", wd.Ports, want)
	}
}
