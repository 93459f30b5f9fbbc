package watcher

import "github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/agent"

// Attempt is what a failover in progress remembers: the standby being
// brought up, the claims on it, and the standbys given up on. The claim
// protocol, the pick and the bring-up live here; decide.go keeps the
// phases and the situations. An Attempt is reset as one value when the
// failover ends (reset), and a candidate is dropped as one (drop).
type Attempt struct {
	// Candidate is the standby being brought online during this failover,
	// by this instance or by another one whose claim it carries;
	// CandidatePolls are the polls this instance has spent bringing it
	// up itself, and Polls every poll since it was picked, waiting on a
	// peer included. A candidate not online within AttemptBound polls is
	// given up, however often its claim changed hands.
	Candidate      string
	CandidatePolls int
	Polls          int
	// Asked is set once the candidate was asked to come online (toggled,
	// launched, or waited for while disconnected). Until then, and for
	// at least one poll after its claim, it is not given up on its own
	// wait: with STANDBY_WAIT=1 a standby claimed while failing over
	// still gets its toggle.
	Asked bool
	// Claimed is the standby seen claimed by a watchdog (this one or
	// another) during this failover: when it comes online, a watchdog
	// brought it up, Jenkins did not.
	Claimed string
	// PeerClaim is another instance's claim being waited for, and
	// PeerClaimPolls for how many polls it has stood without the standby
	// being toggled. A claim that stands PeerClaimWait polls is taken
	// over; the wait is STANDBY_WAIT plus a random share drawn once per
	// claim, so that instances do not take over on the same poll.
	PeerClaim      string
	PeerClaimPolls int
	PeerClaimWait  int
	// Tried holds the standbys given up on during this failover; the value
	// says whether the node's channel was up when it was given up. A
	// standby given up while disconnected is tried again once its channel
	// is back.
	Tried map[string]bool
}

// AttemptBound is the number of polls a standby gets from being picked to
// being online: its own STANDBY_WAIT, plus the longest wait on a peer's
// claim (STANDBY_WAIT and up to as much again of jitter), plus the poll
// of a take-over. Past it the standby counts as tried and the next one is
// used, whatever claims it carries.
func AttemptBound(standbyWait int) int { return 3*max(standbyWait, 1) + 1 }

// reset forgets the failover: it ended.
func (a *Attempt) reset() { *a = Attempt{} }

// start makes sb the candidate.
func (a *Attempt) start(sb string) {
	a.Candidate, a.CandidatePolls, a.Polls, a.Asked = sb, 0, 0, false
	a.forgetPeer()
	delete(a.Tried, sb)
}

// drop gives the candidate up; connected says whether its channel was up
// (a standby given up disconnected is tried again once connected).
func (a *Attempt) drop(connected bool) {
	a.Tried = withTried(a.Tried, a.Candidate, connected)
	a.Candidate, a.CandidatePolls, a.Polls, a.Asked = "", 0, 0, false
	a.forgetPeer()
}

// carried ends the bring-up: c carries. What was tried is kept until the
// failover ends, so a standby given up is not picked again meanwhile.
func (a *Attempt) carried(c string) {
	*a = Attempt{Claimed: c, Tried: a.Tried}
}

func (a *Attempt) forgetPeer() { a.PeerClaim, a.PeerClaimPolls, a.PeerClaimWait = "", 0, 0 }

// waitForPeer counts one more poll of another instance's claim standing;
// a new owner gets a wait of its own, drawn once (wait).
func (a *Attempt) waitForPeer(prev Attempt, owner string, wait int) {
	a.PeerClaim, a.PeerClaimPolls, a.PeerClaimWait = owner, 1, wait
	if owner == prev.PeerClaim {
		a.PeerClaimPolls, a.PeerClaimWait = prev.PeerClaimPolls+1, prev.PeerClaimWait
	}
}

// peerWaitOver reports a claim that has stood its wait: take it over.
func (a Attempt) peerWaitOver(owner string) bool {
	return owner == a.PeerClaim && a.PeerClaimPolls >= a.PeerClaimWait
}

func withTried(tried map[string]bool, node string, connected bool) map[string]bool {
	if tried == nil {
		tried = map[string]bool{}
	}
	tried[node] = connected
	return tried
}

// followCandidate handles the standby being brought up. It returns false
// when the candidate is dropped and the next one must be picked.
func (s *situation) followCandidate(c string) bool {
	cs := s.state(c)
	n := s.in.Nodes[c]
	owner := agent.ClaimOwner(n)
	givenUp, wasConnected := triedByTag(n)
	// Another instance claimed it and has not toggled it yet.
	peerClaimed := cs == agent.Parked && owner != "" && owner != s.me()
	switch {
	case cs == agent.Held || cs == agent.Missing:
		// Someone took the standby for themselves, or deleted it.
		s.next.Attempt.drop(false)
		return false
	case cs == agent.Parked && givenUp:
		// Another instance gave up on it first: so does this one.
		s.next.Attempt.drop(wasConnected)
		return false
	case s.prev.Polls+1 >= AttemptBound(s.p.StandbyWait), (s.prev.Asked || s.prev.CandidatePolls > 0) && s.prev.CandidatePolls+1 >= s.p.StandbyWait && !peerClaimed:
		// It had its chance, or claims kept it waiting too long. Park
		// it, saying so in Jenkins, so that it takes no build the moment
		// it connects while the next standby carries, and so a restarted
		// watchdog (or a peer) skips it too.
		if peerClaimed {
			s.d.ClaimAbandoned = owner
		}
		s.add(Action{Kind: ActionPark, Node: c, Why: giveUpMessage(n.Connected), Retag: true, OnlyIfOffline: true})
		s.next.Attempt.drop(n.Connected)
		return false
	case peerClaimed:
		// Wait, unless its claim has stood too long (that instance
		// died): bringUp takes it over then.
		s.next.Polls = s.prev.Polls + 1
		s.next.Phase = PhaseFailingOver
		s.bringUp(c)
		s.parkStrays(c)
		return true
	default:
		s.next.Polls = s.prev.Polls + 1
		s.next.CandidatePolls = s.prev.CandidatePolls + 1
		s.next.Phase = PhaseFailingOver
		// The last attempt did not take (a failed request, someone
		// parked it again, a launch that failed): try once more this
		// poll. A launch of a connected agent is not sent.
		s.bringUp(c)
		s.parkStrays(c)
		return true
	}
}

// bringUp asks for a standby to come online. A parked one is claimed
// first; it is toggled on a later poll, once a fresh read shows this
// instance's claim still there. Another instance's claim is waited for,
// and taken over when it stood too long. A disconnected one is launched,
// or, if inbound, waited for.
func (s *situation) bringUp(sb string) {
	n := s.in.Nodes[sb]
	why := "primary " + s.g.Primary + " is down"
	switch s.state(sb) {
	case agent.Parked:
		s.next.Claimed = sb
		switch owner := agent.ClaimOwner(n); {
		case owner == s.me():
			s.next.forgetPeer()
			s.next.Asked = true
			s.add(Action{Kind: ActionOnline, Node: sb, Why: why})
			if !n.Connected && n.Launchable {
				s.add(Action{Kind: ActionLaunch, Node: sb, Why: "standby is disconnected"})
			}
		case owner == "":
			s.claim(sb, "")
		case s.prev.peerWaitOver(owner):
			s.next.forgetPeer()
			s.d.ClaimTakenOver = owner
			s.claim(sb, owner)
		default:
			s.next.waitForPeer(s.prev.Attempt, owner, s.p.StandbyWait+s.in.Jitter)
			s.d.WaitsForPeer = true
		}
	case agent.Disconnected:
		s.next.Asked = true
		// Jenkins' launchSlaveAgent forces a reconnect: an agent it is
		// launching (offline with no cause) is left to finish.
		if n.Launchable && !n.NeverConnected() {
			s.add(Action{Kind: ActionLaunch, Node: sb, Why: why})
		}
		// An inbound agent can only be waited for.
	}
}

// pick returns the standby to bring up, or "": the first ready one by
// priority (see readyFirst), else the first that can be brought up at all.
func (s *situation) pick() string {
	return readyFirst(s.g.Standbys, s.pickable, s.ready)
}

// pickable: the standby can be brought up and was not given up on in this
// failover.
func (s *situation) pickable(sb string) bool {
	n := s.in.Nodes[sb]
	if wasConnected, tried := s.next.Tried[sb]; tried && (wasConnected || !n.Connected) {
		return false
	}
	if tagged, wasConnected := triedByTag(n); tagged && (wasConnected || !n.Connected) {
		if _, mem := s.next.Tried[sb]; !mem {
			return false
		}
	}
	st := s.state(sb)
	return st == agent.Parked || st == agent.Disconnected
}

func (s *situation) ready(sb string) bool {
	n, ok := s.in.Nodes[sb]
	return agent.Judge(n, ok).Ready
}

func (s *situation) me() string { return agent.SanitizeInstance(s.p.Instance) }

func (s *situation) claim(sb, replaces string) {
	s.add(Action{Kind: ActionClaim, Node: sb, Why: "claim before bringing it online",
		Message: agent.ClaimMessage(s.p.Instance, s.g.Name()), Replaces: replaces})
}
