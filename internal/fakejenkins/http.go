package fakejenkins

import (
	"bytes"
	"compress/gzip"
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
)

// The actions a client can POST to /computer/<name>/<action>.
const (
	actionToggleOffline      = "toggleOffline"
	actionChangeOfflineCause = "changeOfflineCause"
	actionLaunch             = "launchSlaveAgent"
	actionDisconnect         = "doDisconnect"
)

type routeKind int

const (
	routeOutsidePrefix routeKind = iota
	routeUnknown
	routeRootPage
	routeRootAPI
	routeComputerSetPage
	routeComputerSetAPI
	routeComputerPage
	routeComputerAPI
	routeComputerLog
	routeAction
	routeCrumb
	routeControl
)

// route is what a request path addresses, decided before any check so that
// faults and the request log can refer to it.
type route struct {
	kind   routeKind
	node   string // decoded node name, for the routeComputer* kinds
	action string // routeAction: the action; routeControl: the command
	// nodeDir is the node page's path as the client escaped it, with the
	// prefix and a trailing slash: redirects point below it.
	nodeDir string
}

// isRead is a GET of an api/json document other than the crumb issuer.
func (rt route) isRead(r *http.Request) bool {
	switch rt.kind {
	case routeRootAPI, routeComputerSetAPI, routeComputerAPI:
		return r.Method == http.MethodGet || r.Method == http.MethodHead
	}
	return false
}

// route parses the escaped path segment by segment, so that a name such as
// "agent%2001" or "a%C4%9Fent" decodes to one segment.
func (c *Controller) route(r *http.Request) route {
	p := r.URL.EscapedPath()
	if c.prefix != "" {
		if p != c.prefix && !strings.HasPrefix(p, c.prefix+"/") {
			return route{kind: routeOutsidePrefix}
		}
		p = p[len(c.prefix):]
	}
	raw := strings.Split(strings.Trim(p, "/"), "/")
	if len(raw) == 1 && raw[0] == "" {
		raw = nil
	}
	segs := make([]string, len(raw))
	for i, s := range raw {
		d, err := url.PathUnescape(s)
		if err != nil {
			return route{kind: routeUnknown}
		}
		segs[i] = d
	}
	is := func(want ...string) bool {
		if len(segs) != len(want) {
			return false
		}
		for i := range want {
			if want[i] != "*" && segs[i] != want[i] {
				return false
			}
		}
		return true
	}
	var rt route
	if len(segs) >= 2 && segs[0] == "computer" && segs[1] != "api" {
		rt.node = segs[1]
		rt.nodeDir = c.prefix + "/computer/" + raw[1] + "/"
	}
	switch {
	case is():
		rt.kind = routeRootPage
	case is("api", "json"):
		rt.kind = routeRootAPI
	case is("computer"):
		rt.kind = routeComputerSetPage
	case is("computer", "api", "json"):
		rt.kind = routeComputerSetAPI
	case is("crumbIssuer", "api", "json"):
		rt.kind = routeCrumb
	case c.controlAPI && is("-", "fake", "*"):
		rt.kind, rt.action = routeControl, segs[2]
	case c.controlAPI && is("-", "fake"):
		rt.kind, rt.action = routeControl, ""
	case is("computer", "*"):
		rt.kind = routeComputerPage
	case is("computer", "*", "api", "json"):
		rt.kind = routeComputerAPI
	case is("computer", "*", "log"):
		rt.kind = routeComputerLog
	case is("computer", "*", actionToggleOffline), is("computer", "*", actionChangeOfflineCause),
		is("computer", "*", actionLaunch), is("computer", "*", actionDisconnect):
		rt.kind, rt.action = routeAction, segs[2]
	default:
		rt.kind = routeUnknown
	}
	return rt
}

// response is an answer computed under the lock and written after it.
type response struct {
	status int
	header http.Header
	body   []byte
	// gzip: Jenkins compresses API documents when the client accepts it.
	gzip bool
}

func newResponse(status int) *response {
	return &response{status: status, header: http.Header{}}
}

func jsonResponse(body []byte) *response {
	resp := newResponse(http.StatusOK)
	resp.header.Set("Content-Type", "application/json;charset=utf-8")
	resp.body, resp.gzip = body, true
	return resp
}

func redirect(location string) *response {
	resp := htmlResponse(http.StatusFound, "", "")
	resp.header.Set("Location", location)
	return resp
}

// ServeHTTP serves the Jenkins remote API and, when enabled, the control
// API. Every request to the Jenkins part is recorded (see Requests).
func (c *Controller) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rt := c.route(r)
	if rt.kind == routeControl {
		c.serveControl(w, r, rt.action)
		return
	}
	c.setCommonHeaders(w.Header())
	if f := c.takeFault(r, rt); f != nil {
		c.serveFault(w, r, rt, f)
		return
	}
	c.send(w, r, rt, c.handle(r, rt), false)
}

func (c *Controller) setCommonHeaders(h http.Header) {
	c.mu.Lock()
	session := c.session
	c.mu.Unlock()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Hudson", "1.395")
	h.Set("X-Jenkins", c.version)
	h.Set("X-Jenkins-Session", session)
}

// send records the request, then writes resp, compressed when it is an API
// document and the client accepts gzip. Recording first matters: once the
// last byte is out the client may look at the log, and it must find the
// request there.
func (c *Controller) send(w http.ResponseWriter, r *http.Request, rt route, resp *response, fault bool) {
	h := w.Header()
	for k, v := range resp.header {
		h[k] = v
	}
	wire := resp.body
	if resp.gzip && len(resp.body) > 0 && acceptsGzip(r) {
		var buf bytes.Buffer
		zw := gzipWriters.Get().(*gzip.Writer)
		zw.Reset(&buf)
		_, _ = zw.Write(resp.body) // writes to memory do not fail
		_ = zw.Close()
		gzipWriters.Put(zw)
		wire = buf.Bytes()
		h.Set("Content-Encoding", "gzip")
		h.Add("Vary", "Accept-Encoding")
	}
	h.Set("Content-Length", strconv.Itoa(len(wire)))
	if r.Method == http.MethodHead {
		wire = nil
	}
	c.record(r, rt, resp.status, len(wire), len(resp.body), fault)
	w.WriteHeader(resp.status)
	_, _ = w.Write(wire) // a client that went away is not our problem
}

// gzipWriters are reused: a gzip.Writer holds some 800 kB of tables, more
// than most answers it compresses.
var gzipWriters = sync.Pool{New: func() any { return gzip.NewWriter(nil) }}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(coding), "gzip") && strings.ReplaceAll(params, " ", "") != "q=0" {
			return true
		}
	}
	return false
}

// caller is who a request authenticated as; nil user means anonymous.
type caller struct {
	user *user
	// basicName is the user name the client sent, even when wrong, for
	// the 401 page.
	basicName string
}

func (cl caller) name() string {
	if cl.user == nil {
		return "anonymous"
	}
	return cl.user.name
}

// has applies the permission matrix; anonymous may at most read.
func (c *Controller) has(cl caller, p Permission) bool {
	if cl.user == nil {
		return p == PermRead && c.anonymousRead
	}
	return cl.user.has(p)
}

// handle decides the answer to a Jenkins request, checks in the order
// Jenkins makes them: prefix, start-up, credentials, CSRF crumb,
// Overall/Read, existence, method, the action's own permission.
func (c *Controller) handle(r *http.Request, rt route) *response {
	// Read a form body (offlineMessage, Jenkins-Crumb) before taking the
	// lock: a slow client must not stall everyone else. A broken body
	// simply leaves the form empty.
	_ = r.ParseForm()
	c.mu.Lock()
	defer c.mu.Unlock()
	if rt.kind == routeOutsidePrefix {
		// The servlet container answers outside the context path.
		return htmlResponse(http.StatusNotFound, "Error 404 Not Found", "<h2>HTTP ERROR 404 Not Found</h2>")
	}
	if c.starting {
		return startingPage()
	}
	cl, ok := c.authenticate(r)
	if !ok {
		resp := htmlResponse(http.StatusUnauthorized, "Error 401 Unauthorized",
			"<h2>HTTP ERROR 401 Unauthorized</h2><p>Invalid password/token for user: "+escapeHTML(cl.basicName)+"</p>")
		resp.header.Set("WWW-Authenticate", `Basic realm="Jenkins"`)
		return resp
	}
	if r.Method == http.MethodPost && !c.validCrumb(r, cl) {
		return htmlResponse(http.StatusForbidden, "Error 403 No valid crumb was included in the request",
			"<h2>HTTP ERROR 403 No valid crumb was included in the request</h2>")
	}
	if !c.has(cl, PermRead) {
		return accessDenied(cl.name(), PermRead)
	}
	var n *node
	switch rt.kind {
	case routeComputerPage, routeComputerAPI, routeComputerLog, routeAction:
		if n = c.lookup(rt.node); n == nil {
			return notFound()
		}
	}
	switch rt.kind {
	case routeRootAPI:
		return c.apiResponse(r, cl, func(v view) *object { return c.hudsonObject(v) })
	case routeComputerSetAPI:
		return c.apiResponse(r, cl, c.computerSetObject)
	case routeComputerAPI:
		return c.apiResponse(r, cl, func(v view) *object { return c.computerObject(n, v) })
	case routeCrumb:
		return c.issueCrumb(r, cl)
	case routeRootPage:
		return htmlResponse(http.StatusOK, "Dashboard [Jenkins]", "<h1>Welcome to Jenkins!</h1>")
	case routeComputerSetPage:
		return htmlResponse(http.StatusOK, "Nodes [Jenkins]", "<h1>Nodes</h1>")
	case routeComputerPage:
		return htmlResponse(http.StatusOK, escapeHTML(rt.node)+" [Jenkins]", "<h1>"+escapeHTML(rt.node)+"</h1>")
	case routeComputerLog:
		return htmlResponse(http.StatusOK, "Log [Jenkins]", "<pre>Agent successfully connected and online</pre>")
	case routeAction:
		return c.act(r, rt, cl, n)
	}
	return notFound()
}

// authenticate checks HTTP Basic credentials. ok is false for a wrong user
// or secret; no credentials at all is anonymous.
func (c *Controller) authenticate(r *http.Request) (cl caller, ok bool) {
	name, secret, has := r.BasicAuth()
	if !has {
		return caller{}, true
	}
	cl.basicName = name
	u := c.users[name]
	if u == nil {
		return cl, false
	}
	if _, further := u.tokenName(secret); !further && subtle.ConstantTimeCompare([]byte(u.secret), []byte(secret)) != 1 {
		return cl, false
	}
	cl.user = u
	return cl, true
}

// validCrumb is Jenkins' CrumbFilter: API-token requests are exempt; anyone
// else needs the crumb issued to their HTTP session, sent back with that
// session's cookie.
func (c *Controller) validCrumb(r *http.Request, cl caller) bool {
	if cl.user != nil && cl.user.token {
		return true
	}
	crumb := r.Header.Get("Jenkins-Crumb")
	if crumb == "" {
		crumb = r.FormValue("Jenkins-Crumb")
	}
	s := c.sessionOf(r)
	return s != nil && crumb != "" && s.user == cl.id() &&
		subtle.ConstantTimeCompare([]byte(s.crumb), []byte(crumb)) == 1
}

// id is the user id recorded in sessions and offline causes; "" for
// anonymous (UserCause turns that into "anonymous").
func (cl caller) id() string {
	if cl.user == nil {
		return ""
	}
	return cl.user.name
}

func (c *Controller) sessionOf(r *http.Request) *httpSession {
	cookie, err := r.Cookie(c.cookieName)
	if err != nil {
		return nil
	}
	return c.sessions[cookie.Value]
}

// issueCrumb answers crumbIssuer/api/json. The crumb belongs to the HTTP
// session (created here when the request has none) and to the user.
func (c *Controller) issueCrumb(r *http.Request, cl caller) *response {
	s := c.sessionOf(r)
	var cookie *http.Cookie
	if s == nil || s.user != cl.id() {
		id := randomHex(16)
		s = &httpSession{user: cl.id(), crumb: randomHex(32)}
		c.sessions[id] = s
		cookie = &http.Cookie{Name: c.cookieName, Value: id, Path: c.prefix + "/", HttpOnly: true}
	}
	resp := c.apiResponse(r, cl, func(view) *object { return crumbObject(s.crumb) })
	if cookie != nil && resp.status == http.StatusOK {
		resp.header.Add("Set-Cookie", cookie.String())
	}
	return resp
}

// apiResponse renders an API document with the depth or tree the request
// asks for. Like Stapler, a tree parameter overrides depth, and a malformed
// tree or depth is a server error.
func (c *Controller) apiResponse(r *http.Request, cl caller, build func(view) *object) *response {
	q := r.URL.Query()
	var p pruner
	if q.Has("tree") {
		t, err := parseTree(q.Get("tree"))
		if err != nil {
			return oops(err.Error())
		}
		p = t
	} else {
		depth := 0
		if s := q.Get("depth"); s != "" {
			d, err := strconv.Atoi(s)
			if err != nil {
				return oops("java.lang.NumberFormatException: For input string: \"" + s + "\"")
			}
			depth = d
		}
		p = newDepthPruner(depth)
	}
	body := encode(build(view{rootURL: rootURL(r, c.prefix), canConnect: c.has(cl, PermConnect), lang: c.language(r)}), p)
	if q.Get("pretty") == "true" {
		var out bytes.Buffer
		if json.Indent(&out, body, "", "  ") == nil {
			body = out.Bytes()
		}
	}
	return jsonResponse(body)
}

func rootURL(r *http.Request, prefix string) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + prefix + "/"
}

// act performs a POST action on a node.
func (c *Controller) act(r *http.Request, rt route, cl caller, n *node) *response {
	// Only agents have doDisconnect; the built-in node's launchSlaveAgent
	// is there but answers 404 (after the POST check).
	if n.builtIn && rt.action == actionDisconnect {
		return notFound()
	}
	if r.Method != http.MethodPost {
		resp := htmlResponse(http.StatusMethodNotAllowed, "Error 405 Method Not Allowed",
			"<p>This URL requires POST</p><p>The URL you're trying to access requires that requests be sent using POST (like a form submission).</p>")
		resp.header.Set("Allow", http.MethodPost)
		return resp
	}
	message := r.FormValue("offlineMessage")
	switch rt.action {
	case actionToggleOffline:
		if n.tempCause != nil {
			if !c.has(cl, PermConnect) {
				return accessDenied(cl.name(), PermConnect)
			}
			n.tempCause = nil
			return redirect(rt.nodeDir)
		}
		return c.changeOfflineCause(rt, cl, n, message)
	case actionChangeOfflineCause:
		return c.changeOfflineCause(rt, cl, n, message)
	case actionLaunch:
		if n.builtIn {
			return notFound()
		}
		if !c.has(cl, PermConnect) {
			return accessDenied(cl.name(), PermConnect)
		}
		if n.connected {
			return htmlResponse(http.StatusOK, escapeHTML(n.name)+" [Jenkins]", "<p>This agent is already launched.</p>")
		}
		c.launch(n)
		return redirect(rt.nodeDir + "log")
	case actionDisconnect:
		// SlaveComputer.doDoDisconnect checks the permission only when
		// there is a channel to close; otherwise it just redirects.
		if n.connected {
			if !c.has(cl, PermDisconnect) {
				return accessDenied(cl.name(), PermDisconnect)
			}
			c.dropChannel(n, c.userCause(cl.id(), message))
			// An inbound agent's remoting loop dials straight back in.
			if n.launch == Inbound && n.machineUp {
				c.connect(n)
			}
		}
		return redirect(rt.nodeDir)
	}
	return notFound()
}

func (c *Controller) changeOfflineCause(rt route, cl caller, n *node, message string) *response {
	if !c.has(cl, PermDisconnect) {
		return accessDenied(cl.name(), PermDisconnect)
	}
	n.tempCause = c.userCause(cl.id(), message)
	return redirect(rt.nodeDir)
}

// language is the language a request's answer is worded in: the one
// Options.Locale forces, else the first of Accept-Language (its primary
// subtag; "ja-JP" is "ja"), else English.
func (c *Controller) language(r *http.Request) string {
	if c.locale != "" {
		return c.locale
	}
	tag, _, _ := strings.Cut(r.Header.Get("Accept-Language"), ",")
	tag, _, _ = strings.Cut(tag, ";")
	tag, _, _ = strings.Cut(strings.TrimSpace(tag), "-")
	if tag = strings.ToLower(tag); tag != "" && tag != "*" {
		return tag
	}
	return "en"
}
