// Package jenkins talks to a Jenkins controller for the watcher. It drives
// github.com/bndr/gojenkins' requester and guards against its traps: it
// supplies an HTTP client with timeouts, TLS settings and no redirect
// following, escapes node names, checks the status of every response and
// every decode, and handles the CSRF crumb itself.
package jenkins

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/bndr/gojenkins"

	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/agent"
	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/watcher"
)

// Tree filters are what keeps a poll to one small request whatever the
// number of nodes: only the fields the decision needs.
const (
	nodeFields    = "_class,displayName,offline,temporarilyOffline,offlineCauseReason,idle,launchSupported,jnlpAgent,absoluteRemotePath,offlineCause[_class]"
	computersTree = "computer[" + nodeFields + "]"
	builtInClass  = "hudson.model.Hudson$MasterComputer"
	// maxBody bounds what a misbehaving server can make us read. 1,000
	// nodes with the tree above are about 250 kB.
	maxBody = 16 << 20
)

// Options configure a Client.
type Options struct {
	URL       string // base URL, may carry a path prefix
	User      string
	Token     string
	CAPEM     []byte            // extra trusted CAs
	Timeout   time.Duration     // per request
	Transport http.RoundTripper // for tests; default is a tuned clone of http.DefaultTransport
}

// Client implements watcher.Jenkins.
type Client struct {
	req     *gojenkins.Requester
	timeout time.Duration

	mu        sync.Mutex
	crumbName string
	crumb     string
}

var _ watcher.Jenkins = (*Client)(nil)

// New builds a Client. It makes no request.
func New(o Options) (*Client, error) {
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	rt := o.Transport
	if rt == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		if len(o.CAPEM) > 0 {
			pool, err := x509.SystemCertPool()
			if err != nil || pool == nil {
				pool = x509.NewCertPool()
			}
			if !pool.AppendCertsFromPEM(o.CAPEM) {
				return nil, errors.New("no PEM certificate found in the CA file")
			}
			t.TLSClientConfig.RootCAs = pool
		}
		t.ResponseHeaderTimeout = o.Timeout
		t.MaxIdleConnsPerHost = 4
		rt = t
	}
	jar, err := cookiejar.New(nil) // keeps the session cookie a crumb is bound to
	if err != nil {
		return nil, err
	}
	hc := &http.Client{
		Transport: limitBody{rt},
		Timeout:   o.Timeout,
		Jar:       jar,
		// Jenkins answers a successful action with a redirect to an HTML
		// page; following it would only fetch HTML we must not parse.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	base := strings.TrimSuffix(o.URL, "/")
	var j *gojenkins.Jenkins
	if o.User != "" || o.Token != "" {
		j = gojenkins.CreateJenkins(hc, base, o.User, o.Token)
	} else {
		j = gojenkins.CreateJenkins(hc, base)
	}
	req, ok := j.Requester.(*gojenkins.Requester)
	if !ok {
		return nil, errors.New("unexpected gojenkins requester")
	}
	return &Client{req: req, timeout: o.Timeout}, nil
}

type computerJSON struct {
	Class              string      `json:"_class"`
	DisplayName        string      `json:"displayName"`
	Offline            presentBool `json:"offline"`
	TemporarilyOffline presentBool `json:"temporarilyOffline"`
	OfflineCauseReason string      `json:"offlineCauseReason"`
	Idle               bool        `json:"idle"`
	LaunchSupported    bool        `json:"launchSupported"`
	JnlpAgent          bool        `json:"jnlpAgent"`
	// Only whether it is null matters: the path itself is not kept.
	AbsoluteRemotePath notNull `json:"absoluteRemotePath"`
	OfflineCause       struct {
		Class string `json:"_class"`
	} `json:"offlineCause"`
}

// presentBool is a JSON boolean that remembers whether it was there: a
// reading without offline/temporarilyOffline must be refused, not taken
// as false. It allocates nothing, unlike *bool, which matters at a
// thousand nodes a poll.
type presentBool struct{ set, v bool }

func (p *presentBool) UnmarshalJSON(b []byte) error {
	switch string(b) {
	case "true":
		*p = presentBool{true, true}
	case "false":
		*p = presentBool{true, false}
	case "null":
		*p = presentBool{}
	default:
		return fmt.Errorf("not a boolean: %.20s", b)
	}
	return nil
}

// notNull records whether a value was present and not null.
type notNull bool

func (n *notNull) UnmarshalJSON(b []byte) error {
	*n = string(b) != "null"
	return nil
}

type computerSetJSON struct {
	Computer *[]computerJSON `json:"computer"`
}

func (c computerJSON) info() (agent.NodeInfo, error) {
	if c.DisplayName == "" {
		return agent.NodeInfo{}, errors.New("computer without displayName")
	}
	if !c.Offline.set || !c.TemporarilyOffline.set {
		return agent.NodeInfo{}, fmt.Errorf("computer %q without offline/temporarilyOffline", c.DisplayName)
	}
	n := agent.NodeInfo{
		Name:               c.DisplayName,
		Offline:            c.Offline.v,
		TemporarilyOffline: c.TemporarilyOffline.v,
		CauseClass:         c.OfflineCause.Class,
		CauseReason:        c.OfflineCauseReason,
		Connected:          !c.Offline.v || bool(c.AbsoluteRemotePath),
		Launchable:         c.LaunchSupported && !c.JnlpAgent,
		Idle:               c.Idle,
	}
	if n.TemporarilyOffline && !n.Offline {
		return agent.NodeInfo{}, fmt.Errorf("computer %q reads temporarilyOffline but not offline", c.DisplayName)
	}
	return n, nil
}

// Computers reads every node with one tree-filtered request.
func (c *Client) Computers(ctx context.Context) (agent.Snapshot, error) {
	const op = "read computers"
	var set computerSetJSON
	resp, err := c.getJSON(ctx, op, "", "/computer/", computersTree, &set)
	if err != nil {
		return agent.Snapshot{}, err
	}
	if set.Computer == nil {
		return agent.Snapshot{}, badResponse(op, "", resp, errors.New(`no "computer" list`))
	}
	snap := agent.Snapshot{
		Nodes:   make(map[string]agent.NodeInfo, len(*set.Computer)),
		Version: resp.Header.Get("X-Jenkins"),
		Session: resp.Header.Get("X-Jenkins-Session"),
	}
	for _, cj := range *set.Computer {
		if cj.Class == builtInClass {
			continue
		}
		n, err := cj.info()
		if err != nil {
			return agent.Snapshot{}, badResponse(op, "", resp, err)
		}
		if _, dup := snap.Nodes[n.Name]; dup {
			return agent.Snapshot{}, badResponse(op, "", resp, fmt.Errorf("computer %q listed twice", n.Name))
		}
		snap.Nodes[n.Name] = n
	}
	return snap, nil
}

// Computer reads one node.
func (c *Client) Computer(ctx context.Context, name string) (agent.NodeInfo, error) {
	const op = "read computer"
	var cj computerJSON
	resp, err := c.getJSON(ctx, op, name, nodePath(name)+"/", nodeFields, &cj)
	if err != nil {
		return agent.NodeInfo{}, err
	}
	n, err := cj.info()
	if err != nil {
		return agent.NodeInfo{}, badResponse(op, name, resp, err)
	}
	if n.Name != name {
		return agent.NodeInfo{}, badResponse(op, name, resp, fmt.Errorf("asked for %q, got %q", name, n.Name))
	}
	return n, nil
}

// BringOnline toggles a temporarily-offline node back online.
func (c *Client) BringOnline(ctx context.Context, name string) error {
	return c.post(ctx, "toggleOffline", name, nil)
}

// Park sets the node temporarily offline with message; idempotent.
func (c *Client) Park(ctx context.Context, name, message string) error {
	return c.post(ctx, "changeOfflineCause", name, map[string]string{"offlineMessage": message})
}

// Launch asks Jenkins to connect the agent.
func (c *Client) Launch(ctx context.Context, name string) error {
	return c.post(ctx, "launchSlaveAgent", name, nil)
}

func nodePath(name string) string { return "/computer/" + url.PathEscape(name) }

// getJSON reads endpoint/api/json?tree=tree into v. The body is decoded
// as it streams in (a thousand nodes are some 300 kB: no copies), and the
// status, content type and decode error are all checked: gojenkins itself
// would pass a 403 page or an empty body off as an unchanged reading.
func (c *Client) getJSON(ctx context.Context, op, node, endpoint, tree string, v any) (*http.Response, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	ar := gojenkins.NewAPIRequest(http.MethodGet, endpoint, nil)
	ar.Suffix = "api/json"
	resp, err := c.req.Do(ctx, ar, v, map[string]string{"tree": tree})
	if resp == nil {
		if err == nil {
			err = errors.New("no response")
		}
		return nil, transportError(op, node, err)
	}
	if resp.StatusCode != http.StatusOK {
		return resp, statusError(op, node, resp, "")
	}
	// An HTML page with status 200 (a login form, a proxy's error page)
	// must not pass for data. Other types are left to the JSON decoder:
	// servers that omit the header get text/plain sniffed by Go.
	if ct := strings.ToLower(resp.Header.Get("Content-Type")); strings.Contains(ct, "html") {
		return resp, badResponse(op, node, resp, fmt.Errorf("content type %q, not JSON", ct))
	}
	if err != nil {
		if isDecodeError(err) || errors.Is(err, errBodyTooLarge) {
			return resp, badResponse(op, node, resp, fmt.Errorf("decoding JSON: %w", err))
		}
		return resp, transportError(op, node, err)
	}
	return resp, nil
}

func (c *Client) post(ctx context.Context, action, node string, query map[string]string) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	resp, body, err := c.postOnce(ctx, action, node, query)
	if err == nil && isCrumbRejection(resp, body) {
		// Password logins need a crumb bound to a session; API tokens
		// do not. Fetch one only when asked, then send the action again:
		// Jenkins did nothing with the rejected request.
		if err := c.refreshCrumb(ctx); err != nil {
			return err
		}
		resp, body, err = c.postOnce(ctx, action, node, query)
	}
	if err != nil {
		return transportError(action, node, err)
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 400 {
		return nil
	}
	return statusError(action, node, resp, body)
}

func (c *Client) postOnce(ctx context.Context, action, node string, query map[string]string) (*http.Response, string, error) {
	return c.do(ctx, http.MethodPost, nodePath(node)+"/"+action, "", query)
}

// do sends one request through gojenkins' requester. Its GetJSON and Post
// helpers are avoided: they wrap the response target in a way that breaks
// raw reads, and Post fetches a crumb while dropping that request's errors.
// Reading the raw body lets every status and decode error be checked here.
func (c *Client) do(ctx context.Context, method, endpoint, suffix string, query map[string]string) (*http.Response, string, error) {
	ar := gojenkins.NewAPIRequest(method, endpoint, nil)
	ar.Suffix = suffix
	if method == http.MethodPost {
		ar.SetHeader("Content-Type", "application/x-www-form-urlencoded")
		c.mu.Lock()
		if c.crumbName != "" {
			ar.SetHeader(c.crumbName, c.crumb)
		}
		c.mu.Unlock()
	}
	var body string
	var opts []any
	if len(query) > 0 {
		opts = append(opts, query)
	}
	resp, err := c.req.Do(ctx, ar, &body, opts...)
	return resp, body, err
}

func (c *Client) refreshCrumb(ctx context.Context) error {
	const op = "read crumb"
	resp, body, err := c.do(ctx, http.MethodGet, "/crumbIssuer/", "api/json", nil)
	if err != nil {
		return transportError(op, "", err)
	}
	if resp.StatusCode != http.StatusOK {
		return statusError(op, "", resp, body)
	}
	var crumb struct {
		Field string `json:"crumbRequestField"`
		Crumb string `json:"crumb"`
	}
	if err := json.Unmarshal([]byte(body), &crumb); err != nil || crumb.Field == "" || crumb.Crumb == "" {
		return badResponse(op, "", resp, errors.New("no crumb in the answer"))
	}
	c.mu.Lock()
	c.crumbName, c.crumb = crumb.Field, crumb.Crumb
	c.mu.Unlock()
	return nil
}

func isCrumbRejection(resp *http.Response, body string) bool {
	return resp != nil && resp.StatusCode == http.StatusForbidden &&
		resp.Header.Get("X-Required-Permission") == "" &&
		(strings.Contains(body, "No valid crumb") || strings.Contains(resp.Status, "No valid crumb"))
}

func statusError(op, node string, resp *http.Response, body string) error {
	e := &Error{Op: op, Node: node, Status: resp.StatusCode}
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		e.Kind = KindUnauthorized
	case resp.StatusCode == http.StatusForbidden:
		e.Kind = KindForbidden
		e.Permission = resp.Header.Get("X-Required-Permission")
		if e.Permission == "" && resp.Header.Get("X-You-Are-Authenticated-As") == "anonymous" {
			e.Err = errors.New("anonymous has no read access: set JENKINS_USER and a token")
		} else if strings.Contains(body, "No valid crumb") {
			e.Err = errors.New("CSRF crumb rejected")
		}
	case resp.StatusCode == http.StatusNotFound:
		e.Kind = KindNotFound
	case resp.StatusCode >= 500:
		e.Kind = KindUnavailable
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		e.Kind = KindBadResponse
		e.Err = errors.New("redirected: check JENKINS_URL (scheme, host and path prefix)")
	default:
		e.Kind = KindUnexpected
	}
	return e
}

func badResponse(op, node string, resp *http.Response, err error) error {
	e := &Error{Op: op, Node: node, Kind: KindBadResponse, Err: err}
	if resp != nil {
		e.Status = resp.StatusCode
	}
	return e
}

func transportError(op, node string, err error) error {
	e := &Error{Op: op, Node: node, Kind: KindNetwork, Err: err}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		e.Kind = KindTimeout
	} else if errors.Is(err, errBodyTooLarge) || isDecodeError(err) {
		e.Kind = KindBadResponse
	}
	return e
}

func isDecodeError(err error) bool {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	return errors.As(err, &se) || errors.As(err, &te) || errors.Is(err, io.ErrUnexpectedEOF)
}

var errBodyTooLarge = fmt.Errorf("response body larger than %d bytes", maxBody)

// limitBody caps every response body.
type limitBody struct{ rt http.RoundTripper }

func (l limitBody) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := l.rt.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	resp.Body = &cappedBody{rc: resp.Body, left: maxBody}
	// gojenkins turns an answer with X-Error into an error and drops the
	// response unclosed, leaking its connection, and the error would read
	// as a network failure. Hide the header from it: the status check
	// here classifies the answer and closes the body.
	if v := resp.Header.Values("X-Error"); len(v) > 0 {
		resp.Header.Del("X-Error")
		resp.Header["X-Jenkins-Error"] = v
	}
	return resp, nil
}

type cappedBody struct {
	rc   io.ReadCloser
	left int64
}

func (c *cappedBody) Read(p []byte) (int, error) {
	if c.left <= 0 {
		return 0, errBodyTooLarge
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.rc.Read(p)
	c.left -= int64(n)
	return n, err
}

// Close drains what little a decoder leaves unread (a trailing newline,
// the end of a gzip stream) so the connection can be reused.
func (c *cappedBody) Close() error {
	_, _ = io.CopyN(io.Discard, c.rc, 4<<10)
	return c.rc.Close()
}
