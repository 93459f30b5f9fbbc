package demo

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/config"
	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/watcher"
)

// The counts the story tells come from the watchdog's parameters, the same
// in the announcement and in the chapters, and the demo fails if the
// watchdog does not keep to them.
func TestStoryTellsTheParameters(t *testing.T) {
	for _, p := range []watcher.Params{Params, {FailoverAfter: 4, FailbackAfter: 1, StandbyWait: 3, Failback: config.FailbackAuto}} {
		var out bytes.Buffer
		if err := Run(context.Background(), Options{Out: &out, Params: p}); err != nil {
			t.Fatalf("%+v: %v\n%s", p, err, out.String())
		}
		offline := fmt.Sprintf("read offline on %s", pollCount(p.FailoverAfter))
		online := fmt.Sprintf("read online on %s", pollCount(p.FailbackAfter))
		if n := strings.Count(out.String(), offline); n != 2 {
			t.Errorf("%+v: %q appears %d times, want 2 (announcement and failover):\n%s", p, offline, n, out.String())
		}
		if n := strings.Count(out.String(), online); n != 2 {
			t.Errorf("%+v: %q appears %d times, want 2 (announcement and failback):\n%s", p, online, n, out.String())
		}
		if !strings.Contains(out.String(), "story complete") {
			t.Errorf("%+v: no happy end:\n%s", p, out.String())
		}
	}
}
