package watcher_test

import (
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/internal/testlab"
	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/watcher"
)

// The server keeps what it rendered of a Status until StatusGeneration
// moves: two readings under one generation must be the same Status. The
// clock is the probe: the watcher reads it around every change it makes
// (poll start, a successful read, each group's decision and commit), never
// under its lock, so each reading of the clock takes a (generation,
// Status) sample mid-poll.
func TestStatusGenerationMovesWithEveryChange(t *testing.T) {
	l := newLab(t, labOptions{pairs: "slave01:slave02,build-a:build-b"})
	type sample struct {
		gen uint64
		st  watcher.Status
	}
	var w atomic.Pointer[watcher.Watcher]
	var samples []sample
	take := func() {
		if w := w.Load(); w != nil {
			g := w.StatusGeneration()
			samples = append(samples, sample{g, w.Status()})
		}
	}
	probe := func() time.Time { take(); return l.clock.Now() }
	nw, _ := l.lab.MustWatcher(t, testlab.WatcherOptions{Client: testlab.ClientOptions{Timeout: l.opts.timeout},
		Params: l.opts.params, Now: probe, Log: l.logs, Kinds: testlab.ErrorKinds()})
	w.Store(nw)
	l.w = nw

	check := func(when string) {
		t.Helper()
		take()
		byGen := map[uint64]watcher.Status{}
		for _, s := range samples {
			if prev, ok := byGen[s.gen]; ok && !reflect.DeepEqual(prev, s.st) {
				t.Fatalf("%s: generation %d stood for two different views:\n%+v\n%+v", when, s.gen, prev, s.st)
			}
			byGen[s.gen] = s.st
		}
	}
	before := nw.StatusGeneration()
	l.mustPoll()
	check("first poll")
	if nw.StatusGeneration() == before {
		t.Fatal("a poll left the generation where it was")
	}
	between := nw.StatusGeneration()
	take()
	take()
	if nw.StatusGeneration() != between {
		t.Fatal("the generation moved with no poll")
	}
	must(t, l.fake.KillAgent("slave01"))
	for i := range 3 {
		l.mustPoll()
		check("failover poll " + string(rune('1'+i)))
	}
	l.fake.SetStarting(true) // 503: a failed poll
	if err := l.poll(); err == nil {
		t.Fatal("poll of a starting controller succeeded")
	}
	check("failed poll")
	if nw.Status().Controller.Up {
		t.Fatal("controller up after a failed poll")
	}
}
