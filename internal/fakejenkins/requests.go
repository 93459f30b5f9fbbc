package fakejenkins

import (
	"net/http"
	"slices"
)

// RequestRecord is one request the Jenkins API received. Control API
// requests are not recorded: they are the test driving the world, not the
// client under test talking to Jenkins.
type RequestRecord struct {
	Method   string
	Path     string // r.URL.EscapedPath(), prefix included, as received
	RawQuery string
	// User is the HTTP Basic user name the client sent, whether or not it
	// was accepted; "" for anonymous requests.
	User string
	// Token names the further API token the request was made with
	// (AddToken); "" for the user's first token, a password or none.
	Token string
	// Status is the status sent; 0 when the connection was cut before one
	// was (FaultRefuse, FaultSlow). Requests are logged just before their
	// answer goes out, so a held FaultSlow request is already in the log.
	Status int
	// Bytes is the size of the body on the wire (compressed when gzipped);
	// BodyBytes the size of the document before compression.
	Bytes     int
	BodyBytes int
	// Action is the node action posted ("toggleOffline",
	// "changeOfflineCause", "launchSlaveAgent", "doDisconnect"); "" for
	// reads and anything else.
	Action string
	// Fault is true when an injected fault answered the request.
	Fault bool
}

// record appends a request to the log.
func (c *Controller) record(r *http.Request, rt route, status, wireBytes, bodyBytes int, fault bool) {
	rec := RequestRecord{
		Method:    r.Method,
		Path:      r.URL.EscapedPath(),
		RawQuery:  r.URL.RawQuery,
		Status:    status,
		Bytes:     wireBytes,
		BodyBytes: bodyBytes,
		Fault:     fault,
	}
	name, secret, hasAuth := r.BasicAuth()
	if hasAuth {
		rec.User = name
	}
	if rt.kind == routeAction {
		rec.Action = rt.action
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if u := c.users[name]; hasAuth && u != nil {
		rec.Token, _ = u.tokenName(secret)
	}
	c.requests = append(c.requests, rec)
}

// Requests returns a copy of the request log, oldest first.
func (c *Controller) Requests() []RequestRecord {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.requests)
}

// ResetRequests empties the request log.
func (c *Controller) ResetRequests() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.requests = nil
}
