package jenkins

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/agent"
)

// A poll reads either the whole list of computers in one request, or the
// watched nodes one by one. The list makes the controller render every
// computer: on a controller of 10,000 agents that is some 3 MB of JSON
// per poll for the 20 nodes of ten groups, and rendering is the work a
// Jenkins installation can least afford. Reading the nodes one by one
// costs a request each, on the controller and here, so it pays only when
// the watched nodes are few against the controller's computers.
//
// The choice is made from what the last full listing showed and listed
// again every recheckEvery, so that a controller that grows or shrinks is
// noticed. The first poll lists. Either way a poll yields one consistent
// reading or an error:
//   - a node the controller does not have is absent from the snapshot
//     (the watcher's "missing"), a 404 for its own URL as for the list;
//     but when no node at all is found, a wrong URL or path prefix would
//     look the same, so one computer of the list is read to tell (its
//     404 is the listing's: not_found);
//   - every answer of the poll must carry the same X-Jenkins-Session: a
//     controller that restarted between two reads gave some of them from
//     before the restart, and the poll reads the list instead;
//   - any other failed read fails the poll, with the kinds the listing has
//     (401 auth, 403 forbidden, 5xx unavailable, ...), and the
//     reads still in flight are cancelled;
//   - the built-in node is never managed: watched under its URL name it
//     reads as missing, as the listing leaves it out.

// ReadStrategy is how a poll reads the nodes.
type ReadStrategy int

const (
	// ReadAuto lists the computers, then reads the watched nodes one by
	// one while that is cheaper, listing again every recheckEvery.
	ReadAuto ReadStrategy = iota
	// ReadList reads the whole list on every poll.
	ReadList
	// ReadEach reads the watched nodes one by one on every poll.
	ReadEach
)

const (
	// eachInFlight bounds the per-node reads of a poll in flight: as many
	// as the transport keeps idle connections to the controller (see New),
	// so every poll reuses kept-alive connections.
	eachInFlight = 4
	// eachFactor: nodes are read one by one when watched × eachFactor ≤
	// the computers of the last listing. A request costs the watchdog
	// about as much as decoding 50 listed computers (docs/performance.md);
	// on the controller, authenticating and routing a request costs more
	// than rendering one computer's few fields.
	eachFactor = 32
	// recheckEvery is how long per-node polls go on before a poll lists
	// the computers again. An hour keeps the list's cost to one poll in
	// 360 at the default interval.
	recheckEvery = time.Hour
)

// readPlan remembers what the last listing showed. Polls run one at a
// time; the mutex only keeps a stray concurrent caller safe.
type readPlan struct {
	strategy ReadStrategy
	nodes    []string // watched, sorted, without duplicates
	now      func() time.Time

	mu        sync.Mutex
	reading   sync.Mutex // held by the poll that uses decoders
	each      bool       // the last listing chose per-node reads
	recheckAt time.Time  // when the next listing is due while each
	// decoders are the per-node readers', one for each read in flight,
	// kept from poll to poll with the strings they intern.
	decoders [eachInFlight]*decoder
}

func newReadPlan(o Options) *readPlan {
	p := &readPlan{strategy: o.Read, now: o.Now}
	if p.now == nil {
		p.now = time.Now
	}
	p.nodes = slices.Clone(o.Nodes)
	slices.Sort(p.nodes)
	p.nodes = slices.Compact(p.nodes)
	for i := range p.decoders {
		p.decoders[i] = newDecoder()
	}
	return p
}

// readEach tells whether this poll reads the nodes one by one.
func (p *readPlan) readEach() bool {
	if len(p.nodes) == 0 {
		return false
	}
	switch p.strategy {
	case ReadList:
		return false
	case ReadEach:
		return true
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.each && p.now().Before(p.recheckAt)
}

// listed takes in what a successful listing showed: its computers but
// the built-in node.
func (p *readPlan) listed(agents int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	// The built-in node is rendered too.
	p.each = len(p.nodes) > 0 && len(p.nodes)*eachFactor <= agents+1
	p.recheckAt = p.now().Add(recheckEvery)
}

// postpone keeps reading nodes one by one after a re-check failed: the
// list may be what fails (too large, too slow), and the last listing's
// choice stands until the next re-check.
func (p *readPlan) postpone() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.recheckAt = p.now().Add(recheckEvery)
}

// poll reads the snapshot of one poll, by the strategy in force.
func (c *Client) poll(ctx context.Context) (agent.Snapshot, error) {
	p := c.plan
	if !p.readEach() {
		snap, err := c.computers(ctx)
		if err == nil {
			p.listed(len(snap.Nodes))
			return snap, nil
		}
		if p.strategy != ReadAuto || !p.each {
			return agent.Snapshot{}, err
		}
		// A re-check that failed: read the nodes as the last listing
		// chose, and try the list again after the interval.
		p.postpone()
	}
	snap, err := c.readNodes(ctx)
	if errors.Is(err, errRestartedMidPoll) {
		// Some answers came from before a restart: the list is one
		// answer, from one controller session.
		if snap, err = c.computers(ctx); err == nil {
			p.listed(len(snap.Nodes))
		}
	}
	return snap, err
}

// errRestartedMidPoll: the answers of one poll carry different sessions.
var errRestartedMidPoll = errors.New("the controller restarted during the poll")

// nodeRead is the outcome of one node's read.
type nodeRead struct {
	info             agent.NodeInfo
	found            bool
	session, version string
}

// readNodes reads every watched node, eachInFlight at a time.
func (c *Client) readNodes(ctx context.Context) (agent.Snapshot, error) {
	names := c.plan.nodes
	reads := make([]nodeRead, len(names))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		next     int
		firstErr error
	)
	// take hands out the next node to read, none once a read failed.
	take := func() int {
		mu.Lock()
		defer mu.Unlock()
		if firstErr != nil || next == len(names) {
			return -1
		}
		next++
		return next - 1
	}
	decoders := c.plan.decoders[:]
	if c.plan.reading.TryLock() {
		defer c.plan.reading.Unlock()
	} else {
		decoders = nil // another poll's: use fresh ones
	}
	for w := range min(eachInFlight, len(names)) {
		var d *decoder
		if decoders != nil {
			d = decoders[w]
		} else {
			d = newDecoder()
		}
		wg.Go(func() {
			for i := take(); i >= 0; i = take() {
				r, err := c.readNode(ctx, d, names[i])
				if err != nil {
					mu.Lock()
					// The first failure is the poll's; the reads it
					// cancels fail only because of it.
					if firstErr == nil {
						firstErr = err
						cancel()
					}
					mu.Unlock()
					return
				}
				reads[i] = r
			}
		})
	}
	wg.Wait()
	for _, d := range decoders {
		d.trim(len(names))
	}
	if firstErr != nil {
		return agent.Snapshot{}, firstErr
	}
	snap := agent.Snapshot{Nodes: make(map[string]agent.NodeInfo, len(names)),
		Version: reads[0].version, Session: reads[0].session}
	for i, r := range reads {
		if r.session != snap.Session || r.version != snap.Version {
			return agent.Snapshot{}, errRestartedMidPoll
		}
		if r.found {
			snap.Nodes[names[i]] = r.info
		}
	}
	if len(snap.Nodes) == 0 {
		return c.confirmNoneFound(ctx, snap)
	}
	return snap, nil
}

// readNode reads one node; a 404 is a node the controller does not have.
func (c *Client) readNode(ctx context.Context, d *decoder, name string) (nodeRead, error) {
	const op = "read computer"
	var (
		info    agent.NodeInfo
		builtIn bool
	)
	resp, err := c.getJSON(ctx, op, name, nodePath(name)+"/", nodeFields, plain, func(r io.Reader) (err error) {
		info, builtIn, err = d.node(r)
		return err
	})
	var r nodeRead
	if resp != nil {
		r.version, r.session = controllerHeaders(resp)
	}
	switch {
	case errors.Is(err, ErrNotFound), err == nil && builtIn:
		return r, nil
	case err != nil:
		return r, err
	case info.Name != name:
		return r, badResponse(op, name, resp, fmt.Errorf("asked for %q, got %q", name, info.Name))
	}
	r.info, r.found = info, true
	return r, nil
}

// confirmNoneFound checks, when every watched node answered 404, that the
// URL reaches Jenkins' computers at all: it reads the first computer of
// the list (the built-in node), one computer's rendering. A wrong URL or
// path prefix fails here as the listing would.
func (c *Client) confirmNoneFound(ctx context.Context, snap agent.Snapshot) (agent.Snapshot, error) {
	d, owned := c.decoders.get()
	defer c.decoders.put(owned)
	resp, err := c.getJSON(ctx, "read computers", "", "/computer/", computersTree+"{0}", plain, func(r io.Reader) error {
		_, err := d.computers(r)
		return err
	})
	if err != nil {
		return agent.Snapshot{}, err
	}
	if version, session := controllerHeaders(resp); session != snap.Session || version != snap.Version {
		return agent.Snapshot{}, errRestartedMidPoll
	}
	return snap, nil
}

// node decodes a /computer/<name>/api/json answer, telling the built-in
// node, which the listing leaves out, from an agent.
func (d *decoder) node(r io.Reader) (info agent.NodeInfo, builtIn bool, err error) {
	d.reset(r)
	defer d.shed()
	var c rawComputer
	if err := d.readComputer(&c); err != nil && !errors.Is(err, io.EOF) {
		return agent.NodeInfo{}, false, syntaxOrType(err)
	}
	if c.builtIn {
		return agent.NodeInfo{}, true, nil
	}
	if c.longName {
		return agent.NodeInfo{}, false, errLongName
	}
	info, err = c.info()
	return info, false, err
}
