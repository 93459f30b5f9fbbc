package agent

// Readiness is whether a standby could take over now, judged from one read
// of it: a standby is only as good as its channel. It says nothing of the
// machine behind a connected channel (disk, tools, credentials).
type Readiness struct {
	Ready bool
	// Why says in a few words what the judgment rests on.
	Why string
}

// Reasons a standby is or is not ready, as /status and the page show them.
const (
	WhyParkedConnected = "parked and connected"
	WhyOnline          = "online"
	WhyParkedDown      = "parked, its channel is down"
	WhyDisconnected    = "disconnected"
	WhyLaunchFailed    = "disconnected, its last launch failed"
	WhyHeld            = "held by a person or a node monitor"
	WhyMissing         = "missing from the controller"
	WhyUnknown         = "not read yet"
)

// Judge tells whether a standby is ready: parked (or online, carrying) with
// its channel up. A parked standby whose channel is down is not: with the
// default Always retention strategy Jenkins keeps relaunching it, so one
// that stays disconnected has a dead machine or a broken launcher. A held
// standby belongs to someone else, a missing one to nobody.
func Judge(n NodeInfo, present bool) Readiness {
	switch Classify(n, present) {
	case Online:
		return Readiness{Ready: true, Why: WhyOnline}
	case Parked:
		switch {
		case n.Connected:
			return Readiness{Ready: true, Why: WhyParkedConnected}
		case n.CauseClass == CauseLaunchFailed:
			return Readiness{Why: WhyLaunchFailed}
		}
		return Readiness{Why: WhyParkedDown}
	case Disconnected:
		if n.CauseClass == CauseLaunchFailed {
			return Readiness{Why: WhyLaunchFailed}
		}
		return Readiness{Why: WhyDisconnected}
	case Held:
		return Readiness{Why: WhyHeld}
	case Missing:
		return Readiness{Why: WhyMissing}
	}
	return Readiness{Why: WhyUnknown}
}
