package fakejenkins

import (
	"errors"
	"net/http"
	"testing"
)

func TestBuildsSurviveTemporarilyOffline(t *testing.T) {
	e := newEnv(t, Options{})
	id, err := e.c.StartBuild("slave01")
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, e.post(watchdog, "slave01", "toggleOffline"+q("parked")), http.StatusFound)
	if node, state, ok := e.c.Build(id); !ok || node != "slave01" || state != BuildRunning {
		t.Fatalf("build after going temporarily offline: %s %s %v", node, state, ok)
	}
	if comp := e.computer("slave01"); comp["idle"] != false {
		t.Errorf("idle = %v with a build running", comp["idle"])
	}
	// No new builds while temporarily offline.
	if _, err := e.c.StartBuild("slave01"); !errors.Is(err, ErrNoExecutor) {
		t.Errorf("StartBuild on a temporarily offline node: %v", err)
	}
	if err := e.c.FinishBuild(id); err != nil {
		t.Fatal(err)
	}
	if _, state, _ := e.c.Build(id); state != BuildSuccess {
		t.Errorf("finished build: %s", state)
	}
	if err := e.c.FinishBuild(id); err == nil {
		t.Error("finishing a finished build succeeded")
	}
}

func TestChannelDropAbortsBuilds(t *testing.T) {
	for _, tc := range []struct {
		name string
		drop func(*Controller) error
	}{
		{"kill", func(c *Controller) error { return c.KillAgent("slave01") }},
		{"restart", func(c *Controller) error { c.Restart(); return nil }},
		{"remove", func(c *Controller) error { return c.RemoveAgent("slave01") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, Options{})
			id, err := e.c.StartBuild("slave01")
			if err != nil {
				t.Fatal(err)
			}
			if err := tc.drop(e.c); err != nil {
				t.Fatal(err)
			}
			if _, state, _ := e.c.Build(id); state != BuildAborted {
				t.Errorf("build state %s, want aborted", state)
			}
		})
	}
}

func TestStartBuildNeedsAFreeOnlineExecutor(t *testing.T) {
	e := newEnv(t, Options{})
	if _, err := e.c.StartBuild("ağent"); err != nil { // one executor
		t.Fatal(err)
	}
	if _, err := e.c.StartBuild("ağent"); !errors.Is(err, ErrNoExecutor) {
		t.Errorf("second build on a one-executor agent: %v", err)
	}
	if err := e.c.KillAgent("slave02"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.StartBuild("slave02"); !errors.Is(err, ErrNoExecutor) {
		t.Errorf("build on a dead agent: %v", err)
	}
	if _, err := e.c.StartBuild("ghost"); !errors.Is(err, ErrUnknownNode) {
		t.Errorf("build on a missing node: %v", err)
	}
	if _, err := e.c.StartBuild(BuiltInNode); err != nil {
		t.Errorf("build on the built-in node: %v", err)
	}
	doc := e.getJSON(admin, "/computer/api/json")
	// Online computers only: built-in 2 + slave01 2 + agent 01 2 + ağent 1.
	if doc["busyExecutors"] != 2.0 || doc["totalExecutors"] != 7.0 {
		t.Errorf("busy %v total %v", doc["busyExecutors"], doc["totalExecutors"])
	}
}

func TestKilledAgent(t *testing.T) {
	e := newEnv(t, Options{})
	for _, name := range []string{"slave01", "agent 01"} {
		if err := e.c.KillAgent(name); err != nil {
			t.Fatal(err)
		}
		comp := e.computer(name)
		if comp["offline"] != true || comp["temporarilyOffline"] != false ||
			causeClass(comp) != causeChannelTermination || comp["offlineCauseReason"] != "Connection was broken" ||
			comp["icon"] != "symbol-computer-offline" {
			t.Errorf("%s killed: %v", name, comp)
		}
		if s := e.snapshot(name); s.MachineUp || s.Connected {
			t.Errorf("%s snapshot: %+v", name, s)
		}
	}
}

func TestReviveAndRelaunch(t *testing.T) {
	e := newEnv(t, Options{})
	for _, name := range []string{"slave01", "agent 01"} {
		if err := e.c.KillAgent(name); err != nil {
			t.Fatal(err)
		}
	}
	// Relaunching while the machine is down fails.
	if err := e.c.Relaunch("slave01"); err != nil {
		t.Fatal(err)
	}
	if s := e.snapshot("slave01"); s.Connected || s.CauseClass != causeLaunchFailed {
		t.Errorf("relaunch with machine down: %+v", s)
	}
	for _, name := range []string{"slave01", "agent 01"} {
		if err := e.c.ReviveAgent(name); err != nil {
			t.Fatal(err)
		}
	}
	if s := e.snapshot("agent 01"); !s.Connected || s.Offline || s.CauseClass != "" {
		t.Errorf("inbound agent after revive: %+v", s)
	}
	if s := e.snapshot("slave01"); s.Connected || !s.MachineUp {
		t.Errorf("SSH agent after revive, before relaunch: %+v", s)
	}
	if err := e.c.Relaunch("slave01"); err != nil {
		t.Fatal(err)
	}
	if s := e.snapshot("slave01"); !s.Connected || s.Offline {
		t.Errorf("SSH agent after relaunch: %+v", s)
	}
	// The built-in node is not an agent.
	if err := e.c.KillAgent(BuiltInNode); err == nil {
		t.Error("KillAgent on the built-in node succeeded")
	}
	if err := e.c.ReviveAgent("ghost"); !errors.Is(err, ErrUnknownNode) {
		t.Errorf("ReviveAgent(ghost): %v", err)
	}
}

func TestRestart(t *testing.T) {
	e := newEnv(t, Options{})
	before := e.do(http.MethodGet, reader, "/api/json").Header.Get("X-Jenkins-Session")
	wantStatus(t, e.post(watchdog, "slave02", "toggleOffline"+q("parked")), http.StatusFound)
	e.c.Restart()
	after := e.do(http.MethodGet, reader, "/api/json").Header.Get("X-Jenkins-Session")
	if before == "" || after == "" || before == after {
		t.Errorf("X-Jenkins-Session %q -> %q, want a change", before, after)
	}
	if s := e.snapshot("slave02"); !s.TemporarilyOffline || s.CauseReason != "parked" || s.Connected {
		t.Errorf("parked SSH agent after restart: %+v", s)
	}
	// A fresh SSH computer: offline, no cause until a launch says why.
	comp := e.computer("slave01")
	if comp["offline"] != true || comp["temporarilyOffline"] != false || comp["offlineCause"] != nil {
		t.Errorf("SSH agent after restart: %v", comp)
	}
	if s := e.snapshot("agent 01"); !s.Connected || s.Offline {
		t.Errorf("inbound agent after restart: %+v", s)
	}
	if err := e.c.KillAgent("ağent"); err != nil {
		t.Fatal(err)
	}
	e.c.Restart()
	if s := e.snapshot("ağent"); s.Connected {
		t.Errorf("inbound agent with its machine down reconnected: %+v", s)
	}
	if s := e.snapshot(BuiltInNode); s.Offline {
		t.Errorf("built-in node after restart: %+v", s)
	}
}

func TestOperatorAndMonitor(t *testing.T) {
	e := newEnv(t, Options{})
	if err := e.c.OperatorOffline("slave01", "ops", "disk replacement"); err != nil {
		t.Fatal(err)
	}
	comp := e.computer("slave01")
	if causeClass(comp) != causeUser || comp["offlineCauseReason"] != "disk replacement" || comp["icon"] != "symbol-computer-disconnected" {
		t.Errorf("operator offline: %v", comp)
	}
	if err := e.c.OperatorOnline("slave01"); err != nil {
		t.Fatal(err)
	}
	if err := e.c.MonitorOffline("slave02"); err != nil {
		t.Fatal(err)
	}
	comp = e.computer("slave02")
	if comp["offline"] != true || comp["temporarilyOffline"] != true || causeClass(comp) != causeDiskSpace {
		t.Errorf("monitor offline: %v", comp)
	}
	if reason := comp["offlineCauseReason"]; reason != "Disk space is below threshold of 1.00 GiB. Only 512.00 MiB out of 100.00 GiB left on /home/jenkins/agent." {
		t.Errorf("DiskSpace reason %q", reason)
	}
	// A toggle clears any temporary cause.
	wantStatus(t, e.post(watchdog, "slave02", "toggleOffline"), http.StatusFound)
	if s := e.snapshot("slave02"); s.Offline {
		t.Errorf("after toggling the monitor's cause away: %+v", s)
	}
	if err := e.c.OperatorOffline("ghost", "ops", "x"); !errors.Is(err, ErrUnknownNode) {
		t.Errorf("OperatorOffline(ghost): %v", err)
	}
}

func TestAddAgentValidation(t *testing.T) {
	c := New(Options{})
	for _, name := range []string{"", "a/b", "a:b", " lead", "(built-in)", "(master)", ".."} {
		if err := c.AddAgent(AgentSpec{Name: name}); err == nil {
			t.Errorf("AddAgent(%q) succeeded", name)
		}
	}
	if err := c.AddAgent(AgentSpec{Name: "ok"}); err != nil {
		t.Fatal(err)
	}
	if err := c.AddAgent(AgentSpec{Name: "ok"}); err == nil {
		t.Error("duplicate AddAgent succeeded")
	}
	s, ok := c.Node("ok")
	if !ok || s.Offline || !s.Connected || !s.MachineUp || s.Launch != SSH {
		t.Errorf("new agent: %+v", s)
	}
	if err := c.RemoveAgent(BuiltInNode); err == nil {
		t.Error("removed the built-in node")
	}
}

// A parked standby whose machine died: it reads parked with no channel
// (absoluteRemotePath null), every launch fails, and the failure stays
// hidden behind the park message until the mark is cleared, as
// Computer.getOfflineCause prefers the node's temporary cause.
func TestParkedStandbyWithDeadMachineFailsItsLaunches(t *testing.T) {
	e := newEnv(t, Options{RetentionAlways: true})
	wantStatus(t, e.post(watchdog, "slave02", "changeOfflineCause"+q("[tag] standby parked")), http.StatusFound)
	if err := e.c.KillAgent("slave02"); err != nil {
		t.Fatal(err)
	}
	e.c.RelaunchAll() // the Always retention strategy's check
	wantStatus(t, e.post(watchdog, "slave02", "launchSlaveAgent"), http.StatusFound)
	comp := e.computer("slave02")
	if comp["offline"] != true || comp["temporarilyOffline"] != true || comp["absoluteRemotePath"] != nil {
		t.Errorf("parked standby with a dead machine: offline %v, temporarilyOffline %v, absoluteRemotePath %v",
			comp["offline"], comp["temporarilyOffline"], comp["absoluteRemotePath"])
	}
	if cause, _ := comp["offlineCause"].(map[string]any); cause["_class"] != causeUser || comp["offlineCauseReason"] != "[tag] standby parked" {
		t.Errorf("the park message should hide the failed launch: cause %v, reason %q", comp["offlineCause"], comp["offlineCauseReason"])
	}
	if s := e.snapshot("slave02"); s.LaunchFailures != 2 || s.Connected || s.MachineUp {
		t.Errorf("snapshot after two failed launches: %+v", s)
	}
	// Unparked, the failed launch shows.
	if err := e.c.OperatorOnline("slave02"); err != nil {
		t.Fatal(err)
	}
	comp = e.computer("slave02")
	if cause, _ := comp["offlineCause"].(map[string]any); cause["_class"] != causeLaunchFailed || comp["temporarilyOffline"] != false {
		t.Errorf("unparked: cause %v, temporarilyOffline %v", comp["offlineCause"], comp["temporarilyOffline"])
	}
	// A live machine launches; its count stays.
	if err := e.c.ReviveAgent("slave02"); err != nil {
		t.Fatal(err)
	}
	if s := e.snapshot("slave02"); !s.Connected || s.LaunchFailures != 2 {
		t.Errorf("revived under Always retention: %+v", s)
	}
}
