package jenkins

import (
	"strings"
	"testing"

	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/agent"
)

// The offline cause's class is read from its _class member alone, whatever
// else the object carries and in whatever order (Jenkins adds description
// when asked for it, a plugin may add more): the class decides whether a
// node is held, so another member must never be taken for it.
func TestOfflineCauseClassIsReadFromClassOnly(t *testing.T) {
	for _, cause := range []string{
		`{"_class":"hudson.slaves.OfflineCause$UserCause","description":"Disconnected by bob : disk"}`,
		`{"description":"Disconnected by bob : disk","_class":"hudson.slaves.OfflineCause$UserCause","extra":"x"}`,
		`{"timestamp":1764700000000,"_class":"hudson.slaves.OfflineCause$UserCause","description":null}`,
	} {
		body := `{"_class":"hudson.slaves.SlaveComputer","displayName":"s","offline":true,"temporarilyOffline":true,` +
			`"offlineCause":` + cause + `,"offlineCauseReason":"disk"}`
		n, err := newDecoder().computer(strings.NewReader(body))
		if err != nil {
			t.Fatalf("%s: %v", cause, err)
		}
		if n.CauseClass != agent.CauseUser {
			t.Errorf("%s: cause class %q, want %s", cause, n.CauseClass, agent.CauseUser)
		}
	}
}
