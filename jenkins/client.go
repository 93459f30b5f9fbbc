// Package jenkins talks to a Jenkins controller for the watcher. It drives
// github.com/bndr/gojenkins' requester and guards against its traps: it
// supplies an HTTP client with timeouts, TLS settings and no redirect
// following, escapes node names, checks the status of every response and
// every decode, and handles the CSRF crumb itself. The reads of a poll
// (get) build the request the requester would, on the same HTTP client,
// without its per-request overhead: at 10,000 agents a poll is twenty of
// them.
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
	"os"
	"strings"
	"sync"
	"time"

	"github.com/bndr/gojenkins"

	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/agent"
)

// Tree filters are what keeps a poll to one small request whatever the
// number of nodes: only the fields the decision needs.
const (
	nodeFields    = "_class,displayName,offline,temporarilyOffline,offlineCauseReason,idle,launchSupported,jnlpAgent,absoluteRemotePath,offlineCause[_class,description]"
	computersTree = "computer[" + nodeFields + "]"
	builtInClass  = "hudson.model.Hudson$MasterComputer"
)

// Options configure a Client.
type Options struct {
	URL       string // base URL, may carry a path prefix
	User      string
	Token     string
	CAPEM     []byte            // extra trusted CAs
	Timeout   time.Duration     // per request
	Transport http.RoundTripper // for tests; default is a tuned clone of http.DefaultTransport
	// TokenFile, when set, is where Token comes from. If it is missing or
	// Jenkins refuses the token, the file is read again before the next
	// poll: on a first install the token exists only once Jenkins runs,
	// and a rotated token replaces the old one without a restart.
	TokenFile string
	// ParseToken turns the file's content into the token.
	ParseToken func([]byte) (string, error)
	// ReadTokenFile reads TokenFile (config.ReadTokenFile: bounded, never
	// blocking); os.ReadFile when nil.
	ReadTokenFile func(string) ([]byte, error)
	// Nodes are the nodes a poll must read: every node of every group.
	// With them, a poll may read them one by one instead of the whole
	// list (read.go); without, every poll reads the list.
	Nodes []string
	// Read forces a way of reading (benchmarks, tests); ReadAuto chooses.
	Read ReadStrategy
	// Now is the clock of the list's re-checks; time.Now when nil.
	Now func() time.Time
}

// Client implements the watcher's and the switchover's Jenkins.
type Client struct {
	req      *gojenkins.Requester
	base     *url.URL
	timeout  time.Duration
	decoders decoderSlot
	plan     *readPlan

	mu        sync.Mutex
	crumbName string
	crumb     string

	user          string
	tokenFile     string
	parseToken    func([]byte) (string, error)
	readTokenFile func(string) ([]byte, error)
	tokenStale    bool // read the token file again before the next poll
}

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
		t.MaxIdleConnsPerHost = 4
		t.MaxResponseHeaderBytes = maxHeaderBytes
		rt = t
	}
	jar, err := cookiejar.New(nil) // keeps the session cookie a crumb is bound to
	if err != nil {
		return nil, err
	}
	// No Client.Timeout (nor the transport's ResponseHeaderTimeout): each
	// request has one deadline, its context's (getJSON, post). A second
	// timer racing it made the same slow answer fail as a timeout or, when
	// it won, as a cancelled request: a network error.
	hc := &http.Client{
		Transport: limitBody{rt},
		Jar:       jar,
		// Jenkins answers a successful action with a redirect to an HTML
		// page; following it would only fetch HTML we must not parse.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	base := strings.TrimSuffix(o.URL, "/")
	var j *gojenkins.Jenkins
	if o.Token != "" || (o.User != "" && o.TokenFile == "") {
		j = gojenkins.CreateJenkins(hc, base, o.User, o.Token)
	} else {
		j = gojenkins.CreateJenkins(hc, base)
	}
	req, ok := j.Requester.(*gojenkins.Requester)
	if !ok {
		return nil, errors.New("unexpected gojenkins requester")
	}
	baseURL, err := url.Parse(base)
	if err != nil || baseURL.Host == "" {
		return nil, fmt.Errorf("bad Jenkins URL %q", base)
	}
	return &Client{req: req, base: baseURL, timeout: o.Timeout, user: o.User, tokenFile: o.TokenFile,
		parseToken: o.ParseToken, readTokenFile: o.ReadTokenFile, tokenStale: o.TokenFile != "" && o.Token == "", plan: newReadPlan(o)}, nil
}

// Computers reads every node with one tree-filtered request, or the
// watched nodes one by one when that is cheaper (read.go).
func (c *Client) Computers(ctx context.Context) (agent.Snapshot, error) {
	if err := c.refreshToken(); err != nil {
		return agent.Snapshot{}, err
	}
	snap, err := c.poll(ctx)
	if errors.Is(err, ErrUnauthorized) && c.tokenFile != "" {
		c.tokenStale = true
	}
	for name, n := range snap.Nodes {
		if c.markWriter(&n) {
			snap.Nodes[name] = n
		}
	}
	return snap, err
}

// markWriter sets ByWatchdog on a node whose message the watchdog's own
// Jenkins user wrote, and reports whether it did. Only such a message can
// be the watchdog's (agent.Own); peers must share the user.
func (c *Client) markWriter(n *agent.NodeInfo) bool {
	if !agent.SameUser(n.Writer, c.user) {
		return false
	}
	n.ByWatchdog = true
	return true
}

// refreshToken reads the token file when it was missing or its token was
// refused. Polls run one at a time, and this runs before any request of
// the poll.
func (c *Client) refreshToken() error {
	if !c.tokenStale {
		return nil
	}
	read := c.readTokenFile
	if read == nil {
		read = os.ReadFile
	}
	b, err := read(c.tokenFile)
	if err != nil {
		if c.req.BasicAuth != nil {
			return nil // keep the token in use; Jenkins will say
		}
		return &Error{Op: "read token", Kind: KindUnauthorized,
			Err: fmt.Errorf("waiting for JENKINS_API_TOKEN_FILE: %w", err)}
	}
	token := strings.TrimRight(string(b), "\r\n")
	if c.parseToken != nil {
		if token, err = c.parseToken(b); err != nil {
			return &Error{Op: "read token", Kind: KindUnauthorized, Err: fmt.Errorf("JENKINS_API_TOKEN_FILE %w", err)}
		}
	}
	c.req.BasicAuth = &gojenkins.BasicAuth{Username: c.user, Password: token}
	c.tokenStale = false
	return nil
}

func (c *Client) computers(ctx context.Context) (agent.Snapshot, error) {
	d, owned := c.decoders.get()
	defer c.decoders.put(owned)
	var nodes map[string]agent.NodeInfo
	resp, err := c.getJSON(ctx, "read computers", "", "/computer/", computersTree, gzipped, func(r io.Reader) (err error) {
		nodes, err = d.computers(r)
		return err
	})
	if err != nil {
		return agent.Snapshot{}, err
	}
	version, session := controllerHeaders(resp)
	return agent.Snapshot{Nodes: nodes, Version: version, Session: session}, nil
}

// controllerHeaders are an answer's X-Jenkins and X-Jenkins-Session, as
// the watchdog keeps them (bounds.go).
func controllerHeaders(resp *http.Response) (version, session string) {
	return boundedHeader(resp.Header.Get("X-Jenkins"), maxVersion),
		boundedHeader(resp.Header.Get("X-Jenkins-Session"), maxSession)
}

// Computer reads one node.
func (c *Client) Computer(ctx context.Context, name string) (agent.NodeInfo, error) {
	const op = "read computer"
	d, owned := c.decoders.get()
	defer c.decoders.put(owned)
	var n agent.NodeInfo
	resp, err := c.getJSON(ctx, op, name, nodePath(name)+"/", nodeFields, plain, func(r io.Reader) (err error) {
		n, err = d.computer(r)
		return err
	})
	if err != nil {
		return agent.NodeInfo{}, err
	}
	if n.Name != name {
		return agent.NodeInfo{}, badResponse(op, name, resp, fmt.Errorf("asked for %q, got %q", name, n.Name))
	}
	c.markWriter(&n)
	return n, nil
}

func nodePath(name string) string { return "/computer/" + url.PathEscape(name) }

// Compression of an answer: the list is asked for gzipped (300 kB of JSON
// for a thousand nodes travel as 4 kB), one node's answer of some 350
// bytes is not. Gzip saves a hundred bytes there, and costs each read a
// gzip reader (4 kB and its Huffman tables here) and the controller a
// compression.
type encoding bool

const (
	gzipped encoding = true
	plain   encoding = false
)

// getJSON reads endpoint/api/json?tree=tree and hands the body to decode
// as it streams in (a thousand nodes are some 300 kB: no copies). The
// status, content type, reading and decoding are all checked: gojenkins
// itself would pass a 403 page or an empty body off as an unchanged
// reading.
func (c *Client) getJSON(ctx context.Context, op, node, endpoint, tree string, enc encoding, decode func(io.Reader) error) (*http.Response, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	body := &jsonBody{decode: decode}
	ctx = context.WithValue(ctx, jsonBodyKey{}, body)
	resp, err := c.get(ctx, endpoint, tree, enc)
	if resp == nil {
		if err == nil {
			err = errors.New("no response")
		}
		return nil, transportError(ctx, op, node, err)
	}
	if resp.StatusCode != http.StatusOK {
		return resp, statusError(op, node, resp, "")
	}
	if isHTML(resp) {
		return resp, badResponse(op, node, resp, fmt.Errorf("content type %q, not JSON", resp.Header.Get("Content-Type")))
	}
	switch {
	case err == nil && body.err == nil && body.read:
		return resp, nil
	case pastDeadline(ctx):
		// Whatever broke off the body (the decoder, the transport, a
		// cut connection), it broke because the deadline passed.
		return resp, timeoutError(ctx, op, node, resp)
	case err != nil:
		return resp, transportError(ctx, op, node, err)
	case !body.read:
		return resp, badResponse(op, node, resp, errors.New("the answer's body was not read"))
	case body.err == nil:
		return resp, nil
	case body.readErr == nil:
		return resp, badResponse(op, node, resp, body.err)
	case isDecodeError(body.readErr) || errors.Is(body.readErr, errBodyTooLarge):
		return resp, badResponse(op, node, resp, fmt.Errorf("reading JSON: %w", body.readErr))
	default:
		return resp, transportError(ctx, op, node, body.readErr)
	}
}

// get sends a GET of endpoint/api/json?tree=tree through the Client's
// HTTP client, the request gojenkins' requester would build (same URL,
// query and credentials) without its per-request work: parsing the URL
// twice, encoding the query, and a JSON decoder for the empty body that
// jsonBody leaves it. The body is taken in the transport (takeJSONBody).
func (c *Client) get(ctx context.Context, endpoint, tree string, enc encoding) (*http.Response, error) {
	if !strings.HasSuffix(endpoint, "/") {
		endpoint += "/"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.req.Base+endpoint+"api/json?"+treeQuery(tree), nil)
	if err != nil {
		return nil, err
	}
	if a := c.req.BasicAuth; a != nil {
		req.SetBasicAuth(a.Username, a.Password)
	}
	if enc == plain {
		// Asked for explicitly, Go's transport neither asks for gzip
		// nor undoes it: a gzipped answer regardless is refused by the
		// decoder as a bad response.
		req.Header.Set("Accept-Encoding", "identity")
	}
	resp, err := c.req.Client.Do(req)
	if err != nil {
		return nil, err
	}
	_ = resp.Body.Close()
	return resp, nil
}

// Queries of the trees read on every poll, escaped once.
var (
	nodeQuery      = url.Values{"tree": {nodeFields}}.Encode()
	computersQuery = url.Values{"tree": {computersTree}}.Encode()
)

func treeQuery(tree string) string {
	switch tree {
	case nodeFields:
		return nodeQuery
	case computersTree:
		return computersQuery
	}
	return url.Values{"tree": {tree}}.Encode()
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
		return transportError(ctx, action, node, err)
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		// Jenkins answers a done action with a redirect to the node's
		// page. A redirect elsewhere (a login page, another host, a
		// proxy's error page) means the action did not reach Jenkins.
		if c.insideJenkins(resp) {
			return nil
		}
		return &Error{Op: action, Node: node, Status: resp.StatusCode, Kind: KindBadResponse,
			Err: errors.New("redirected outside Jenkins: check JENKINS_URL (scheme, host and path prefix)")}
	}
	return statusError(action, node, resp, body)
}

// insideJenkins reports whether a redirect points back into the Jenkins
// URL (same scheme, host and port, default ports spelt or not, under the
// path prefix) and not to its login pages: a redirect to a login means the
// action was not done.
func (c *Client) insideJenkins(resp *http.Response) bool {
	loc, err := resp.Location()
	if err != nil {
		return false
	}
	if loc.Scheme != c.base.Scheme || !strings.EqualFold(hostPort(loc), hostPort(c.base)) {
		return false
	}
	prefix := strings.TrimSuffix(c.base.EscapedPath(), "/")
	rest, ok := strings.CutPrefix(loc.EscapedPath(), prefix)
	if !ok || (rest != "" && !strings.HasPrefix(rest, "/")) {
		return false
	}
	for _, login := range []string{"/login", "/loginError", "/securityRealm", "/j_spring_security_check"} {
		if rest == login || strings.HasPrefix(rest, login+"/") {
			return false
		}
	}
	return true
}

// hostPort is the URL's host with its port, the scheme's default when
// none is written.
func hostPort(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	switch u.Scheme {
	case "https":
		return u.Hostname() + ":443"
	case "http":
		return u.Hostname() + ":80"
	}
	return u.Host
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
		return transportError(ctx, op, "", err)
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
	if len(crumb.Field) > maxCrumb || len(crumb.Crumb) > maxCrumb {
		return badResponse(op, "", resp, fmt.Errorf("a crumb or crumb field longer than %d bytes", maxCrumb))
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

// errUnauthorized says what a 401 means to the operator. A token that
// worked yesterday may have expired: tokens carry an expiry date since
// Jenkins 2.548.
var errUnauthorized = errors.New("Jenkins refused the credentials: check JENKINS_USER and the token " +
	"(JENKINS_API_TOKEN or JENKINS_API_TOKEN_FILE); API tokens can expire since Jenkins 2.548")

func statusError(op, node string, resp *http.Response, body string) error {
	e := &Error{Op: op, Node: node, Status: resp.StatusCode}
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		e.Kind = KindUnauthorized
		e.Err = errUnauthorized
	case resp.StatusCode == http.StatusForbidden:
		e.Kind = KindForbidden
		e.Permission = boundedHeader(resp.Header.Get("X-Required-Permission"), maxPermission)
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

// transportError classifies a request that got no complete answer. Any
// failure once the request's deadline has passed is a timeout: the
// deadline is what cut it, however the error reads (a cancelled request, a
// closed connection, a truncated body).
func transportError(ctx context.Context, op, node string, err error) error {
	e := &Error{Op: op, Node: node, Kind: KindNetwork, Err: err}
	var ne net.Error
	if pastDeadline(ctx) || errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		e.Kind = KindTimeout
	} else if errors.Is(err, errBodyTooLarge) || errors.Is(err, errHeadersTooLarge) || isDecodeError(err) {
		e.Kind = KindBadResponse
	}
	return e
}

// pastDeadline tells whether ctx's deadline (JENKINS_TIMEOUT, or a
// caller's shorter one) has passed. A cancelled context is not a timeout.
func pastDeadline(ctx context.Context) bool {
	return errors.Is(ctx.Err(), context.DeadlineExceeded)
}

func timeoutError(ctx context.Context, op, node string, resp *http.Response) error {
	e := &Error{Op: op, Node: node, Kind: KindTimeout, Err: fmt.Errorf("answer not complete in time: %w", ctx.Err())}
	if resp != nil {
		e.Status = resp.StatusCode
	}
	return e
}

func isDecodeError(err error) bool {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	return errors.As(err, &se) || errors.As(err, &te) || errors.Is(err, io.ErrUnexpectedEOF)
}

var (
	errBodyTooLarge    = fmt.Errorf("response body larger than %d bytes", maxBody)
	errHeadersTooLarge = fmt.Errorf("response headers larger than %d bytes", maxHeaderBytes)
)

// limitBody caps every response body.
type limitBody struct{ rt http.RoundTripper }

func (l limitBody) RoundTrip(r *http.Request) (*http.Response, error) {
	// Jenkins words offlineCause.description in the request's language;
	// ask for the one every release has. The request is gojenkins' own,
	// made for this call only.
	if r.Header.Get("Accept-Language") == "" {
		r.Header.Set("Accept-Language", "en")
	}
	resp, err := l.rt.RoundTrip(r)
	if err != nil {
		// Go's transport says so only in words. Headers that large are
		// no answer of Jenkins': a bad response, not a network failure.
		if strings.Contains(err.Error(), "response headers exceeded") {
			err = fmt.Errorf("%w: %w", errHeadersTooLarge, err)
		}
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
	takeJSONBody(r, resp)
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
