package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The smallest value each bounded variable allows is accepted: the bounds
// refuse what is below them, not the bound itself.
func TestLoadAcceptsTheBounds(t *testing.T) {
	c, err := Load([]string{"JENKINS_URL=http://jenkins:8080", "WATCHDOG_FAILOVER_AFTER=1", "WATCHDOG_FAILBACK_AFTER=1",
		"WATCHDOG_STANDBY_WAIT=1", "WATCHDOG_SCHEDULE=@every 1s", "WATCHDOG_STARTUP_PATIENCE=0s"}, files(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.FailoverAfter != 1 || c.FailbackAfter != 1 || c.StandbyWait != 1 || c.Interval != time.Second || c.StartupPatience != 0 {
		t.Errorf("bounds read as %+v", c)
	}
}

// A token file of exactly MaxTokenFileBytes is read whole; one byte more
// is refused (TestTokenFileMustBeASmallRegularFile).
func TestTokenFileOfTheLargestSizeIsReadWhole(t *testing.T) {
	p := filepath.Join(t.TempDir(), "token")
	content := strings.Repeat("t", MaxTokenFileBytes-1) + "\n"
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := ReadTokenFile(p)
	if err != nil || string(b) != content {
		t.Fatalf("ReadTokenFile of %d bytes: %d bytes, %v", len(content), len(b), err)
	}
}

// A set secret prints as a placeholder that shows it is set; an unset one
// as nothing, so that a missing credential is not mistaken for one.
func TestSecretPrintsAsPlaceholder(t *testing.T) {
	set, unset := NewSecret("abc123"), NewSecret("")
	for _, s := range []string{set.String(), fmt.Sprint(set), fmt.Sprintf("%#v", set), set.LogValue().String()} {
		if s != "[redacted]" {
			t.Errorf("a set secret printed as %q, want [redacted]", s)
		}
	}
	if s := unset.String(); s != "" {
		t.Errorf("an unset secret printed as %q, want nothing", s)
	}
}
