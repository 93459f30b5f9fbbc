// Package testlab is the one place the project's tests get their wiring
// from: the fake controller (internal/fakejenkins) behind HTTP, the real
// jenkins.Client and a watcher.Watcher with its own registry and logger,
// and the small helpers every test package needs (an injectable clock, a
// log buffer safe for concurrent writers, metric values by name and
// labels).
//
// The demo ships in the daemon and plays its story on a Lab, so this
// package does not import "testing": the helpers that fail a test take the
// TB interface below, which testing.TB satisfies.
package testlab
