package jenkins

import (
	"net/http/httptest"
	"testing"

	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/agent"
	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/internal/fakejenkins"
)

// A message is the watchdog's own only when the watchdog's Jenkins user
// wrote exactly one of its forms: the writer comes from
// offlineCause.description, in any language Jenkins words it in, and the
// text from there too, raw, whatever the release's escaping.
func TestOwnershipFromTheController(t *testing.T) {
	park := agent.ParkMessage(agent.ParkStandby)
	for _, locale := range []string{"", "de", "ja", "ru", "bg"} {
		for _, version := range []string{"2.479.3", "2.541.1"} {
			fake := fakejenkins.New(fakejenkins.Options{Version: version, Locale: locale})
			fake.AddUser("watchdog", token, fakejenkins.PermRead, fakejenkins.PermDisconnect)
			srv := httptest.NewServer(fake)
			for _, n := range []string{"ours", "forged", "amended", "bobs", "nomessage"} {
				if err := fake.AddAgent(fakejenkins.AgentSpec{Name: n}); err != nil {
					t.Fatal(err)
				}
			}
			for _, err := range []error{
				fake.OperatorOffline("forged", "bob", park),
				fake.OperatorOffline("amended", "watchdog", park+" -- BROKEN DISK, DO NOT USE (bob)"),
				fake.OperatorOffline("bobs", "bob", "disk <check> & more : soon"),
				fake.OperatorOffline("nomessage", "bob", ""),
			} {
				if err != nil {
					t.Fatal(err)
				}
			}
			c, err := New(Options{URL: srv.URL, User: "watchdog", Token: token})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.Park(t.Context(), "ours", park, func(agent.NodeInfo) error { return nil }); err != nil {
				t.Fatal(err)
			}
			snap, err := c.Computers(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]struct {
				state  agent.State
				writer string
				reason string
			}{
				"ours":      {agent.Parked, "watchdog", park},
				"forged":    {agent.Held, "bob", park},
				"amended":   {agent.Held, "watchdog", park + " -- BROKEN DISK, DO NOT USE (bob)"},
				"bobs":      {agent.Held, "bob", "disk <check> & more : soon"},
				"nomessage": {agent.Parked, "bob", ""},
			}
			for name, w := range want {
				n := snap.Nodes[name]
				if got := agent.Classify(n, true); got != w.state || n.Writer != w.writer || n.CauseReason != w.reason {
					t.Errorf("locale %q, %s, %s: %s by %q (%q); want %s by %q (%q)", locale, version, name, got, n.Writer, n.CauseReason, w.state, w.writer, w.reason)
				}
			}
			if one, err := c.Computer(t.Context(), "ours"); err != nil || agent.Own(one).Form != agent.FormPark {
				t.Errorf("locale %q, %s: one node's read of our park: %+v, %v", locale, version, one, err)
			}
			srv.Close()
			fake.Close()
		}
	}
}
