package fakejenkins

import (
	"net/http"
	"slices"
	"strings"
)

// FaultKind is a way for a request to go wrong between the client and a
// healthy Jenkins: network, proxy, or Jenkins itself misbehaving.
type FaultKind int

const (
	// FaultRefuse hijacks the connection and closes it without answering.
	// Go's http.Transport retries an idempotent request (GET) once when a
	// reused connection closes before any answer, so a Count of 1 can be
	// invisible to a GET: use Count >= 2 or 0 to be sure a GET sees it.
	FaultRefuse FaultKind = iota
	// FaultResetMidBody sends 200, a Content-Length for the whole document
	// and half of it, then closes the connection.
	FaultResetMidBody
	// FaultStatus answers Fault.Status (500 when zero) with an HTML page.
	FaultStatus
	// FaultHTML answers 200 with an HTML page (a login form, as a
	// misconfigured proxy or SSO layer would) instead of JSON.
	FaultHTML
	// FaultTruncatedJSON answers 200 with the first half of the JSON
	// document, cleanly terminated.
	FaultTruncatedJSON
	// FaultMalformedJSON answers 200 with a JSON content type and a body
	// that is not JSON.
	FaultMalformedJSON
	// FaultSlow holds the request until the client gives up (its context
	// ends) or Close is called, then cuts the connection. It never sleeps.
	FaultSlow
	// FaultRedirectLoop answers 302 to the same URL, forever.
	FaultRedirectLoop
	// FaultForbidden answers 403 with X-Required-Permission naming
	// Fault.Permission (Overall/Read when empty).
	FaultForbidden
	// FaultEmpty200 answers 200 with a JSON content type and no body.
	FaultEmpty200
)

// Fault describes which requests go wrong and how. Empty filters match
// everything.
type Fault struct {
	Kind FaultKind
	// Method matches the HTTP method ("GET", "POST"); "" matches any.
	Method string
	// Action matches "read" (a GET of any api/json document except the
	// crumb issuer), "crumb" (crumbIssuer/api/json) or a node action name
	// such as "toggleOffline"; "" matches any request.
	Action string
	// Node matches the node a request addresses (its name as in URLs,
	// "(built-in)" for the built-in node); "" matches any request,
	// including those that address no node such as computer/api/json.
	Node       string
	Status     int        // for FaultStatus
	Permission Permission // for FaultForbidden
	// Count is how many matching requests the fault hits before it is
	// removed; 0 means until ClearFaults.
	Count int
	// Apply lets the request take effect before the fault replaces its
	// answer: a toggle that went through but whose response was lost.
	Apply bool
}

// InjectFault adds a fault. When several match a request the one injected
// first answers it.
func (c *Controller) InjectFault(f Fault) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.faults = append(c.faults, &f)
}

// ClearFaults removes every fault.
func (c *Controller) ClearFaults() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.faults = nil
}

// takeFault returns the first fault matching the request, spending one of
// its hits.
func (c *Controller) takeFault(r *http.Request, rt route) *Fault {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, f := range c.faults {
		if !c.faultMatches(f, r, rt) {
			continue
		}
		hit := *f
		if f.Count > 0 {
			f.Count--
			if f.Count == 0 {
				c.faults = slices.Delete(c.faults, i, i+1)
			}
		}
		return &hit
	}
	return nil
}

func (c *Controller) faultMatches(f *Fault, r *http.Request, rt route) bool {
	if f.Method != "" && !strings.EqualFold(f.Method, r.Method) {
		return false
	}
	switch f.Action {
	case "":
	case "read":
		if !rt.isRead(r) {
			return false
		}
	case "crumb":
		if rt.kind != routeCrumb {
			return false
		}
	default:
		if rt.kind != routeAction || rt.action != f.Action {
			return false
		}
	}
	if f.Node == "" {
		return true
	}
	if rt.node == "" {
		return false
	}
	if f.Node == rt.node {
		return true
	}
	n := c.lookup(f.Node)
	return n != nil && n == c.lookup(rt.node)
}

// serveFault answers a request with the fault instead of Jenkins.
func (c *Controller) serveFault(w http.ResponseWriter, r *http.Request, rt route, f *Fault) {
	send := func(resp *response) { c.send(w, r, rt, resp, true) }
	var applied *response
	if f.Apply {
		applied = c.handle(r, rt)
	}
	switch f.Kind {
	case FaultRefuse:
		c.record(r, rt, 0, 0, 0, true)
		cut(w)
	case FaultResetMidBody:
		body := c.faultBody(r, rt, applied)
		w.Header().Set("Content-Type", "application/json;charset=utf-8")
		w.Header().Set("Content-Length", itoa(len(body)))
		c.record(r, rt, http.StatusOK, len(body)/2, len(body), true)
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(body[:len(body)/2])
		_ = http.NewResponseController(w).Flush()
		cut(w)
	case FaultStatus:
		status := f.Status
		if status == 0 {
			status = http.StatusInternalServerError
		}
		send(htmlResponse(status, "Error "+itoa(status), "<h2>HTTP ERROR "+itoa(status)+"</h2>"))
	case FaultHTML:
		send(htmlResponse(http.StatusOK, "Sign in [Jenkins]",
			`<form method="post" action="j_spring_security_check"><input name="j_username"><input name="j_password" type="password"></form>`))
	case FaultTruncatedJSON:
		body := c.faultBody(r, rt, applied)
		send(jsonResponse(body[:len(body)/2]))
	case FaultMalformedJSON:
		send(jsonResponse([]byte(`{"_class":"hudson.model.ComputerSet","busyExecutors":0,"computer":[{"_class":"hudson.slaves.SlaveComputer","displayName":"slave01","offline":False,}]`)))
	case FaultSlow:
		c.mu.Lock()
		hook := c.slowHook
		c.mu.Unlock()
		c.record(r, rt, 0, 0, 0, true)
		if hook != nil {
			hook()
		}
		select {
		case <-r.Context().Done():
		case <-c.closed:
		}
		cut(w)
	case FaultRedirectLoop:
		resp := htmlResponse(http.StatusFound, "", "")
		resp.header.Set("Location", r.URL.RequestURI())
		send(resp)
	case FaultForbidden:
		p := f.Permission
		if p == "" {
			p = PermRead
		}
		name := "anonymous"
		if n, _, ok := r.BasicAuth(); ok {
			name = n
		}
		send(accessDenied(name, p))
	case FaultEmpty200:
		send(jsonResponse(nil))
	default:
		send(htmlResponse(http.StatusInternalServerError, "Error 500", "<h2>HTTP ERROR 500 unknown fault</h2>"))
	}
}

// faultBody is the JSON document a damaged answer is cut from: the real
// answer when there is one without side effects, else the node list.
func (c *Controller) faultBody(r *http.Request, rt route, applied *response) []byte {
	if applied == nil && rt.isRead(r) {
		applied = c.handle(r, rt)
	}
	if applied != nil && applied.status == http.StatusOK && strings.HasPrefix(applied.header.Get("Content-Type"), "application/json") {
		return applied.body
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return encode(c.computerSetObject(view{rootURL: rootURL(r, c.prefix), canConnect: true, lang: c.language(r)}), newDepthPruner(0))
}

// cut closes the connection under the request without (further) answer.
func cut(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		// HTTP/2 or a recorder: abort the way net/http offers for that.
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close()
}
