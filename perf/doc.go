// Package perf holds the watchdog's performance evidence: benchmarks of one
// poll cycle (fetch, decode, decide for every group) against the fake
// controller over loopback HTTP, the same cycle done the way a first-time
// gojenkins user would write it, failover latency with injected time, and
// a check that memory and goroutines stay flat over many polls.
//
// Everything lives in _test.go files; scripts/bench.sh runs it and
// docs/performance.md records the figures.
package perf
