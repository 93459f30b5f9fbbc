package jenkins

import (
	"context"
	"errors"

	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/agent"
)

// Jenkins offers no idempotent "set online" and no compare-and-set: only
// toggleOffline, which flips whatever it finds. Every change here is
// therefore one intent, carried out the same way for every caller: a fresh
// read, the caller's guard on that read, the request, and a read that
// confirms it took.

// ErrNotTaken is returned when the confirming read shows that a change
// Jenkins accepted did not take effect.
var ErrNotTaken = errors.New("the change did not take effect")

// BringOnline clears a node's temporarily-offline mark (toggleOffline),
// only if a fresh read shows it temporarily offline and guard agrees, and
// confirms with another read. A node already online is left as it is.
func (c *Client) BringOnline(ctx context.Context, name string, guard agent.Guard) (agent.Change, error) {
	fresh, err := c.Computer(ctx, name)
	if err != nil {
		return agent.Change{}, err
	}
	if !fresh.TemporarilyOffline {
		return agent.Change{Outcome: agent.Already, After: fresh}, nil
	}
	if ch, declined := check(guard, fresh); declined {
		return ch, nil
	}
	if err := c.toggleOffline(ctx, name); err != nil {
		return agent.Change{After: fresh}, err
	}
	after, err := c.Computer(ctx, name)
	if err != nil {
		return agent.Change{After: fresh}, err
	}
	if after.TemporarilyOffline {
		return agent.Change{After: after}, &Error{Op: "toggleOffline", Node: name, Kind: KindBadResponse, Err: ErrNotTaken}
	}
	return agent.Change{Outcome: agent.Changed, After: after}, nil
}

// Park marks a node temporarily offline with message (the idempotent
// changeOfflineCause; running builds go on), only if guard agrees with a
// fresh read, and confirms with another read. A node already offline with
// exactly that message is left as it is.
func (c *Client) Park(ctx context.Context, name, message string, guard agent.Guard) (agent.Change, error) {
	fresh, err := c.Computer(ctx, name)
	if err != nil {
		return agent.Change{}, err
	}
	if ch, declined := check(guard, fresh); declined {
		return ch, nil
	}
	if fresh.TemporarilyOffline && fresh.CauseReason == message {
		return agent.Change{Outcome: agent.Already, After: fresh}, nil
	}
	if err := c.changeOfflineCause(ctx, name, message); err != nil {
		return agent.Change{After: fresh}, err
	}
	after, err := c.Computer(ctx, name)
	if err != nil {
		return agent.Change{After: fresh}, err
	}
	if !after.TemporarilyOffline {
		return agent.Change{After: after}, &Error{Op: "changeOfflineCause", Node: name, Kind: KindBadResponse, Err: ErrNotTaken}
	}
	// The message may differ from ours: a second watchdog or a person
	// wrote theirs in between. The node is offline either way; the
	// caller reads After to see whose it is.
	return agent.Change{Outcome: agent.Changed, After: after}, nil
}

// Launch asks Jenkins to connect a node's agent (launchSlaveAgent), only
// if a fresh read shows its channel down and guard agrees. Jenkins
// launches in the background, so there is nothing to confirm yet.
func (c *Client) Launch(ctx context.Context, name string, guard agent.Guard) (agent.Change, error) {
	fresh, err := c.Computer(ctx, name)
	if err != nil {
		return agent.Change{}, err
	}
	if fresh.Connected {
		return agent.Change{Outcome: agent.Already, After: fresh}, nil
	}
	if ch, declined := check(guard, fresh); declined {
		return ch, nil
	}
	if err := c.launchSlaveAgent(ctx, name); err != nil {
		return agent.Change{After: fresh}, err
	}
	return agent.Change{Outcome: agent.Changed, After: fresh}, nil
}

// toggleOffline, changeOfflineCause and launchSlaveAgent are the bare
// requests; only the intents above send them.
func (c *Client) toggleOffline(ctx context.Context, name string) error {
	return c.post(ctx, "toggleOffline", name, nil)
}

func (c *Client) changeOfflineCause(ctx context.Context, name, message string) error {
	return c.post(ctx, "changeOfflineCause", name, map[string]string{"offlineMessage": message})
}

func (c *Client) launchSlaveAgent(ctx context.Context, name string) error {
	return c.post(ctx, "launchSlaveAgent", name, nil)
}

func check(guard agent.Guard, fresh agent.NodeInfo) (agent.Change, bool) {
	if guard == nil {
		return agent.Change{}, false
	}
	if err := guard(fresh); err != nil {
		return agent.Change{Outcome: agent.Declined, Reason: err, After: fresh}, true
	}
	return agent.Change{}, false
}
