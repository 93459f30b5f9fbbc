package fakejenkins

import (
	"hash/fnv"
	"strconv"
)

// This file builds the full object graph of each API endpoint. Property
// names, their order (Stapler sorts them by name, superclass first),
// "_class" values and visibilities follow Jenkins core, so that the default
// and depth=1 payloads have the shape and roughly the size of real ones.

// view is what the requester may see.
type view struct {
	rootURL string // absolute, with the prefix and a trailing slash
	// canConnect: Jenkins shows monitorData and absoluteRemotePath only to
	// users with Computer/Connect.
	canConnect bool
	// lang is the language offline causes are worded in: the request's
	// Accept-Language, or the one Options.Locale forces.
	lang string
}

// History lengths of the load statistics time series, as after an hour of
// uptime: the ring buffers (10 s, 1 min, 1 h samples) are not full yet.
const (
	historySec10 = 360
	historyMin   = 60
	historyHour  = 1
)

func (c *Controller) computerSetObject(v view) *object {
	var busy, total int
	computers := make([]any, 0, len(c.nodes))
	for _, n := range c.sortedNodes() {
		// ComputerSet counts only the executors of online computers.
		if !n.offline() {
			busy += n.busy()
			total += n.numExecutors
		}
		computers = append(computers, c.computerObject(n, v))
	}
	return &object{class: "hudson.model.ComputerSet", fields: []field{
		prop("busyExecutors", busy),
		inlineProp("computer", computers),
		prop("displayName", "Nodes"),
		prop("totalExecutors", total),
	}}
}

func (c *Controller) computerObject(n *node, v view) *object {
	class, displayName := "hudson.slaves.SlaveComputer", n.name
	if n.builtIn {
		class, displayName = "hudson.model.Hudson$MasterComputer", "Built-In Node"
	}
	var causeValue any
	reason := ""
	if cause := n.offlineCause(); cause != nil {
		causeValue, reason = c.causeObject(cause, v), cause.reason(v.lang, c.escapesReason())
	}
	icon := computerIcon(n)
	o := &object{class: class, fields: []field{
		prop("actions", []any{}),
		prop("assignedLabels", lazy(func() any { return c.labelObjects(n, loadStatistics(n)) })),
		prop("description", n.description),
		prop("displayName", displayName),
		prop("executors", lazy(func() any { return c.executorObjects(n, v) })),
		prop("icon", icon),
		prop("iconClassName", icon),
		prop("idle", n.busy() == 0),
		prop("jnlpAgent", !n.builtIn && n.launch == Inbound),
		prop("launchSupported", n.builtIn || n.launch == SSH),
		prop("loadStatistics", lazy(func() any { return loadStatistics(n) })),
		prop("manualLaunchAllowed", true),
		inlineProp("monitorData", lazy(func() any { return c.monitorData(n, v) })),
		prop("numExecutors", n.numExecutors),
		prop("offline", n.offline()),
		prop("offlineCause", causeValue),
		prop("offlineCauseReason", reason),
		prop("oneOffExecutors", []any{}),
		prop("temporarilyOffline", n.tempCause != nil),
	}}
	if !n.builtIn {
		// SlaveComputer.getAbsoluteRemotePath: null without Connect, and
		// null when there is no channel to ask.
		var path any
		if v.canConnect && n.connected {
			path = n.remoteFS
		}
		o.fields = append(o.fields, prop("absoluteRemotePath", path))
	}
	return o
}

// computerIcon is IComputer.getIcon.
func computerIcon(n *node) string {
	switch cause := n.offlineCause(); {
	case cause != nil && cause.class == causeUser:
		return "symbol-computer-disconnected"
	case cause != nil || n.offline():
		return "symbol-computer-offline"
	}
	return "symbol-computer"
}

func (c *Controller) causeObject(oc *offlineCause, v view) *object {
	o := &object{class: oc.class, fields: []field{prop("timestamp", oc.time.UnixMilli())}}
	switch oc.class {
	case causeUser:
		o.fields = append(o.fields, prop("description", oc.description(v.lang)))
	case causeDiskSpace:
		o.fields = append(o.fields,
			prop("path", oc.path),
			prop("size", diskSpaceFree),
			prop("totalSize", diskSpaceTotal))
	}
	return o
}

func (c *Controller) executorObjects(n *node, v view) []any {
	out := make([]any, len(n.executors))
	for i, id := range n.executors {
		var current any
		progress := -1
		if id != 0 {
			b := c.builds[id]
			current = c.runObject(b, v)
			// Builds are estimated at one minute, never quite finished.
			progress = min(int(c.now().Sub(b.started).Seconds()*100/60), 99)
		}
		out[i] = &object{fields: []field{
			prop("currentExecutable", current),
			prop("idle", id == 0),
			prop("likelyStuck", false),
			prop("number", i),
			prop("progress", progress),
		}}
	}
	return out
}

func (c *Controller) runObject(b *build, v view) *object {
	num := strconv.Itoa(int(b.id))
	return &object{class: "hudson.model.FreeStyleBuild", fields: []field{
		prop("actions", []any{&object{class: "hudson.model.CauseAction", fields: []field{
			prop("causes", []any{&object{class: "hudson.model.Cause$UserIdCause", fields: []field{
				prop("shortDescription", "Started by user admin"),
				prop("userId", "admin"),
				prop("userName", "admin"),
			}}}),
		}}}),
		prop("artifacts", []any{}),
		prop("building", true),
		prop("description", nil),
		prop("displayName", "#"+num),
		prop("duration", 0),
		prop("estimatedDuration", 60000),
		prop("executor", nil),
		prop("fullDisplayName", jobName+" #"+num),
		prop("id", num),
		prop("keepLog", false),
		prop2("number", int(b.id)),
		prop("queueId", int(b.id)+1000),
		prop("result", nil),
		prop("timestamp", b.started.UnixMilli()),
		prop2("url", v.rootURL+"job/"+jobName+"/"+num+"/"),
		prop("builtOn", b.node.name),
		prop("changeSet", &object{class: "hudson.scm.EmptyChangeLogSet", fields: []field{
			prop("items", []any{}),
			prop("kind", nil),
		}}),
		prop("culprits", []any{}),
	}}
}

// loadStatistics is the node's self label's LoadStatistics (an anonymous
// subclass, hence "hudson.model.Label$1").
func loadStatistics(n *node) *object {
	online, busy := 0, n.busy()
	if !n.offline() {
		online = n.numExecutors
	}
	series := func(name string, value int) field {
		ts := func(length int) *object {
			h := make([]float64, length)
			for i := range h {
				h[i] = float64(value)
			}
			return &object{fields: []field{prop("history", h), prop("latest", float64(value))}}
		}
		return prop(name, &object{fields: []field{
			prop("hour", ts(historyHour)),
			prop("min", ts(historyMin)),
			prop("sec10", ts(historySec10)),
		}})
	}
	return &object{class: "hudson.model.Label$1", fields: []field{
		series("availableExecutors", online-busy),
		series("busyExecutors", busy),
		series("connectingExecutors", 0),
		series("definedExecutors", n.numExecutors),
		series("idleExecutors", online-busy),
		series("onlineExecutors", online),
		series("queueLength", 0),
		series("totalExecutors", online),
	}}
}

// labelObjects lists the node's labels and, last, its self label. They are
// LabelAtoms in a Set<LabelAtom>: no "_class".
func (c *Controller) labelObjects(n *node, stats *object) []any {
	self := n.name
	nodeClass := "hudson.slaves.DumbSlave"
	if n.builtIn {
		self, nodeClass = "built-in", "hudson.model.Hudson"
	}
	names := append([]string{}, n.labels...)
	if len(names) == 0 || names[len(names)-1] != self {
		names = append(names, self)
	}
	online, busy := 0, n.busy()
	if !n.offline() {
		online = n.numExecutors
	}
	out := make([]any, 0, len(names))
	for _, name := range names {
		out = append(out, &object{fields: []field{
			prop("actions", []any{}),
			prop("busyExecutors", busy),
			prop("clouds", []any{}),
			prop("description", nil),
			prop("idleExecutors", online-busy),
			prop("loadStatistics", stats),
			prop2("name", name),
			prop("nodes", []any{&object{class: nodeClass, fields: []field{
				prop("mode", "NORMAL"),
				prop("nodeDescription", n.description),
				prop("nodeName", n.name),
				prop("numExecutors", n.numExecutors),
			}}}),
			prop("offline", n.offline()),
			prop("tiedJobs", []any{}),
			prop("totalExecutors", online),
			prop("propertiesList", []any{}),
		}})
	}
	return out
}

// monitorData is Computer.getMonitorData: the data of Jenkins' default node
// monitors, keyed by monitor class; empty without Computer/Connect. The
// numbers are fixed per node so that payloads are stable.
func (c *Controller) monitorData(n *node, v view) *object {
	if !v.canConnect {
		return mapObject()
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(n.name))
	seed := int64(h.Sum32() % 1000)
	now := c.now().UnixMilli()
	disk := func(path string, free int64) *object {
		return &object{class: causeDiskSpace, fields: []field{
			prop("timestamp", now),
			prop("path", path),
			prop("size", free),
			prop("totalSize", diskSpaceTotal),
		}}
	}
	values := []any{
		&object{class: "hudson.node_monitors.SwapSpaceMonitor$MemoryUsage2", fields: []field{
			prop("availablePhysicalMemory", int64(6<<30)+seed<<20),
			prop("availableSwapSpace", int64(2<<30)),
			prop("totalPhysicalMemory", int64(16<<30)),
			prop("totalSwapSpace", int64(2<<30)),
		}},
		disk("/tmp", int64(20<<30)+seed<<20),
		disk(n.remoteFS, int64(60<<30)+seed<<20),
		"Linux (amd64)",
		&object{class: "hudson.node_monitors.ResponseTimeMonitor$Data", fields: []field{
			prop("timestamp", now),
			prop("average", 20+seed%40),
		}},
		&object{class: "hudson.util.ClockDifference", fields: []field{prop("diff", seed%7-3)}},
	}
	keys := []string{
		"hudson.node_monitors.SwapSpaceMonitor",
		"hudson.node_monitors.TemporarySpaceMonitor",
		"hudson.node_monitors.DiskSpaceMonitor",
		"hudson.node_monitors.ArchitectureMonitor",
		"hudson.node_monitors.ResponseTimeMonitor",
		"hudson.node_monitors.ClockMonitor",
	}
	entries := make([]field, len(keys))
	for i, k := range keys {
		// Monitors have nothing to report on a node without a channel.
		var value any
		if n.connected {
			value = values[i]
		}
		entries[i] = prop(k, value)
	}
	return mapObject(entries...)
}

// hudsonObject is GET <prefix>/api/json: the Jenkins singleton.
func (c *Controller) hudsonObject(v view) *object {
	builtIn := c.nodes[0]
	allView := func() *object {
		return &object{class: "hudson.model.AllView", fields: []field{
			prop("description", nil),
			prop2("name", "all"),
			prop("property", []any{}),
			prop2("url", v.rootURL),
		}}
	}
	return &object{class: "hudson.model.Hudson", fields: []field{
		prop("assignedLabels", c.labelObjects(builtIn, loadStatistics(builtIn))),
		prop("mode", "NORMAL"),
		prop("nodeDescription", builtIn.description),
		prop("nodeName", ""),
		prop("numExecutors", builtIn.numExecutors),
		prop("description", nil),
		prop("jobs", []any{}),
		prop("overallLoad", &object{}),
		prop("primaryView", allView()),
		prop("quietDownReason", nil),
		prop("quietingDown", false),
		prop("slaveAgentPort", 50000),
		prop("unlabeledLoad", &object{class: "jenkins.model.UnlabeledLoadStatistics"}),
		prop("url", v.rootURL),
		prop("useCrumbs", true),
		prop("useSecurity", true),
		prop("views", []any{allView()}),
	}}
}

// crumbObject is GET <prefix>/crumbIssuer/api/json.
func crumbObject(crumb string) *object {
	return &object{class: "hudson.security.csrf.DefaultCrumbIssuer", fields: []field{
		prop("crumb", crumb),
		prop("crumbRequestField", "Jenkins-Crumb"),
	}}
}
