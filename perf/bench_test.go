package perf

import (
	"context"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/jenkins"
	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/watcher"
)

// BenchmarkPoll times one steady-state poll cycle of the real watcher
// (fetch, decode, decide for every group, metrics) with our adapter
// (impl=ours) and with the naive gojenkins fetch (impl=naive), against the
// fake controller in a child process over loopback HTTP. Custom metrics,
// per poll:
//
//	requests/poll  HTTP requests the controller received
//	wire-B/poll    response bodies as sent (gzipped: Go's transport asks)
//	body-B/poll    the same bodies uncompressed
//	tcp-B/poll     every byte the client read from its sockets (headers too)
//	cpu-ns/poll    user+system CPU of this process (getrusage), which holds
//	               only the client: the fake runs in the child
//
// impl=ours is the daemon's client, which chooses between reading the
// list and reading the watched nodes one by one (jenkins/read.go);
// impl=ours-list and impl=ours-each force one way.
func BenchmarkPoll(b *testing.B) {
	for _, l := range append(layouts[:len(layouts):len(layouts)], layout{10000, 10}) {
		for _, impl := range []string{"ours", "ours-list", "ours-each", "naive"} {
			b.Run("impl="+impl+"/"+l.String(), func(b *testing.B) { benchPoll(b, l, impl) })
		}
	}
}

func benchPoll(b *testing.B, l layout, impl string) {
	ctx := context.Background()
	fake := fakeFor(b, l)
	groups := l.groups()
	var tcp atomic.Int64
	tr := countingTransport(&tcp)
	defer tr.CloseIdleConnections()
	var j watcher.Jenkins
	switch impl {
	case "ours":
		j = ourClientReading(b, fake.URL, tr, groups, jenkins.ReadAuto)
	case "ours-list":
		j = ourClientReading(b, fake.URL, tr, groups, jenkins.ReadList)
	case "ours-each":
		j = ourClientReading(b, fake.URL, tr, groups, jenkins.ReadEach)
	case "naive":
		n, err := newNaive(ctx, fake.URL, tr, groups)
		if err != nil {
			b.Fatal(err)
		}
		j = n
	}
	w := newWatcher(j, groups, params, nil)
	// Two polls: the connection is open, every answer is cached in the
	// child, and every group has reached normal.
	for range 2 {
		if err := w.Poll(ctx); err != nil {
			b.Fatal(err)
		}
	}
	requireSteady(b, w, groups)
	fake.reset(b)
	tcp.Store(0)
	cpu0 := cpuTime()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := w.Poll(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	cpu := cpuTime() - cpu0
	s := fake.stats(b)
	n := float64(b.N)
	b.ReportMetric(float64(s.Requests)/n, "requests/poll")
	b.ReportMetric(float64(s.WireBytes)/n, "wire-B/poll")
	b.ReportMetric(float64(s.BodyBytes)/n, "body-B/poll")
	b.ReportMetric(float64(tcp.Load())/n, "tcp-B/poll")
	b.ReportMetric(float64(cpu.Nanoseconds())/n, "cpu-ns/poll")
	requireSteady(b, w, groups)
}

// cpuTime is the user+system CPU this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkPollParts splits our poll cycle at 1,000 agents: the fetch and
// decode alone (Client.Computers), the decision alone (watcher.Decide for
// every group on a decoded snapshot). The rest of BenchmarkPoll's time is
// the watcher's bookkeeping and its Prometheus series.
func BenchmarkPollParts(b *testing.B) {
	for _, l := range layouts[2:] {
		fake := fakeFor(b, l)
		b.Run("part=fetch+decode/"+l.String(), func(b *testing.B) {
			ctx := context.Background()
			var tcp atomic.Int64
			tr := countingTransport(&tcp)
			defer tr.CloseIdleConnections()
			c := ourClient(b, fake.URL, tr)
			if _, err := c.Computers(ctx); err != nil {
				b.Fatal(err)
			}
			cpu0 := cpuTime()
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if _, err := c.Computers(ctx); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/poll")
		})
		b.Run("part=decide/"+l.String(), func(b *testing.B) {
			ctx := context.Background()
			tr := countingTransport(new(atomic.Int64))
			defer tr.CloseIdleConnections()
			snap, err := ourClient(b, fake.URL, tr).Computers(ctx)
			if err != nil {
				b.Fatal(err)
			}
			groups := l.groups()
			states := make([]watcher.GroupState, len(groups))
			for i := range states {
				states[i] = watcher.Decide(groups[i], watcher.GroupState{Phase: watcher.PhaseUnknown}, watcher.Input{Nodes: snap.Nodes}, params).Next
			}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				for i, g := range groups {
					d := watcher.Decide(g, states[i], watcher.Input{Nodes: snap.Nodes}, params)
					if len(d.Actions) > 0 {
						b.Fatalf("group %s: unexpected actions %v", g.Name(), d.Actions)
					}
					states[i] = d.Next
				}
			}
		})
	}
}
