package watcher

import (
	"time"

	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/agent"
)

// Status is the watcher's view, served as JSON on /status.
type Status struct {
	// Started is when this watchdog started: the timelines begin there.
	Started     time.Time        `json:"started"`
	Controller  ControllerStatus `json:"controller"`
	DryRun      bool             `json:"dryRun"`
	Failback    string           `json:"failback"`
	Groups      []GroupStatus    `json:"groups"`
	Nodes       []NodeStatus     `json:"nodes"`
	Transitions []Transition     `json:"transitions"` // oldest first, as they happened
}

// ControllerStatus describes the Jenkins controller as last read.
type ControllerStatus struct {
	URL         string     `json:"url"`
	Version     string     `json:"version"`
	Up          bool       `json:"up"`
	LastPoll    *time.Time `json:"lastPoll,omitempty"`
	LastSuccess *time.Time `json:"lastSuccess,omitempty"`
	LastError   string     `json:"lastError,omitempty"`
	// LastErrorKind is the kind of LastError as jenkins_errors_total
	// counts it (auth, forbidden, timeout, ...), so that a client
	// can tell refused credentials from an unreachable controller.
	LastErrorKind string `json:"lastErrorKind,omitempty"`
}

// GroupStatus is one group's state.
type GroupStatus struct {
	Name               string     `json:"name"`
	Primary            string     `json:"primary"`
	Standbys           []string   `json:"standbys"`
	State              Phase      `json:"state"`
	Active             string     `json:"active"`
	Since              *time.Time `json:"since,omitempty"`
	StandbyActiveSince *time.Time `json:"standbyActiveSince,omitempty"`
	Candidate          string     `json:"candidate,omitempty"`
	PrimaryDownPolls   int        `json:"primaryDownPolls"`
	PrimaryUpPolls     int        `json:"primaryUpPolls"`
	// ReadyStandbys counts the standbys that could take over now;
	// Redundancy says it in words ("1 of 2 standbys ready").
	ReadyStandbys int    `json:"readyStandbys"`
	Redundancy    string `json:"redundancy"`
	// Timeline is the group's history over the last TimelineSpan (or
	// since Started), oldest first: each segment lasts until the next
	// one starts, the last until now. The first may start before the
	// span: it is the one in force when the span begins. Bounded in
	// count too (timeline.go): a group that changed very often shows
	// only its latest segments.
	Timeline []Segment `json:"timeline"`
}

// NodeStatus is one node's state.
type NodeStatus struct {
	Name   string      `json:"name"`
	Group  string      `json:"group"`
	Role   string      `json:"role"`
	State  agent.State `json:"state"`
	Reason string      `json:"reason,omitempty"`
	// HeldBy says who holds a held node: the person who wrote its
	// message (or whose hold the watchdog restored), or the monitor.
	HeldBy string `json:"heldBy,omitempty"`
	Idle   bool   `json:"idle"`
	// Readiness is set for standbys only.
	Readiness *Readiness `json:"readiness,omitempty"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// StatusGeneration tells whether Status changed: it moves on after every
// change Status would show, and stays put between polls. Read it before
// Status, so that a Status kept under it is never older than it.
func (w *Watcher) StatusGeneration() uint64 { return w.gen.Load() }

// Status returns a copy of the current view.
func (w *Watcher) Status() Status {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := Status{
		Started: w.created,
		Controller: ControllerStatus{URL: w.url, Version: w.version, Up: w.ready.Load(),
			LastPoll: timePtr(w.lastStart), LastSuccess: timePtr(w.lastSuccess), LastError: w.lastErr, LastErrorKind: w.lastErrKind},
		DryRun:      w.dryRun,
		Failback:    string(w.params.Failback),
		Transitions: append([]Transition(nil), w.transitions...),
	}
	for _, g := range w.groups {
		st := w.states[g.Name()]
		gs := GroupStatus{
			Name: g.Name(), Primary: g.Primary, Standbys: g.Standbys, State: st.Phase, Active: st.Active,
			Since: timePtr(w.since[g.Name()]), StandbyActiveSince: timePtr(w.standbyFrom[g.Name()]),
			Candidate: st.Candidate, PrimaryDownPolls: st.PrimaryDownPolls, PrimaryUpPolls: st.PrimaryUpPolls,
			Timeline: w.timelineLocked(g.Name()),
		}
		var readiness []Readiness
		for _, sb := range g.Standbys {
			r := w.readinessLocked(sb)
			readiness = append(readiness, r)
			if r.Ready {
				gs.ReadyStandbys++
			}
		}
		gs.Redundancy = Redundancy(gs.ReadyStandbys, len(g.Standbys))
		s.Groups = append(s.Groups, gs)
		for i, n := range g.Nodes() {
			ns := NodeStatus{Name: n, Group: g.Name(), Role: "standby", State: w.nodeStates[n]}
			if i == 0 {
				ns.Role = "primary"
			} else {
				ns.Readiness = &readiness[i-1]
			}
			if ns.State == "" {
				ns.State = agent.Unknown
			}
			if info, ok := w.nodes[n]; ok {
				ns.Reason, ns.Idle = info.CauseReason, info.Idle
				if ns.State == agent.Held {
					ns.HeldBy = agent.Holder(info)
				}
			}
			s.Nodes = append(s.Nodes, ns)
		}
	}
	return s
}

// GroupState returns a group's current state, for tests and the demo.
func (w *Watcher) GroupState(group string) GroupState {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.states[group]
}
