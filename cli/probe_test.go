package cli

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/watcher"
)

// statusJSON is a /status answer in which Jenkins-supplied text tries to
// drive the terminal: an ANSI colour, a carriage return that would
// overwrite the line, a right-to-left override, and a C1 control.
const statusJSON = `{
 "controller": {"url": "https://jenkins.example", "version": "2.4\u001b]0;pwned\u0007", "up": true,
   "lastError": "boom\rall good"},
 "failback": "auto",
 "groups": [{"name": "slave01", "state": "normal", "active": "slave01"}],
 "nodes": [
  {"name": "slave01", "group": "slave01", "role": "primary", "state": "offline",
   "reason": "\u001b[31mred\u001b[0m disk\rfine\u202eexe.txt\u0085"},
  {"name": "ağent-02", "group": "slave01", "role": "standby", "state": "parked", "reason": "Wartung – ağent, 設備"}
 ]
}`

// statusServer answers /status and /livez, and records what it was asked.
type statusServer struct {
	mu   sync.Mutex
	reqs []*http.Request
}

func (s *statusServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.reqs = append(s.reqs, r)
	s.mu.Unlock()
	switch r.URL.Path {
	case "/status":
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(statusJSON))
	case "/livez":
		_, _ = w.Write([]byte("ok\n"))
	default:
		http.NotFound(w, r)
	}
}

func (s *statusServer) requests() []*http.Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*http.Request(nil), s.reqs...)
}

// basicAuth wraps h so that it wants user:pass.
func basicAuth(h http.Handler, user, pass string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != user || p != pass {
			w.Header().Set("WWW-Authenticate", `Basic realm="watchdog"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

func writeCertPEM(t *testing.T, name string, der []byte) string {
	t.Helper()
	writeFile(t, name, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	return name
}

func httpsAddr(srv *httptest.Server) string {
	return "https://" + srv.Listener.Addr().String()
}

func TestStatusEscapesTerminalControlsFromJenkins(t *testing.T) {
	srv := httptest.NewServer(&statusServer{})
	defer srv.Close()
	code, out, errOut := run(t, context.Background(), nil, "status", "--addr", srv.Listener.Addr().String())
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		`\x1b[31mred\x1b[0m disk\rfine\u202eexe.txt\u0085`,
		`version 2.4\x1b]0;pwned\a`,
		`last error: boom\rall good`,
		"ağent-02", "Wartung – ağent, 設備",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	for _, raw := range []string{"\x1b", "\r", "\u202e", "\u0085", "\x07"} {
		if strings.Contains(out, raw) {
			t.Errorf("output holds raw %q:\n%s", raw, out)
		}
	}

	// --json is the daemon's answer byte for byte: JSON escapes controls.
	code, out, _ = run(t, context.Background(), nil, "status", "--json", "--addr", srv.Listener.Addr().String())
	if code != ExitOK || out != statusJSON {
		t.Errorf("--json: exit %d, out %q", code, out)
	}
}

func TestTerminalSafe(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"slave01", "slave01"},
		{"ağent Wartung 設備 – ok", "ağent Wartung 設備 – ok"},
		{`C:\agent\work`, `C:\agent\work`},
		{"\x1b[2J", `\x1b[2J`},
		{"a\rb\nc\td\x00e\x7f", `a\rb\nc\td\x00e\x7f`},
		{"\u0085\u009b", `\u0085\u009b`},
		{"abc\u202edcba\u2066x\u2069\u200f\u061c", `abc\u202edcba\u2066x\u2069\u200f\u061c`},
		{"line\u2028sep\u2029", `line\u2028sep\u2029`},
		{"bad\xffbyte\xc3", `bad\xffbyte\xc3`},
		{"real \ufffd stays", "real \ufffd stays"},
	} {
		if got := terminalSafe(tc.in); got != tc.want {
			t.Errorf("terminalSafe(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestPrintStatusKeepsTablesAlignedWithTabsInNames(t *testing.T) {
	var b strings.Builder
	PrintStatus(&b, watcher.Status{Nodes: []watcher.NodeStatus{{Name: "a\tb", Group: "g", Role: "primary", State: "online"}}}, time.Now())
	if !strings.Contains(b.String(), `a\tb`) {
		t.Errorf("tab in a node name not escaped:\n%s", b.String())
	}
}

func TestStatusRefusesSelfSignedCertificateUnlessTrusted(t *testing.T) {
	srv := httptest.NewTLSServer(&statusServer{})
	defer srv.Close()
	ca := writeCertPEM(t, filepath.Join(t.TempDir(), "ca.pem"), srv.Certificate().Raw)
	addr := httpsAddr(srv)

	code, _, errOut := run(t, context.Background(), nil, "status", "--addr", addr)
	if code != ExitDaemonUnreachable || !strings.Contains(errOut, "certificate") {
		t.Errorf("unverified: exit %d, stderr %q", code, errOut)
	}
	for _, args := range [][]string{
		{"--ca-file", ca},
		{"--insecure"},
		// httptest's certificate names example.com as well as 127.0.0.1.
		{"--ca-file", ca, "--server-name", "example.com"},
	} {
		args = append([]string{"status", "--addr", addr}, args...)
		if code, out, errOut := run(t, context.Background(), nil, args...); code != ExitOK || !strings.Contains(out, "NODE") {
			t.Errorf("%v: exit %d, stderr %q", args, code, errOut)
		}
	}
	code, _, errOut = run(t, context.Background(), nil, "status", "--addr", addr, "--ca-file", ca, "--server-name", "other.example")
	if code != ExitDaemonUnreachable || !strings.Contains(errOut, "other.example") {
		t.Errorf("wrong --server-name: exit %d, stderr %q", code, errOut)
	}
	if code, out, errOut := run(t, context.Background(), nil, "healthcheck", "--addr", addr, "--ca-file", ca); code != ExitOK || out != "ok\n" {
		t.Errorf("healthcheck over https: exit %d, out %q, stderr %q", code, out, errOut)
	}
	if code, _, _ := run(t, context.Background(), nil, "healthcheck", "--addr", addr); code != ExitDaemonUnreachable {
		t.Errorf("healthcheck, unverified: exit %d", code)
	}
}

func TestStatusOverHTTPToHTTPSServerSaysUseHTTPS(t *testing.T) {
	srv := httptest.NewTLSServer(&statusServer{})
	defer srv.Close()
	code, _, errOut := run(t, context.Background(), nil, "status", "--addr", srv.Listener.Addr().String())
	if code != ExitDaemonUnreachable || !strings.Contains(errOut, "use --addr https://"+srv.Listener.Addr().String()) {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
}

// clientCert makes a CA and a client certificate it signed, as PEM files.
func clientCert(t *testing.T, dir string) (caPool *x509.CertPool, certFile, keyFile string) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test client CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "status"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile = writeCertPEM(t, filepath.Join(dir, "client.pem"), der)
	keyFile = filepath.Join(dir, "client-key.pem")
	writeFile(t, keyFile, string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})))
	caPool = x509.NewCertPool()
	caPool.AddCert(caCert)
	return caPool, certFile, keyFile
}

func TestStatusPresentsClientCertificate(t *testing.T) {
	dir := t.TempDir()
	pool, certFile, keyFile := clientCert(t, dir)
	srv := httptest.NewUnstartedServer(&statusServer{})
	srv.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool}
	srv.StartTLS()
	defer srv.Close()
	ca := writeCertPEM(t, filepath.Join(dir, "ca.pem"), srv.Certificate().Raw)

	if code, _, _ := run(t, context.Background(), nil, "status", "--addr", httpsAddr(srv), "--ca-file", ca); code != ExitDaemonUnreachable {
		t.Errorf("without a client certificate: exit %d", code)
	}
	code, out, errOut := run(t, context.Background(), nil, "status", "--addr", httpsAddr(srv), "--ca-file", ca,
		"--cert-file", certFile, "--key-file", keyFile)
	if code != ExitOK || !strings.Contains(out, "NODE") {
		t.Errorf("with a client certificate: exit %d, stderr %q", code, errOut)
	}
}

func TestStatusBasicAuthFromFileOrEnvironment(t *testing.T) {
	backend := &statusServer{}
	srv := httptest.NewServer(basicAuth(backend, "ops", "s3cret pass"))
	defer srv.Close()
	addr := srv.Listener.Addr().String()
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "pw")
	writeFile(t, pwFile, "s3cret pass\n")
	wrongFile := filepath.Join(dir, "wrong")
	writeFile(t, wrongFile, "nope\n")

	for _, tc := range []struct {
		name    string
		environ []string
		args    []string
	}{
		{"password file", nil, []string{"--user", "ops", "--password-file", pwFile}},
		{"password from the environment", []string{"WATCHDOG_STATUS_PASSWORD=s3cret pass"}, []string{"--user", "ops"}},
		{"user and password from the environment", []string{"WATCHDOG_STATUS_USER=ops", "WATCHDOG_STATUS_PASSWORD=s3cret pass"}, nil},
	} {
		args := append([]string{"status", "--addr", addr}, tc.args...)
		if code, out, errOut := run(t, context.Background(), tc.environ, args...); code != ExitOK || !strings.Contains(out, "NODE") {
			t.Errorf("%s: exit %d, stderr %q", tc.name, code, errOut)
		}
		hc := append([]string{"healthcheck", "--addr", addr}, tc.args...)
		if code, _, errOut := run(t, context.Background(), tc.environ, hc...); code != ExitOK {
			t.Errorf("%s: healthcheck exit %d, stderr %q", tc.name, code, errOut)
		}
	}

	code, _, errOut := run(t, context.Background(), nil, "status", "--addr", addr)
	if code != ExitDaemonUnreachable || !strings.Contains(errOut, "wants Basic auth") {
		t.Errorf("no credentials: exit %d, stderr %q", code, errOut)
	}
	code, _, errOut = run(t, context.Background(), nil, "status", "--addr", addr, "--user", "ops", "--password-file", wrongFile)
	if code != ExitDaemonUnreachable || !strings.Contains(errOut, "refused") || strings.Contains(errOut, "nope") {
		t.Errorf("wrong password: exit %d, stderr %q", code, errOut)
	}
}

func TestStatusDoesNotFollowRedirectsWithCredentials(t *testing.T) {
	elsewhere := &statusServer{}
	other := httptest.NewServer(elsewhere)
	defer other.Close()
	_, port, err := net.SplitHostPort(other.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	for _, target := range []string{
		other.URL + "/status", // same host, another port: Go's client would keep Authorization
		"http://localhost:" + port + "/status",
	} {
		redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, target, http.StatusFound)
		}))
		dir := t.TempDir()
		pw := filepath.Join(dir, "pw")
		writeFile(t, pw, "s3cret\n")
		code, _, errOut := run(t, context.Background(), nil, "status", "--addr", redirector.Listener.Addr().String(),
			"--user", "ops", "--password-file", pw)
		redirector.Close()
		if code != ExitDaemonUnreachable || !strings.Contains(errOut, "not followed") {
			t.Errorf("redirect to %s: exit %d, stderr %q", target, code, errOut)
		}
	}
	for _, r := range elsewhere.requests() {
		if r.Header.Get("Authorization") != "" {
			t.Errorf("the redirect target received Authorization: %s %s", r.Method, r.URL)
		}
	}
	if n := len(elsewhere.requests()); n != 0 {
		t.Errorf("the redirect target received %d requests", n)
	}
}

func TestProbeIgnoresProxyEnvironment(t *testing.T) {
	p, err := (&probeFlags{addr: "127.0.0.1:9723", timeout: time.Second}).build(Env{
		Environ: []string{"HTTP_PROXY=http://proxy.example:3128", "HTTPS_PROXY=http://proxy.example:3128"},
	})
	if err != nil {
		t.Fatal(err)
	}
	tr, ok := p.client.Transport.(*http.Transport)
	if !ok {
		t.Fatalf("transport %T", p.client.Transport)
	}
	if tr.Proxy != nil {
		t.Error("the probe client would use a proxy")
	}
}

func TestDaemonURL(t *testing.T) {
	for _, tc := range []struct{ addr, want string }{
		{":9723", "http://127.0.0.1:9723"},
		{"0.0.0.0:9723", "http://127.0.0.1:9723"},
		{"[::]:9723", "http://127.0.0.1:9723"},
		{"watchdog:9723", "http://watchdog:9723"},
		{"[::1]:9723", "http://[::1]:9723"},
		{"http://127.0.0.1:9723", "http://127.0.0.1:9723"},
		{"https://watchdog.example:9723/", "https://watchdog.example:9723"},
		{"HTTPS://:9723", "https://127.0.0.1:9723"},
	} {
		u, err := daemonURL(tc.addr)
		if err != nil || u.String() != tc.want {
			t.Errorf("daemonURL(%q) = %v, %v; want %s", tc.addr, u, err, tc.want)
		}
	}
}

func TestProbeUsageErrors(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	writeFile(t, pw, "s3cret\n")
	empty := filepath.Join(dir, "empty")
	writeFile(t, empty, "\n")
	twoLines := filepath.Join(dir, "two")
	writeFile(t, twoLines, "a\nb\n")
	notPEM := filepath.Join(dir, "not.pem")
	writeFile(t, notPEM, "hello")
	missing := filepath.Join(dir, "missing")
	const https = "https://127.0.0.1:1"

	for _, tc := range []struct {
		environ []string
		args    []string
	}{
		{nil, []string{"--timeout", "0s"}},
		{nil, []string{"--timeout", "-1s"}},
		{nil, []string{"--addr", "127.0.0.1"}},
		{nil, []string{"--addr", "127.0.0.1:0"}},
		{nil, []string{"--addr", "127.0.0.1:http"}},
		{nil, []string{"--addr", "ftp://127.0.0.1:1"}},
		{nil, []string{"--addr", "http://127.0.0.1:1/status"}},
		{nil, []string{"--addr", "https://ops:s3cret@127.0.0.1:1"}},
		{nil, []string{"--password", "s3cret"}}, // never on the command line
		{nil, []string{"--user", "ops"}},
		{nil, []string{"--user", "o:ps", "--password-file", pw}},
		{nil, []string{"--password-file", pw}},
		{[]string{"WATCHDOG_STATUS_PASSWORD=x"}, []string{"--user", "ops", "--password-file", pw}},
		{nil, []string{"--user", "ops", "--password-file", missing}},
		{nil, []string{"--user", "ops", "--password-file", empty}},
		{nil, []string{"--user", "ops", "--password-file", twoLines}},
		// Credentials in clear text leave the host only over https.
		{nil, []string{"--addr", "192.0.2.1:9723", "--user", "ops", "--password-file", pw}},
		{nil, []string{"--ca-file", pw}},   // http address
		{nil, []string{"--insecure"}},      // http address
		{nil, []string{"--cert-file", pw}}, // http address
		{nil, []string{"--addr", https, "--insecure", "--ca-file", notPEM}},
		{nil, []string{"--addr", https, "--insecure", "--server-name", "x"}},
		{nil, []string{"--addr", https, "--ca-file", notPEM}},
		{nil, []string{"--addr", https, "--ca-file", missing}},
		{nil, []string{"--addr", https, "--cert-file", pw}},
		{nil, []string{"--addr", https, "--cert-file", notPEM, "--key-file", notPEM}},
	} {
		for _, cmd := range []string{"status", "healthcheck"} {
			args := append([]string{cmd}, tc.args...)
			if code, _, errOut := run(t, context.Background(), tc.environ, args...); code != ExitUsage {
				t.Errorf("%v %v: exit %d (%s), want %d", tc.environ, args, code, errOut, ExitUsage)
			}
		}
	}
}

func TestPrintStatusShowsReadinessAndRedundancy(t *testing.T) {
	var b strings.Builder
	now := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	down := now.Add(-90 * time.Second)
	PrintStatus(&b, watcher.Status{
		Groups: []watcher.GroupStatus{{Name: "g", Primary: "p", Standbys: []string{"s1", "s2", "s3"}, State: watcher.PhaseNormal,
			Active: "p", ReadyStandbys: 1, Redundancy: "1 of 2 standbys ready"}},
		Nodes: []watcher.NodeStatus{
			{Name: "p", Group: "g", Role: "primary", State: "online"},
			{Name: "s1", Group: "g", Role: "standby", State: "parked", Readiness: &watcher.Readiness{Why: "parked, its channel is down"}},
			{Name: "s2", Group: "g", Role: "standby", State: "parked", Readiness: &watcher.Readiness{Ready: true, Why: "parked and connected"}},
			{Name: "s3", Group: "g", Role: "standby", State: "held", HeldBy: "bob", Readiness: &watcher.Readiness{Why: "parked, its channel is down",
				DisconnectedSince: &down, LastLaunchFailure: &watcher.LaunchFailure{Seen: now.Add(-30 * time.Second), Reason: "Connection refused"}}},
		},
	}, now)
	out := b.String()
	for _, want := range []string{"REDUNDANCY", "1 of 2 standbys ready", "READY", "no: parked, its channel is down", "yes",
		"held (by bob)", "disconnected for 1m30s", "last launch failed 30s ago: Connection refused"} {
		if !strings.Contains(out, want) {
			t.Errorf("status output lacks %q:\n%s", want, out)
		}
	}
}

// With a health listener, healthcheck asks it by default: plain HTTP, no
// credentials, whatever guards the main listener.
func TestHealthcheckUsesTheHealthListener(t *testing.T) {
	health := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/livez" {
			http.NotFound(w, r)
			return
		}
		_, _ = io.WriteString(w, "ok\n")
	}))
	defer health.Close()
	addr := strings.TrimPrefix(health.URL, "http://")
	env := []string{"WATCHDOG_LISTEN_ADDR=127.0.0.1:1", "WATCHDOG_HEALTH_ADDR=" + addr}
	if code, out, errOut := run(t, context.Background(), env, "healthcheck"); code != ExitOK || out != "ok\n" {
		t.Errorf("healthcheck: exit %d, out %q, stderr %q", code, out, errOut)
	}
	if code, _, _ := run(t, context.Background(), env, "status"); code != ExitDaemonUnreachable {
		t.Errorf("status must stay on WATCHDOG_LISTEN_ADDR: exit %d", code)
	}
}
