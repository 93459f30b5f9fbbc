package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/crypto/bcrypt"
)

// ca is a throwaway certificate authority made for one test.
type ca struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newCA(t *testing.T, name string) *ca {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &ca{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

func (c *ca) pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(c.cert)
	return p
}

// issue signs a leaf certificate for 127.0.0.1 (server) or a client, and
// returns its certificate and key in PEM.
func (c *ca) issue(t *testing.T, name string, usage x509.ExtKeyUsage) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
	}
	if usage == x509.ExtKeyUsageServerAuth {
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, &key.PublicKey, c.key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
}

func (c *ca) clientCert(t *testing.T, name string) tls.Certificate {
	t.Helper()
	certPEM, keyPEM := c.issue(t, name, x509.ExtKeyUsageClientAuth)
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	// Write then rename, as a secret or config-map update does, so that
	// the server never reads half a file.
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func hash(t *testing.T, password string) string {
	t.Helper()
	// The lowest cost keeps the race-enabled tests quick; the server
	// accepts any cost.
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

// serve starts a real server on loopback with the web configuration file
// and returns its address; it is shut down when the test ends.
func serve(t *testing.T, webConfig string) string {
	t.Helper()
	w := &stubWatcher{}
	w.live.Store(true)
	w.ready.Store(true)
	srv, err := Listen(Options{Addr: "127.0.0.1:0", WebConfigFile: webConfig, Gatherer: prometheus.NewRegistry(), Watcher: w})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve() }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Error(err)
		}
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return srv.Addr().String()
}

// tlsServerFiles writes a server certificate signed by a new CA into dir
// and returns that CA.
func tlsServerFiles(t *testing.T, dir string) *ca {
	t.Helper()
	serverCA := newCA(t, "server CA")
	certPEM, keyPEM := serverCA.issue(t, "jenkins-failover-watchdog", x509.ExtKeyUsageServerAuth)
	writeFile(t, filepath.Join(dir, "server.crt"), certPEM)
	writeFile(t, filepath.Join(dir, "server.key"), keyPEM)
	return serverCA
}

type client struct {
	t    *testing.T
	base string
	http *http.Client
}

func newClient(t *testing.T, base string, roots *x509.CertPool, certs ...tls.Certificate) *client {
	t.Helper()
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, Certificates: certs, MinVersion: tls.VersionTLS12}}
	t.Cleanup(tr.CloseIdleConnections)
	// Generous: an unknown user costs a bcrypt comparison at the toolkit's
	// cost 10, slow under the race detector on a busy machine.
	return &client{t: t, base: base, http: &http.Client{Timeout: 60 * time.Second, Transport: tr}}
}

// get returns the status code, or an error when no HTTP answer came back.
func (c *client) get(path string, userPass ...string) (int, error) {
	c.t.Helper()
	req, err := http.NewRequest(http.MethodGet, c.base+path, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	if len(userPass) == 2 {
		req.SetBasicAuth(userPass[0], userPass[1])
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, err
	}
	_ = resp.Body.Close()
	if strings.HasPrefix(c.base, "https:") && resp.TLS == nil {
		c.t.Errorf("GET %s was not over TLS", path)
	}
	if resp.StatusCode == http.StatusUnauthorized && resp.Header.Get("WWW-Authenticate") == "" {
		c.t.Errorf("GET %s: 401 without WWW-Authenticate", path)
	}
	return resp.StatusCode, nil
}

func (c *client) want(path string, want int, userPass ...string) {
	c.t.Helper()
	got, err := c.get(path, userPass...)
	if err != nil {
		c.t.Errorf("GET %s %v: %v, want %d", path, userPass, err, want)
	} else if got != want {
		c.t.Errorf("GET %s %v: %d, want %d", path, userPass, got, want)
	}
}

func TestBasicAuthOverTLS(t *testing.T) {
	dir := t.TempDir()
	serverCA := tlsServerFiles(t, dir)
	cfg := filepath.Join(dir, "web.yml")
	// Relative file names are relative to the configuration file.
	writeFile(t, cfg, fmt.Appendf(nil, "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\nbasic_auth_users:\n  prom: %s\n", hash(t, "right-pw")))
	addr := serve(t, cfg)
	c := newClient(t, "https://"+addr, serverCA.pool())

	for _, path := range []string{"/metrics", "/status", "/"} {
		c.want(path, http.StatusOK, "prom", "right-pw")
		c.want(path, http.StatusUnauthorized, "prom", "wrong-pw")
		c.want(path, http.StatusUnauthorized)
	}
	// An unknown user costs a full bcrypt comparison against a dummy hash
	// (so timing does not tell users apart): once is enough here.
	c.want("/metrics", http.StatusUnauthorized, "nobody", "right-pw")
	// The toolkit applies the file to every path: health endpoints too.
	// Probes must send credentials (docs/http.md, "TLS and authentication").
	c.want("/livez", http.StatusUnauthorized)
	c.want("/readyz", http.StatusOK, "prom", "right-pw")
	c.want("/nope", http.StatusNotFound, "prom", "right-pw")

	// Plain HTTP to the TLS port is refused, not served.
	plain := newClient(t, "http://"+addr, nil)
	if code, err := plain.get("/metrics", "prom", "right-pw"); err == nil && code == http.StatusOK {
		t.Error("plain HTTP served metrics on the TLS port")
	}
	// A client that does not trust the server's CA does not get through.
	if _, err := newClient(t, "https://"+addr, newCA(t, "other").pool()).get("/livez"); err == nil {
		t.Error("a client that does not trust the server's CA got an answer")
	}
}

func TestClientCertificateRequired(t *testing.T) {
	dir := t.TempDir()
	serverCA := tlsServerFiles(t, dir)
	clientCA := newCA(t, "client CA")
	writeFile(t, filepath.Join(dir, "client-ca.crt"), clientCA.pem)
	cfg := filepath.Join(dir, "web.yml")
	writeFile(t, cfg, []byte("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"+
		"  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: client-ca.crt\n"))
	addr := serve(t, cfg)

	newClient(t, "https://"+addr, serverCA.pool(), clientCA.clientCert(t, "prometheus")).want("/metrics", http.StatusOK)

	if code, err := newClient(t, "https://"+addr, serverCA.pool()).get("/metrics"); err == nil {
		t.Errorf("no client certificate: answered %d, want the handshake refused", code)
	}
	// Probes too: the handshake comes before any path.
	if code, err := newClient(t, "https://"+addr, serverCA.pool()).get("/livez"); err == nil {
		t.Errorf("no client certificate on /livez: answered %d, want the handshake refused", code)
	}
	stranger := newCA(t, "stranger CA").clientCert(t, "mallory")
	if code, err := newClient(t, "https://"+addr, serverCA.pool(), stranger).get("/metrics"); err == nil {
		t.Errorf("client certificate from another CA: answered %d, want the handshake refused", code)
	}
}

// The toolkit reads the file on every request and every handshake: users,
// passwords and certificates change without a restart.
func TestWebConfigChangesWithoutRestart(t *testing.T) {
	dir := t.TempDir()
	serverCA := tlsServerFiles(t, dir)
	cfg := filepath.Join(dir, "web.yml")
	tlsPart := "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
	writeFile(t, cfg, fmt.Appendf(nil, "%sbasic_auth_users:\n  prom: %s\n", tlsPart, hash(t, "first-pw")))
	addr := serve(t, cfg)
	c := newClient(t, "https://"+addr, serverCA.pool())
	c.want("/metrics", http.StatusOK, "prom", "first-pw")
	c.want("/metrics", http.StatusUnauthorized, "alice", "alice-pw")

	// A new user, and prom's password changed.
	writeFile(t, cfg, fmt.Appendf(nil, "%sbasic_auth_users:\n  prom: %s\n  alice: %s\n", tlsPart, hash(t, "second-pw"), hash(t, "alice-pw")))
	c.want("/metrics", http.StatusOK, "alice", "alice-pw")
	c.want("/metrics", http.StatusOK, "prom", "second-pw")
	c.want("/metrics", http.StatusUnauthorized, "prom", "first-pw")

	// No users left: no authentication.
	writeFile(t, cfg, []byte(tlsPart))
	c.want("/metrics", http.StatusOK)

	// A renewed certificate from a new CA is served from the next handshake on.
	newCA := tlsServerFiles(t, dir)
	if _, err := newClient(t, "https://"+addr, serverCA.pool()).get("/livez"); err == nil {
		t.Error("the old certificate is still served after renewal")
	}
	newClient(t, "https://"+addr, newCA.pool()).want("/livez", http.StatusOK)
}

func TestNoWebConfigServesPlainHTTP(t *testing.T) {
	c := newClient(t, "http://"+serve(t, ""), nil)
	for _, path := range []string{"/", "/metrics", "/status", "/livez", "/readyz"} {
		c.want(path, http.StatusOK)
	}
}

// A file broken while the watchdog runs (config.Load checked it at start)
// fails requests closed, with 500, rather than serving without auth.
func TestBrokenWebConfigFailsClosed(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "web.yml")
	writeFile(t, cfg, fmt.Appendf(nil, "basic_auth_users:\n  prom: %s\n", hash(t, "pw")))
	c := newClient(t, "http://"+serve(t, cfg), nil)
	c.want("/metrics", http.StatusOK, "prom", "pw")
	writeFile(t, cfg, []byte("basic_auth_users: [not, a, map]\n"))
	c.want("/metrics", http.StatusInternalServerError, "prom", "pw")
	c.want("/metrics", http.StatusInternalServerError)
}

func TestReadWebSettings(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		yaml string
		want WebSettings
	}{
		{"", WebSettings{}},
		{"basic_auth_users:\n  prom: x\n", WebSettings{BasicAuth: true}},
		{"tls_server_config:\n  cert_file: a\n  key_file: b\n", WebSettings{TLS: true}},
		{"tls_server_config:\n  cert_file: a\n  key_file: b\n  client_auth_type: NoClientCert\n", WebSettings{TLS: true}},
		{"tls_server_config:\n  cert_file: a\n  key_file: b\n  client_auth_type: RequireAndVerifyClientCert\nbasic_auth_users:\n  p: x\n",
			WebSettings{TLS: true, BasicAuth: true, ClientCerts: true}},
	} {
		p := filepath.Join(dir, "web.yml")
		writeFile(t, p, []byte(tt.yaml))
		got, err := ReadWebSettings(p)
		if err != nil || got != tt.want {
			t.Errorf("ReadWebSettings(%q) = %+v, %v; want %+v", tt.yaml, got, err, tt.want)
		}
	}
	if got, err := ReadWebSettings(""); err != nil || got != (WebSettings{}) {
		t.Errorf("no file: %+v, %v", got, err)
	}
	if _, err := ReadWebSettings(filepath.Join(dir, "missing.yml")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

// The health listener serves the health endpoints alone, in plain HTTP
// with no credentials, while the main listener asks for them on every
// path: probes never wait behind a bcrypt check.
func TestHealthListenerNeedsNoCredentials(t *testing.T) {
	dir := t.TempDir()
	serverCA := tlsServerFiles(t, dir)
	cfg := filepath.Join(dir, "web.yml")
	writeFile(t, cfg, fmt.Appendf(nil, "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\nbasic_auth_users:\n  prom: %s\n", hash(t, "right-pw")))
	w := &stubWatcher{}
	w.live.Store(true)
	w.ready.Store(true)
	srv, err := Listen(Options{Addr: "127.0.0.1:0", HealthAddr: "127.0.0.1:0", WebConfigFile: cfg, Gatherer: prometheus.NewRegistry(), Watcher: w})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve() }()

	main := newClient(t, "https://"+srv.Addr().String(), serverCA.pool())
	health := newClient(t, "http://"+srv.HealthAddr().String(), nil)
	for _, path := range []string{"/livez", "/healthz", "/readyz"} {
		health.want(path, http.StatusOK)
		main.want(path, http.StatusUnauthorized)
		main.want(path, http.StatusOK, "prom", "right-pw")
	}
	// Nothing else there: metrics and the view stay behind the web
	// configuration.
	for _, path := range []string{"/metrics", "/status", "/"} {
		health.want(path, http.StatusNotFound)
	}
	w.ready.Store(false)
	health.want("/readyz", http.StatusServiceUnavailable)
	health.want("/livez", http.StatusOK)
	w.ready.Store(true)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Error(err)
	}
	if err := <-done; err != nil {
		t.Errorf("Serve: %v", err)
	}
	if _, err := health.get("/livez"); err == nil {
		t.Error("the health listener still answers after Shutdown")
	}
}

// A health address that cannot be bound is an error that says so, and
// leaves the main address free again.
func TestBusyHealthAddress(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, err = Listen(Options{Addr: "127.0.0.1:0", HealthAddr: ln.Addr().String(), Gatherer: prometheus.NewRegistry(), Watcher: &stubWatcher{}})
	var le *ListenError
	if !errors.As(err, &le) || !le.Health || le.Addr != ln.Addr().String() {
		t.Fatalf("Listen with a busy health address: %v, want a *ListenError for the health address", err)
	}
}
