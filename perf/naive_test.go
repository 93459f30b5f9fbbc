package perf

import (
	"context"
	"errors"
	"net/http"

	"github.com/bndr/gojenkins"

	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/agent"
	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/config"
)

// naiveJenkins is the watcher.Jenkins a first-time gojenkins user writes:
// CreateJenkins + Init once, then per poll GetNode (one GET of
// /computer/<name>/api/json at default depth) and Poll (the same GET again)
// for every node of every group. It feeds the same watcher, so the decision
// and the metrics are the same as ours; only the fetch differs.
//
// It is also less correct, which the benchmarks do not hide: gojenkins'
// NodeResponse drops offlineCause's _class (it is struct{}) and has no
// absoluteRemotePath, so a person's hold cannot be told from a park and a
// parked standby always reads connected.
type naiveJenkins struct {
	j     *gojenkins.Jenkins
	nodes []string
}

func newNaive(ctx context.Context, url string, tr http.RoundTripper, groups []config.Group) (*naiveJenkins, error) {
	j := gojenkins.CreateJenkins(&http.Client{Transport: tr}, url, benchUser, benchToken)
	if _, err := j.Init(ctx); err != nil {
		return nil, err
	}
	n := &naiveJenkins{j: j}
	for _, g := range groups {
		n.nodes = append(n.nodes, g.Nodes()...)
	}
	return n, nil
}

func (n *naiveJenkins) read(ctx context.Context, name string) (agent.NodeInfo, error) {
	node, err := n.j.GetNode(ctx, name)
	if err != nil {
		return agent.NodeInfo{}, err
	}
	if _, err := node.Poll(ctx); err != nil {
		return agent.NodeInfo{}, err
	}
	r := node.Raw
	return agent.NodeInfo{
		Name: r.DisplayName, Offline: r.Offline, TemporarilyOffline: r.TemporarilyOffline,
		CauseReason: r.OfflineCauseReason, Connected: !r.Offline,
		Launchable: r.LaunchSupported && !r.JnlpAgent, Idle: r.Idle,
	}, nil
}

func (n *naiveJenkins) Computers(ctx context.Context) (agent.Snapshot, error) {
	snap := agent.Snapshot{Nodes: make(map[string]agent.NodeInfo, len(n.nodes)), Version: n.j.Version}
	for _, name := range n.nodes {
		info, err := n.read(ctx, name)
		if err != nil {
			return agent.Snapshot{}, err
		}
		snap.Nodes[name] = info
	}
	return snap, nil
}

// The naive client guards its changes as the watcher asks, reading the
// node with gojenkins first, but confirms nothing.
func (n *naiveJenkins) BringOnline(ctx context.Context, name string, guard agent.Guard) (agent.Change, error) {
	fresh, err := n.read(ctx, name)
	if err != nil {
		return agent.Change{}, err
	}
	if guard != nil {
		if err := guard(fresh); err != nil {
			return agent.Change{Outcome: agent.Declined, Reason: err, After: fresh}, nil
		}
	}
	node, err := n.j.GetNode(ctx, name)
	if err != nil {
		return agent.Change{}, err
	}
	ok, err := node.SetOnline(ctx)
	if err == nil && !ok {
		err = errors.New("node not brought online")
	}
	return agent.Change{Outcome: agent.Changed, After: fresh}, err
}

func (n *naiveJenkins) Park(ctx context.Context, name, message string, guard agent.Guard) (agent.Change, error) {
	fresh, err := n.read(ctx, name)
	if err != nil {
		return agent.Change{}, err
	}
	if guard != nil {
		if err := guard(fresh); err != nil {
			return agent.Change{Outcome: agent.Declined, Reason: err, After: fresh}, nil
		}
	}
	node, err := n.j.GetNode(ctx, name)
	if err != nil {
		return agent.Change{}, err
	}
	_, err = node.SetOffline(ctx, message)
	fresh.TemporarilyOffline, fresh.CauseReason = true, message
	return agent.Change{Outcome: agent.Changed, After: fresh}, err
}

func (n *naiveJenkins) Launch(ctx context.Context, name string, guard agent.Guard) (agent.Change, error) {
	node, err := n.j.GetNode(ctx, name)
	if err != nil {
		return agent.Change{}, err
	}
	_, err = node.LaunchNodeBySSH(ctx)
	return agent.Change{Outcome: agent.Changed}, err
}
