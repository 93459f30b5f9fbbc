package watcher

import (
	"context"
	"fmt"
	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/config"
	"time"

	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/agent"
)

// readyFirst is the order in which a failover tries standbys: the first
// ready one by priority, and a not-ready one of higher priority only when
// no ready one can be brought up. A parked standby with a dead machine
// would otherwise cost STANDBY_WAIT polls before the healthy one after it
// gets its turn.
func readyFirst(standbys []string, pickable, ready func(string) bool) string {
	first := ""
	for _, sb := range standbys {
		if !pickable(sb) {
			continue
		}
		if ready(sb) {
			return sb
		}
		if first == "" {
			first = sb
		}
	}
	return first
}

// standbyWatch is what the watcher remembers of a standby's channel
// between polls. It lives in memory only: a restarted watchdog counts a
// disconnection from its first poll.
type standbyWatch struct {
	// disconnectedSince is the first poll that read the channel down,
	// zero while it is up.
	disconnectedSince time.Time
	// launchFailedAt and launchFailure are the last poll that showed a
	// failed launch (Jenkins shows one only while the node is not
	// temporarily offline) and the text Jenkins gave.
	launchFailedAt time.Time
	launchFailure  string
	// warmedAt is the last launch asked to keep the standby connected.
	warmedAt time.Time
}

// watchStandbys records, under w.mu, what a poll showed of each standby's
// channel.
func (w *Watcher) watchStandbysLocked(nodes map[string]agent.NodeInfo, now time.Time) {
	for _, g := range w.groups {
		for _, sb := range g.Standbys {
			n, ok := nodes[sb]
			sw := w.standbys[sb]
			if sw == nil {
				sw = &standbyWatch{}
				w.standbys[sb] = sw
			}
			switch {
			case !ok:
				*sw = standbyWatch{}
			case n.Connected || !n.Offline:
				sw.disconnectedSince, sw.launchFailedAt, sw.launchFailure = time.Time{}, time.Time{}, ""
			case sw.disconnectedSince.IsZero():
				sw.disconnectedSince = now
			}
			if ok && !n.Connected && n.Offline && n.CauseClass == agent.CauseLaunchFailed {
				sw.launchFailedAt, sw.launchFailure = now, n.CauseReason
			}
		}
	}
}

// Readiness is a standby's readiness as /status shows it.
type Readiness struct {
	Ready bool   `json:"ready"`
	Why   string `json:"why"`
	// DisconnectedSince is the first poll that read its channel down.
	DisconnectedSince *time.Time `json:"disconnectedSince,omitempty"`
	// LastLaunchFailure is the last failed launch a poll showed since the
	// channel went down.
	LastLaunchFailure *LaunchFailure `json:"lastLaunchFailure,omitempty"`
}

// LaunchFailure is a failed launch as Jenkins reported it.
type LaunchFailure struct {
	Seen   time.Time `json:"seen"`
	Reason string    `json:"reason"`
}

// readinessLocked is a standby's readiness from the last poll and what
// the watcher remembers of its channel. Callers hold w.mu.
func (w *Watcher) readinessLocked(sb string) Readiness {
	if w.nodeStates[sb] == "" {
		return Readiness{Why: agent.WhyUnknown}
	}
	n, ok := w.nodes[sb]
	j := agent.Judge(n, ok)
	r := Readiness{Ready: j.Ready, Why: j.Why}
	if sw := w.standbys[sb]; sw != nil && !j.Ready {
		r.DisconnectedSince = timePtr(sw.disconnectedSince)
		if !sw.launchFailedAt.IsZero() {
			r.LastLaunchFailure = &LaunchFailure{Seen: sw.launchFailedAt, Reason: sw.launchFailure}
		}
	}
	return r
}

// Redundancy says how many of a group's standbys could take over now.
func Redundancy(ready, standbys int) string {
	noun := "standbys"
	if standbys == 1 {
		noun = "standby"
	}
	return fmt.Sprintf("%d of %d %s ready", ready, standbys, noun)
}

// keepWarm launches, at most every KeepWarm, each parked launchable
// standby of a group the primary carries that has stayed disconnected
// that long: with a retention strategy other than Always, or once
// Jenkins gave up, nobody else would. A launch leaves the standby
// temporarily offline: it connects, and takes no builds.
func (w *Watcher) keepWarm(ctx context.Context, g config.Group, phase Phase, nodes map[string]agent.NodeInfo) {
	if w.params.KeepWarm <= 0 || phase != PhaseNormal || w.stopping.Load() {
		return
	}
	now := w.now()
	for _, sb := range g.Standbys {
		n, ok := nodes[sb]
		if !ok || agent.Classify(n, true) != agent.Parked || n.Connected || !n.Launchable {
			continue
		}
		w.mu.Lock()
		sw := w.standbys[sb]
		due := sw != nil && !sw.disconnectedSince.IsZero() && now.Sub(sw.disconnectedSince) >= w.params.KeepWarm &&
			(sw.warmedAt.IsZero() || now.Sub(sw.warmedAt) >= w.params.KeepWarm)
		if due {
			sw.warmedAt = now
		}
		w.mu.Unlock()
		if !due {
			continue
		}
		log := w.log.With("group", g.Name(), "node", sb, "action", string(ActionLaunch), "why", "keep the parked standby warm")
		if w.dryRun {
			log.Info("dry run: would launch the parked standby to keep it warm")
			w.m.state.countAction(sb, ActionLaunch, ResultDryRun)
			continue
		}
		ch, err := w.j.Launch(ctx, sb, func(n agent.NodeInfo) error {
			if st := agent.Classify(n, true); st != agent.Parked {
				return fmt.Errorf("the node is %s, not parked", st)
			}
			return nil
		})
		result := ResultOK
		switch {
		case err != nil:
			result = ResultError
			log.Error("keep-warm launch failed; tried again after WATCHDOG_KEEP_WARM", "error", err, "kind", errorKind(err))
		case ch.Outcome != agent.Changed:
			result = ResultSkipped
		default:
			log.Info("launched the parked standby to keep it warm; it stays parked")
		}
		w.m.state.countAction(sb, ActionLaunch, result)
	}
}
