package fakejenkins

import (
	"errors"
	"fmt"
	"time"
)

// BuildID identifies a build started with StartBuild.
type BuildID int

// BuildState is where a build is in its life.
type BuildState string

const (
	BuildRunning BuildState = "running"
	BuildSuccess BuildState = "success"
	BuildAborted BuildState = "aborted"
)

// ErrNoExecutor is returned (wrapped) by StartBuild when the node takes no
// new builds: it is offline (temporarily or with its channel down) or every
// executor is busy.
var ErrNoExecutor = errors.New("fakejenkins: no executor available")

type build struct {
	id       BuildID
	node     *node
	state    BuildState
	executor int
	started  time.Time
}

// jobName is the job every fake build belongs to in the API output, so that
// build numbers grow like a real job's.
const jobName = "failover-probe"

// StartBuild starts a build on a free executor of the node.
func (c *Controller) StartBuild(nodeName string) (BuildID, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, err := c.mustLookup(nodeName)
	if err != nil {
		return 0, err
	}
	if n.offline() {
		return 0, fmt.Errorf("%w: %s is offline", ErrNoExecutor, nodeName)
	}
	for i, id := range n.executors {
		if id != 0 {
			continue
		}
		c.lastBuild++
		b := &build{id: c.lastBuild, node: n, state: BuildRunning, executor: i, started: c.now()}
		c.builds[b.id] = b
		n.executors[i] = b.id
		return b.id, nil
	}
	return 0, fmt.Errorf("%w: all %d executors of %s are busy", ErrNoExecutor, len(n.executors), nodeName)
}

// FinishBuild completes a running build successfully.
func (c *Controller) FinishBuild(id BuildID) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, ok := c.builds[id]
	if !ok {
		return fmt.Errorf("fakejenkins: no build %d", id)
	}
	if b.state != BuildRunning {
		return fmt.Errorf("fakejenkins: build %d is %s, not running", id, b.state)
	}
	b.state = BuildSuccess
	b.node.executors[b.executor] = 0
	return nil
}

// Build reports the node a build ran on and its state.
func (c *Controller) Build(id BuildID) (node string, state BuildState, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, ok := c.builds[id]
	if !ok {
		return "", "", false
	}
	return b.node.urlName(), b.state, true
}

// abortBuilds fails every build running on n. Callers hold c.mu.
func (c *Controller) abortBuilds(n *node) {
	for i, id := range n.executors {
		if id == 0 {
			continue
		}
		c.builds[id].state = BuildAborted
		n.executors[i] = 0
	}
}
