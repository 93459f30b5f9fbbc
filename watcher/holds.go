package watcher

import (
	"context"
	"errors"

	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/agent"
)

// People's holds survive Jenkins. Jenkins 2.482 to 2.555.2 drop every
// temporary offline cause of the nodes configured as code on a restart or
// a Configuration-as-Code reload (jenkinsci/jenkins #26750), and some of
// those releases on a node save too (#26146): a standby a person held for
// a disk check comes back online, and a primary in maintenance starts
// taking builds. The watchdog remembers the holds it has seen on the
// nodes it watches (who held it, and the message) and writes a hold back
// when the node comes back with no person releasing it, marked as
// restored (agent.RestoredHoldMessage), so that it reads as a hold, never
// as the watchdog's own park.
//
// On the releases that drop holds (2.482 to 2.555.2; X-Jenkins says which)
// a release counts as Jenkins' when
//   - the controller restarted since the hold was seen (X-Jenkins-Session), or
//   - another watched node lost its temporarily-offline mark in the same
//     poll without a watchdog releasing it (a reload drops them all), or
//   - the hold is a person's original one and the release also drops a
//     hold on a node save (#26146, up to 2.541.1 and weekly 2.547): a node
//     save can drop one hold alone, which looks like a person's release.
//     Releasing the restored message is then taken as the person's own
//     release. A maintenance hold is only put back after a restart or a
//     reload: releasing it is `maintenance end`.
//   - or a watchdog parked the node again as a standby that came online by
//     itself (a peer, or one started after the drop, never saw the hold).
//
// Anything else, and any release on the other releases, which keep holds,
// is a person releasing their hold: the node is the watchdog's again. A hold dropped before this watchdog ever saw it (it
// started after the drop) cannot be known.
type hold struct {
	holder   string
	message  string // what to write back
	restored bool   // the node showed the restored form: a second release is a person's
	session  string // the controller's session when the hold was last seen
}

// restoreHolds runs before any decision of the poll: it remembers the
// holds snap shows, writes back those Jenkins dropped, and puts what
// Jenkins shows after that into snap, so the decisions see the node held.
func (w *Watcher) restoreHolds(ctx context.Context, snap agent.Snapshot) {
	w.mu.Lock()
	prevNodes, version := w.nodes, snap.Version
	w.mu.Unlock()
	if w.holds == nil {
		w.holds = map[string]hold{}
	}
	released := map[string]bool{} // watched nodes that lost their temporarily-offline mark
	for name := range w.roles {
		before, wasThere := prevNodes[name]
		now, ok := snap.Nodes[name]
		if wasThere && ok && before.TemporarilyOffline && !now.TemporarilyOffline && agent.ClaimOwner(before) == "" && !w.released[name] {
			released[name] = true
		}
	}
	for name := range w.roles {
		n, ok := snap.Nodes[name]
		h, known := w.holds[name]
		switch {
		case !ok:
			delete(w.holds, name) // a node deleted takes its hold along
		case agent.Classify(n, true) == agent.Held && n.TemporarilyOffline && n.CauseClass == agent.CauseUser:
			w.holds[name] = holdOf(n, snap.Session)
		case !known:
		case !released[name] && reparked(n) && DropsHolds(version):
			// A watchdog (a peer, or one that started after the drop)
			// parked it as a standby that came online by itself: the
			// hold was dropped all the same.
			w.writeBack(ctx, name, h, snap)
		case !released[name]:
			// Still temporarily offline with another message (a person
			// changed it, or parked it with none): theirs to say.
			delete(w.holds, name)
		case w.droppedByJenkins(name, h, snap.Session, version, released):
			w.writeBack(ctx, name, h, snap)
		default:
			w.log.Info("a person released their hold", "node", name, "holder", h.holder)
			delete(w.holds, name)
		}
	}
	clear(w.released)
}

// reparked: temporarily offline with the watchdog's own park (a
// standby parked again after it came online by itself).
func reparked(n agent.NodeInfo) bool {
	return n.TemporarilyOffline && agent.Own(n).Form == agent.FormPark
}

func holdOf(n agent.NodeInfo, session string) hold {
	switch m := agent.Own(n); m.Form {
	case agent.FormRestoredHold:
		return hold{holder: m.Holder, message: n.CauseReason, restored: true, session: session}
	case agent.FormMaintenance:
		// restored: its release alone is `maintenance end`, never a
		// guess at a node save; only a restart or a reload puts it back.
		return hold{holder: "maintenance", message: n.CauseReason, restored: true, session: session}
	}
	return hold{holder: agent.Holder(n), message: agent.RestoredHoldMessage(agent.Holder(n), n.CauseReason), session: session}
}

func (w *Watcher) droppedByJenkins(name string, h hold, session, version string, released map[string]bool) bool {
	if !DropsHolds(version) {
		return false // holds survive restarts and reloads there: a person released it
	}
	if session != "" && h.session != "" && session != h.session {
		return true // the controller restarted since the hold was seen
	}
	for other := range released {
		if other != name {
			return true // a reload: several marks went at once
		}
	}
	return !h.restored && DropsHoldOnSave(version)
}

// errHoldReleased declines a write-back when the fresh read shows the
// node temporarily offline again: someone decided in the meantime.
var errHoldReleased = errors.New("the node is temporarily offline again")

// writeBack writes a hold back. It is the one change the watchdog makes
// to a primary: putting back a person's decision, never its own.
func (w *Watcher) writeBack(ctx context.Context, name string, h hold, snap agent.Snapshot) {
	log := w.log.With("node", name, "holder", h.holder, "message", h.message)
	group := w.roles[name].group
	if w.dryRun {
		log.Warn("dry run: Jenkins dropped a person's hold; would write it back")
		return
	}
	ch, err := w.j.Park(ctx, name, h.message, func(n agent.NodeInfo) error {
		if n.TemporarilyOffline && !reparked(n) {
			return errHoldReleased
		}
		return nil
	})
	result := ResultOK
	switch {
	case err != nil:
		result = ResultError
	case ch.Outcome == agent.Declined:
		result = ResultSkipped
	}
	// A write-back is a changeOfflineCause like a park: counted with them.
	w.m.state.countAction(name, ActionPark, result)
	switch {
	case err != nil:
		log.Error("Jenkins dropped a person's hold and writing it back failed; the node is left alone and tried again next poll", "error", err, "kind", errorKind(err))
		w.m.holdsRestored.WithLabelValues(group, ResultError).Inc()
		// Hands off until it is back: the decisions of this poll see
		// the node as held, as the person left it.
		n := snap.Nodes[name]
		n.Offline, n.TemporarilyOffline, n.CauseClass, n.CauseReason, n.ByWatchdog = true, true, agent.CauseUser, h.message, true
		snap.Nodes[name] = n
		h.restored = false // keep trying: the person released nothing
		w.holds[name] = h
		return
	case ch.Outcome == agent.Declined:
		log.Info("a person's hold was dropped, but the node is temporarily offline again; not written back", "reason", ch.Reason)
		w.m.holdsRestored.WithLabelValues(group, ResultSkipped).Inc()
		delete(w.holds, name)
		return
	}
	snap.Nodes[name] = ch.After
	h.restored = true
	h.session = snap.Session
	w.holds[name] = h
	w.m.holdsRestored.WithLabelValues(group, ResultOK).Inc()
	log.Warn("Jenkins dropped a person's hold (a restart or Configuration-as-Code reload on 2.482 to 2.555.2, or a node save); wrote it back, marked as restored")
}

// DropsHoldOnSave reports whether a release drops a node's temporary
// offline cause when its configuration is saved (jenkinsci/jenkins #26146:
// reported on 2.528.3, fixed in 2.548 and LTS 2.541.2; taken from 2.482,
// where #26750 begins). There a hold can go alone, looking like a
// person's release, so a person's original hold is written back once.
func DropsHoldOnSave(version string) bool {
	v := versionParts(version)
	if v == nil {
		return false
	}
	at := func(parts ...int) int { return compareParts(v, parts) }
	return at(2, 482) >= 0 && at(2, 541, 2) < 0 || at(2, 542) >= 0 && at(2, 548) < 0
}

// DropsHolds reports whether a Jenkins release drops temporary offline
// causes on restart, reload or node save: 2.482 up to 2.555.2 (weekly
// 2.482 to 2.563), jenkinsci/jenkins #26750 and #26146.
func DropsHolds(version string) bool {
	v := versionParts(version)
	if v == nil {
		return false
	}
	at := func(parts ...int) int { return compareParts(v, parts) }
	return at(2, 482) >= 0 && at(2, 555, 3) < 0 || at(2, 556) >= 0 && at(2, 564) < 0
}

func versionParts(s string) []int {
	var out []int
	n, digits := 0, 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) && s[i] >= '0' && s[i] <= '9' {
			n, digits = n*10+int(s[i]-'0'), digits+1
			if digits > 9 {
				return nil
			}
			continue
		}
		if digits == 0 {
			return out
		}
		out = append(out, n)
		n, digits = 0, 0
		if i == len(s) || s[i] != '.' {
			return out
		}
	}
	return out
}

func compareParts(a, b []int) int {
	for i := range max(len(a), len(b)) {
		var x, y int
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if x != y {
			return x - y
		}
	}
	return 0
}
