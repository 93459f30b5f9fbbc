package agent_test

import (
	"testing"

	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/agent"
)

func TestJudge(t *testing.T) {
	parked := agent.NodeInfo{Offline: true, TemporarilyOffline: true, CauseClass: agent.CauseUser, CauseReason: agent.ParkMessage(agent.ParkStandby), ByWatchdog: true}
	withChannel := parked
	withChannel.Connected = true
	tests := []struct {
		name    string
		n       agent.NodeInfo
		present bool
		ready   bool
		why     string
	}{
		{"parked and connected", withChannel, true, true, agent.WhyParkedConnected},
		{"online, carrying", agent.NodeInfo{Connected: true}, true, true, agent.WhyOnline},
		{"parked, channel down", parked, true, false, agent.WhyParkedDown},
		{"killed", agent.NodeInfo{Offline: true, CauseClass: agent.CauseChannelTermination}, true, false, agent.WhyDisconnected},
		{"launch failed", agent.NodeInfo{Offline: true, CauseClass: agent.CauseLaunchFailed}, true, false, agent.WhyLaunchFailed},
		{"held by a person, connected", agent.NodeInfo{Offline: true, TemporarilyOffline: true, CauseClass: agent.CauseUser, CauseReason: "disk replacement", Connected: true}, true, false, agent.WhyHeld},
		{"held by a monitor", agent.NodeInfo{Offline: true, TemporarilyOffline: true, CauseClass: "hudson.node_monitors.DiskSpaceMonitorDescriptor$DiskSpace", Connected: true}, true, false, agent.WhyHeld},
		{"missing", agent.NodeInfo{}, false, false, agent.WhyMissing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := agent.Judge(tt.n, tt.present); got.Ready != tt.ready || got.Why != tt.why {
				t.Errorf("Judge = %+v, want ready %v, %q", got, tt.ready, tt.why)
			}
		})
	}
}
