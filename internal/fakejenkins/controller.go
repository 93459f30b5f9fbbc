package fakejenkins

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// LaunchMethod is how the controller gets an agent's channel up.
type LaunchMethod int

const (
	// SSH agents are launched by the controller (launchSupported:true,
	// jnlpAgent:false): after a channel drop they stay down until someone
	// launches them (launchSlaveAgent, or the retention strategy: Relaunch).
	SSH LaunchMethod = iota
	// Inbound agents connect by themselves (launchSupported:false,
	// jnlpAgent:true): the controller cannot launch them.
	Inbound
)

func (l LaunchMethod) String() string {
	switch l {
	case SSH:
		return "SSH"
	case Inbound:
		return "Inbound"
	}
	return fmt.Sprintf("LaunchMethod(%d)", int(l))
}

// Permission is a Jenkins permission in the form the matrix UI shows it.
type Permission string

const (
	PermRead       Permission = "Overall/Read"
	PermConnect    Permission = "Computer/Connect"
	PermDisconnect Permission = "Computer/Disconnect"
	PermAdminister Permission = "Overall/Administer"
)

// id is the permission id Jenkins reports in X-Required-Permission.
func (p Permission) id() string {
	switch p {
	case PermRead:
		return "hudson.model.Hudson.Read"
	case PermConnect:
		return "hudson.model.Computer.Connect"
	case PermDisconnect:
		return "hudson.model.Computer.Disconnect"
	case PermAdminister:
		return "hudson.model.Hudson.Administer"
	}
	return string(p)
}

// impliedBy is the chain Jenkins walks (Permission.impliedBy) and reports,
// one X-Permission-Implied-By header each.
func (p Permission) impliedBy() []string {
	switch p {
	case PermRead:
		return []string{"hudson.security.Permission.GenericRead", PermAdminister.id()}
	case PermConnect:
		return []string{PermDisconnect.id(), PermAdminister.id()}
	case PermDisconnect:
		return []string{PermAdminister.id()}
	}
	return nil
}

// Options configure a Controller.
type Options struct {
	// Prefix is the servlet context path, such as "/jenkins"; "" serves at
	// the root. Requests outside the prefix answer 404.
	Prefix string
	// Version is sent as X-Jenkins; "2.479.3" when empty.
	Version string
	// AnonymousRead grants Overall/Read to anonymous requests.
	AnonymousRead bool
	// ControlAPI serves <prefix>/-/fake/ (see control.go). It has no
	// authentication at all: it is for driving a standalone fake from a
	// script on a developer machine, never for anything exposed.
	ControlAPI bool
	// RetentionAlways plays Jenkins' "Always" retention strategy for SSH
	// agents, which keeps relaunching them: a revived machine is launched
	// at once, and so is every SSH agent after a restart (RelaunchAll). Off,
	// SSH agents wait for an explicit launch, which is what tests want.
	RetentionAlways bool
	// Now is the clock behind timestamps in the API output; time.Now when
	// nil. Nothing in the fake waits on it.
	Now func() time.Time
	// Locale forces the language of every answer, as a locale plugin
	// does ("de", "ja", "ru", "bg"); "" follows each request's
	// Accept-Language.
	Locale string
}

// DefaultVersion is the X-Jenkins value when Options.Version is empty.
const DefaultVersion = "2.479.3"

// BuiltInNode is the name under which the API functions of this package
// address the built-in node, as Jenkins URLs do; "(master)" is accepted too.
const BuiltInNode = "(built-in)"

// Controller is a fake Jenkins controller. It serves the parts of the remote
// API described in shared/jenkins-api.md and exposes methods that play the
// outside world (machines dying, people clicking). It is safe for concurrent
// use; all state sits behind one mutex.
type Controller struct {
	prefix        string
	version       string
	locale        string // Options.Locale
	anonymousRead bool
	controlAPI    bool
	retention     bool
	now           func() time.Time
	// cookieName mimics Jetty's per-instance session cookie, JSESSIONID.<hex>.
	cookieName string

	closeOnce sync.Once
	closed    chan struct{}

	mu       sync.Mutex
	session  string // X-Jenkins-Session
	starting bool
	users    map[string]*user
	sessions map[string]*httpSession // by session cookie value
	nodes    []*node                 // nodes[0] is the built-in node
	// byName and sorted index nodes for controllers of 10,000 agents:
	// agents by name, and the listing's order (nil until needed again
	// after a change).
	byName    map[string]*node
	sorted    []*node
	builds    map[BuildID]*build
	lastBuild BuildID
	requests  []RequestRecord
	faults    []*Fault
	// slowHook runs when a FaultSlow request starts waiting, so that tests
	// can end the wait without sleeping.
	slowHook func()
}

type user struct {
	name   string
	secret string
	// token users authenticate with an API token and are exempt from CSRF
	// crumbs (Jenkins 2.96+); password users are not.
	token bool
	perms []Permission
	// more are further API tokens by name: Jenkins lets a user hold
	// several, so that peers share the user and keep their own token.
	more map[string]string
}

func (u *user) has(p Permission) bool {
	for _, q := range u.perms {
		if q == p || q == PermAdminister || (q == PermDisconnect && p == PermConnect) {
			return true
		}
	}
	return false
}

type httpSession struct {
	user  string // "" for anonymous
	crumb string
}

// node is a Jenkins Node together with its Computer (the live side).
type node struct {
	name         string // "" for the built-in node, as in Jenkins
	builtIn      bool
	launch       LaunchMethod
	numExecutors int
	remoteFS     string
	description  string
	labels       []string
	// casc marks a node defined by Configuration as Code, which the
	// affected Jenkins releases unpark on every start and reload.
	casc bool

	machineUp bool // the outside world: is the agent's machine running?
	connected bool // the remoting channel is up
	// tempCause is Node.temporaryOfflineCause: non-nil means temporarily
	// offline. It is saved with the node, so it survives restarts.
	tempCause *offlineCause
	// cause is Computer.offlineCause: why the channel is down (or the
	// message of the last doDisconnect). It lives in memory only.
	cause *offlineCause
	// executors holds the running build of each executor, 0 when idle.
	executors []BuildID
	// launchFailures counts launches that left no channel: the launch log
	// a person would read, which the API does not show.
	launchFailures int
}

func (n *node) offline() bool { return n.tempCause != nil || !n.connected }

// offlineCause is what Computer.getOfflineCause returns: the temporary
// cause wins over the channel cause.
func (n *node) offlineCause() *offlineCause {
	if n.tempCause != nil {
		return n.tempCause
	}
	return n.cause
}

func (n *node) busy() int {
	busy := 0
	for _, id := range n.executors {
		if id != 0 {
			busy++
		}
	}
	return busy
}

// urlName is the node's name as it appears in Jenkins URLs.
func (n *node) urlName() string {
	if n.builtIn {
		return BuiltInNode
	}
	return n.name
}

// New returns a controller with the built-in node (two executors), no users
// and no agents.
func New(opts Options) *Controller {
	c := &Controller{
		prefix:        strings.TrimRight(opts.Prefix, "/"),
		version:       opts.Version,
		locale:        opts.Locale,
		anonymousRead: opts.AnonymousRead,
		controlAPI:    opts.ControlAPI,
		retention:     opts.RetentionAlways,
		now:           opts.Now,
		cookieName:    "JSESSIONID." + randomHex(4),
		closed:        make(chan struct{}),
		session:       randomHex(4),
		users:         map[string]*user{},
		sessions:      map[string]*httpSession{},
		builds:        map[BuildID]*build{},
		byName:        map[string]*node{},
	}
	if c.version == "" {
		c.version = DefaultVersion
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.prefix != "" && !strings.HasPrefix(c.prefix, "/") {
		c.prefix = "/" + c.prefix
	}
	c.nodes = []*node{{
		builtIn:      true,
		numExecutors: 2,
		remoteFS:     "/var/jenkins_home",
		description:  "the Jenkins controller's built-in node",
		labels:       []string{"built-in"},
		machineUp:    true,
		connected:    true,
		executors:    make([]BuildID, 2),
	}}
	return c
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}

// Close releases requests held by FaultSlow (their connections are cut), and
// any later FaultSlow request is cut at once. Everything else keeps serving.
func (c *Controller) Close() {
	c.closeOnce.Do(func() { close(c.closed) })
}

// AddUser adds a user who authenticates with an API token. Token-
// authenticated POSTs need no CSRF crumb.
func (c *Controller) AddUser(name, apiToken string, perms ...Permission) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.users[name] = &user{name: name, secret: apiToken, token: true, perms: slices.Clone(perms)}
}

// AddToken gives an API-token user a further token, named as in the
// user's security page; requests made with it record the name.
func (c *Controller) AddToken(userName, tokenName, apiToken string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	u := c.users[userName]
	if u.more == nil {
		u.more = map[string]string{}
	}
	u.more[tokenName] = apiToken
}

// tokenName is the name of the further token a user authenticated with
// ("" for the first one or none). Callers hold c.mu.
func (u *user) tokenName(secret string) (string, bool) {
	for name, t := range u.more {
		if subtle.ConstantTimeCompare([]byte(t), []byte(secret)) == 1 {
			return name, true
		}
	}
	return "", false
}

// AddPasswordUser adds a user who authenticates with a password. Their POSTs
// need the crumb from GET crumbIssuer/api/json and that request's session
// cookie.
func (c *Controller) AddPasswordUser(name, password string, perms ...Permission) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.users[name] = &user{name: name, secret: password, perms: slices.Clone(perms)}
}

// AgentSpec describes an agent for AddAgent.
type AgentSpec struct {
	Name      string
	Launch    LaunchMethod
	Executors int    // 2 when zero
	RemoteFS  string // "/home/jenkins/agent" when empty
	// Description and Labels are optional; they only change the payload.
	Description string
	Labels      []string
	// CasC marks the agent as configured as code: Jenkins 2.482 to
	// 2.555.2 drop its temporarily-offline mark on restart and on a
	// Configuration-as-Code reload (jenkinsci/jenkins issue #26750).
	CasC bool
}

// ErrUnknownNode is returned (wrapped) for a node that does not exist.
var ErrUnknownNode = errors.New("fakejenkins: no such node")

// AddAgent adds an agent whose machine is up and whose channel is connected.
// Names follow Jenkins' rules: not empty, none of ?*/\%!@#$^&|<>[]:; and
// not already taken. Spaces and non-ASCII letters are fine.
func (c *Controller) AddAgent(spec AgentSpec) error {
	if spec.Name == "" || strings.TrimSpace(spec.Name) != spec.Name || strings.ContainsAny(spec.Name, `?*/\%!@#$^&|<>[]:;`) ||
		spec.Name == "." || spec.Name == ".." || spec.Name == BuiltInNode || spec.Name == "(master)" {
		return fmt.Errorf("fakejenkins: %q is not a valid node name", spec.Name)
	}
	if spec.Executors < 0 {
		return fmt.Errorf("fakejenkins: agent %q: negative executor count", spec.Name)
	}
	if spec.Executors == 0 {
		spec.Executors = 2
	}
	if spec.RemoteFS == "" {
		spec.RemoteFS = "/home/jenkins/agent"
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.lookup(spec.Name) != nil {
		return fmt.Errorf("fakejenkins: node %q already exists", spec.Name)
	}
	n := &node{
		name:         spec.Name,
		launch:       spec.Launch,
		numExecutors: spec.Executors,
		remoteFS:     spec.RemoteFS,
		description:  spec.Description,
		labels:       slices.Clone(spec.Labels),
		casc:         spec.CasC,
		machineUp:    true,
		connected:    true,
		executors:    make([]BuildID, spec.Executors),
	}
	c.nodes = append(c.nodes, n)
	c.byName[n.name] = n
	c.sorted = nil
	return nil
}

// lookup finds a node by the name used in URLs. Callers hold c.mu.
func (c *Controller) lookup(name string) *node {
	if name == BuiltInNode || name == "(master)" {
		return c.nodes[0]
	}
	return c.byName[name]
}

// mustLookup is lookup for the world methods, which report unknown names.
func (c *Controller) mustLookup(name string) (*node, error) {
	n := c.lookup(name)
	if n == nil {
		return nil, fmt.Errorf("%w: %q", ErrUnknownNode, name)
	}
	return n, nil
}

// agent is mustLookup restricted to agents: the built-in node has no
// machine to kill or channel to launch.
func (c *Controller) agent(name string) (*node, error) {
	n, err := c.mustLookup(name)
	if err != nil {
		return nil, err
	}
	if n.builtIn {
		return nil, fmt.Errorf("fakejenkins: %s is the built-in node, not an agent", name)
	}
	return n, nil
}

// sortedNodes is the order of ComputerSet.getComputers: sorted by name, so
// the built-in node (name "") comes first.
// Callers hold c.mu and must not change the slice.
func (c *Controller) sortedNodes() []*node {
	if c.sorted == nil {
		c.sorted = slices.Clone(c.nodes)
		slices.SortStableFunc(c.sorted, func(a, b *node) int { return strings.Compare(a.name, b.name) })
	}
	return c.sorted
}

// RemoveAgent deletes an agent. Its running builds are aborted and its URLs
// answer 404 afterwards.
func (c *Controller) RemoveAgent(name string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, err := c.agent(name)
	if err != nil {
		return err
	}
	c.abortBuilds(n)
	c.nodes = slices.DeleteFunc(c.nodes, func(m *node) bool { return m == n })
	delete(c.byName, n.name)
	c.sorted = nil
	return nil
}

// KillAgent is the agent process or its machine dying: Jenkins notices at
// once, the channel closes with ChannelTermination ("Connection was
// broken") and running builds are aborted. The machine stays down until
// ReviveAgent.
func (c *Controller) KillAgent(name string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, err := c.agent(name)
	if err != nil {
		return err
	}
	n.machineUp = false
	if n.connected {
		c.dropChannel(n, c.cause(causeChannelTermination))
	}
	return nil
}

// ReviveAgent brings the agent's machine back. An inbound agent reconnects
// by itself at once; an SSH agent stays disconnected until launched
// (launchSlaveAgent or Relaunch).
func (c *Controller) ReviveAgent(name string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, err := c.agent(name)
	if err != nil {
		return err
	}
	n.machineUp = true
	if n.launch == Inbound {
		c.connect(n)
	} else if c.retention {
		c.launch(n)
	}
	return nil
}

// LaunchInProgress is Jenkins launching a disconnected agent whose machine
// does not answer yet: SlaveComputer clears the offline cause when a launch
// starts, so until it fails the agent reads offline with no cause, as it
// does before its first connection.
func (c *Controller) LaunchInProgress(name string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, err := c.agent(name)
	if err != nil {
		return err
	}
	if !n.connected {
		n.cause = nil
	}
	return nil
}

// RelaunchAll is one periodic check of the "Always" retention strategy:
// every disconnected SSH agent is launched.
func (c *Controller) RelaunchAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range c.nodes[1:] {
		if n.launch == SSH && !n.connected {
			c.launch(n)
		}
	}
}

// Relaunch does what Jenkins' "Always" retention strategy does on its
// periodic check: launch a disconnected SSH agent. The launch succeeds when
// the machine is up and fails with LaunchFailed otherwise. Inbound agents
// and connected agents are left alone (launchSupported is false for the
// former; Jenkins skips launching a live channel).
func (c *Controller) Relaunch(name string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, err := c.agent(name)
	if err != nil {
		return err
	}
	if n.launch == SSH {
		c.launch(n)
	}
	return nil
}

// launch is SlaveComputer._connect: nothing when the channel is up;
// otherwise the launcher runs and, if it leaves no channel, the cause
// becomes LaunchFailed. Jenkins launches asynchronously; here the outcome
// is immediate, which a client must not rely on either way.
func (c *Controller) launch(n *node) {
	if n.connected {
		return
	}
	n.cause = nil
	if n.launch == SSH && n.machineUp {
		c.connect(n)
		return
	}
	// JNLPLauncher.launch does nothing, so an inbound launch "fails" too.
	// On a temporarily-offline node the failure is recorded on the
	// computer but hidden: its temporary cause is what the API shows.
	n.cause = c.cause(causeLaunchFailed)
	n.launchFailures++
}

// connect brings the channel up; SlaveComputer.setChannel clears the
// computer's offline cause (not the node's temporary one).
func (c *Controller) connect(n *node) {
	n.connected = true
	n.cause = nil
}

// dropChannel closes the channel with the given cause. Running builds fail:
// they ran over that channel.
func (c *Controller) dropChannel(n *node, cause *offlineCause) {
	n.connected = false
	n.cause = cause
	c.abortBuilds(n)
}

// OperatorOffline is a person marking the node temporarily offline with a
// message, as the "Mark this node temporarily offline" button does.
func (c *Controller) OperatorOffline(name, user, message string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, err := c.mustLookup(name)
	if err != nil {
		return err
	}
	n.tempCause = c.userCause(user, message)
	return nil
}

// OperatorOnline is a person clearing the temporarily-offline mark, whatever
// set it.
func (c *Controller) OperatorOnline(name string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, err := c.mustLookup(name)
	if err != nil {
		return err
	}
	n.tempCause = nil
	return nil
}

// MonitorOffline is the disk space monitor taking the node temporarily
// offline (DiskSpaceMonitorDescriptor$DiskSpace). Like any temporary
// cause, a toggleOffline or OperatorOnline clears it.
func (c *Controller) MonitorOffline(name string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, err := c.mustLookup(name)
	if err != nil {
		return err
	}
	cause := c.cause(causeDiskSpace)
	cause.path = n.remoteFS
	n.tempCause = cause
	return nil
}

// Restart is a controller restart: a new X-Jenkins-Session, HTTP sessions
// (and so crumbs) forgotten, every agent channel dropped. Temporarily-offline
// marks are saved with the nodes and survive, except on the Jenkins
// releases that drop them for agents configured as code (see ReloadCasC).
// Inbound agents whose machine is up reconnect by themselves; SSH agents
// stay down, reading offline with no cause, until launched. Builds that
// were running are aborted.
func (c *Controller) Restart() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.session = randomHex(4)
	c.unparkCasC()
	c.sessions = map[string]*httpSession{}
	c.abortBuilds(c.nodes[0])
	for _, n := range c.nodes[1:] {
		c.abortBuilds(n)
		// A fresh Computer has no offline cause until a launch says so.
		n.connected, n.cause = false, nil
		if n.launch == Inbound && n.machineUp {
			c.connect(n)
		}
	}
}

// ReloadCasC is a Configuration-as-Code reload. Jenkins 2.482 up to
// 2.555.2 replace the nodes configured as code without their temporarily-
// offline mark (Nodes.setNodes; jenkinsci/jenkins issue #26750, fixed in
// 2.555.3 and 2.564): a parked standby comes back online on its own.
// Other releases keep the mark and nothing changes.
func (c *Controller) ReloadCasC() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.unparkCasC()
}

func (c *Controller) unparkCasC() {
	if !DropsOfflineOnReload(c.version) {
		return
	}
	for _, n := range c.nodes[1:] {
		if n.casc {
			n.tempCause = nil
		}
	}
}

// escapesReason reports whether the release HTML-escapes
// offlineCauseReason: since 2.483 (jenkinsci/jenkins #9883).
func (c *Controller) escapesReason() bool {
	return compareVersion(parseVersion(c.version), []int{2, 483}) >= 0
}

// DropsOfflineOnReload reports whether a Jenkins release has issue #26750:
// 2.482 up to 2.555.2 (weekly 2.482 to 2.563 and LTS up to 2.555.2).
func DropsOfflineOnReload(version string) bool {
	v := parseVersion(version)
	return compareVersion(v, []int{2, 482}) >= 0 && compareVersion(v, []int{2, 555, 3}) < 0 ||
		compareVersion(v, []int{2, 556}) >= 0 && compareVersion(v, []int{2, 564}) < 0
}

func parseVersion(s string) []int {
	var out []int
	for _, part := range strings.Split(s, ".") {
		n := 0
		for _, r := range part {
			if r < '0' || r > '9' {
				break
			}
			n = n*10 + int(r-'0')
		}
		out = append(out, n)
	}
	return out
}

func compareVersion(a, b []int) int {
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

// SetStarting makes every request answer 503 with Jenkins' start-up page
// while starting is true.
func (c *Controller) SetStarting(starting bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.starting = starting
}

// Session returns the current X-Jenkins-Session value.
func (c *Controller) Session() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.session
}

// NodeSnapshot is a node's state as a test wants to assert on it.
type NodeSnapshot struct {
	Name               string // BuiltInNode for the built-in node
	Offline            bool
	TemporarilyOffline bool
	Connected          bool
	MachineUp          bool
	CauseClass         string // offlineCause._class, "" when none
	CauseReason        string // offlineCauseReason exactly as the API shows it in English
	Writer             string // the user who wrote a UserCause, "" for other causes
	Launch             LaunchMethod
	RunningBuilds      int
	// LaunchFailures counts the launches that failed since the agent was
	// added, by whoever asked for them.
	LaunchFailures int
}

// Node returns a snapshot of the named node.
func (c *Controller) Node(name string) (NodeSnapshot, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.lookup(name)
	if n == nil {
		return NodeSnapshot{}, false
	}
	s := NodeSnapshot{
		Name:               n.urlName(),
		Offline:            n.offline(),
		TemporarilyOffline: n.tempCause != nil,
		Connected:          n.connected,
		MachineUp:          n.machineUp,
		Launch:             n.launch,
		RunningBuilds:      n.busy(),
		LaunchFailures:     n.launchFailures,
	}
	if cause := n.offlineCause(); cause != nil {
		s.CauseClass, s.CauseReason = cause.class, cause.reason("en", c.escapesReason())
		s.Writer = cause.user
	}
	return s, true
}
