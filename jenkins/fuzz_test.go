package jenkins_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/jenkins"
)

// FuzzComputersDecode feeds arbitrary bodies, served as a 200 JSON answer
// by a tiny loopback server, to Client.Computers and Client.Computer. They
// never panic, and return either an error or a consistent reading: every
// node named, keyed by its name, never the built-in node, temporarily
// offline only when offline, connected whenever online; a single read
// answers for the node it asked about.
func FuzzComputersDecode(f *testing.F) {
	for _, s := range []string{
		`{"_class":"hudson.model.ComputerSet","computer":[{"_class":"hudson.model.Hudson$MasterComputer","displayName":"Built-In Node","offline":false,"temporarilyOffline":false},{"_class":"hudson.slaves.SlaveComputer","displayName":"slave01","offline":false,"temporarilyOffline":false,"absoluteRemotePath":"/home/jenkins","idle":true,"launchSupported":true,"jnlpAgent":false,"offlineCause":null,"offlineCauseReason":""}]}`,
		`{"computer":[{"displayName":"slave02","offline":true,"temporarilyOffline":true,"absoluteRemotePath":null,"launchSupported":true,"jnlpAgent":false,"offlineCause":{"_class":"hudson.slaves.OfflineCause$UserCause"},"offlineCauseReason":"[jenkins-failover-watchdog] standby parked: x"}]}`,
		`{"computer":[{"displayName":"agent 01","offline":true,"temporarilyOffline":false,"jnlpAgent":true,"offlineCause":{"_class":"hudson.slaves.OfflineCause$ChannelTermination"},"offlineCauseReason":"Connection was broken"}]}`,
		`{"computer":[{"displayName":"a","offline":false,"temporarilyOffline":true}]}`,
		`{"computer":[{"displayName":"a","offline":false,"temporarilyOffline":false},{"displayName":"a","offline":false,"temporarilyOffline":false}]}`,
		`{"computer":[{"displayName":"","offline":false,"temporarilyOffline":false}]}`,
		`{"computer":[{"displayName":"a"}]}`,
		`{"computer":null}`, `{"computer":[]}`, `{}`, `[]`, `null`, ``, `{"computer":[`, `<html></html>`,
		`{"computer":[{"displayName":1}]}`, `{"computer":[{"displayName":"a","offline":"yes"}]}`,
		`{"displayName":"slave01","offline":true,"temporarilyOffline":true,"absoluteRemotePath":"/x"}`,
		`{"displayName":"slave01","OFFLINE":false,"TemporarilyOffline":false}`,
	} {
		f.Add([]byte(s))
	}
	var mu sync.Mutex
	var body []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		b := body
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json;charset=utf-8")
		w.Header().Set("X-Jenkins", "2.479.3")
		_, _ = w.Write(b)
	}))
	f.Cleanup(srv.Close)
	tr := &http.Transport{}
	f.Cleanup(tr.CloseIdleConnections)
	c, err := jenkins.New(jenkins.Options{URL: srv.URL, User: "u", Token: "t", Timeout: 5 * time.Second, Transport: tr})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		mu.Lock()
		body = b
		mu.Unlock()
		ctx := context.Background()
		snap, err := c.Computers(ctx)
		if err == nil {
			if snap.Nodes == nil {
				t.Fatal("no error and no node map")
			}
			if snap.Version != "2.479.3" {
				t.Fatalf("version %q", snap.Version)
			}
			for k, n := range snap.Nodes {
				switch {
				case k == "" || k != n.Name:
					t.Fatalf("node keyed %q is named %q", k, n.Name)
				case n.TemporarilyOffline && !n.Offline:
					t.Fatalf("%q temporarily offline but not offline", k)
				case !n.Offline && !n.Connected:
					t.Fatalf("%q online but not connected", k)
				}
			}
		}
		n, err := c.Computer(ctx, "slave01")
		if err == nil && (n.Name != "slave01" || (n.TemporarilyOffline && !n.Offline) || (!n.Offline && !n.Connected)) {
			t.Fatalf("inconsistent single read: %+v", n)
		}
	})
}
