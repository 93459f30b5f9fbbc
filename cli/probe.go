package cli

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/config"
	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/watcher"
)

// localURL turns the daemon's listen address into a URL on loopback.
func localURL(listen string, tls bool) (string, error) {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "", fmt.Errorf("address %q: want host:port", listen)
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	scheme := "http"
	if tls {
		scheme = "https"
	}
	return scheme + "://" + net.JoinHostPort(host, port), nil
}

func envValue(environ []string, key, def string) string {
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key && v != "" {
			return v
		}
	}
	return def
}

func probeClient(useTLS bool) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	if useTLS {
		// The probe talks to its own process over loopback; the serving
		// certificate is issued for the service name, not 127.0.0.1.
		t.TLSClientConfig = &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12} //nolint:gosec // loopback self-probe
	}
	return &http.Client{Transport: t, Timeout: 5 * time.Second}
}

func runHealthcheck(ctx context.Context, e Env, args []string) error {
	fs := newFlagSet(e, "healthcheck", "healthcheck [--addr host:port]")
	addr := fs.String("addr", envValue(e.Environ, "WATCHDOG_LISTEN_ADDR", ":9723"), "daemon address")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	useTLS := envValue(e.Environ, "WATCHDOG_TLS_CERT_FILE", "") != ""
	base, err := localURL(*addr, useTLS)
	if err != nil {
		return &usageError{err}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/livez", nil)
	if err != nil {
		return err
	}
	resp, err := probeClient(useTLS).Do(req)
	if err != nil {
		return fmt.Errorf("daemon not reachable: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("/livez answered %s", resp.Status)
	}
	fmt.Fprintln(e.Stdout, "ok")
	return nil
}

func runStatus(ctx context.Context, e Env, args []string) error {
	fs := newFlagSet(e, "status", "status [--addr host:port] [--json]")
	addr := fs.String("addr", envValue(e.Environ, "WATCHDOG_LISTEN_ADDR", ":9723"), "daemon address")
	asJSON := fs.Bool("json", false, "print the raw JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	useTLS := envValue(e.Environ, "WATCHDOG_TLS_CERT_FILE", "") != ""
	base, err := localURL(*addr, useTLS)
	if err != nil {
		return &usageError{err}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/status", nil)
	if err != nil {
		return err
	}
	if f := envValue(e.Environ, "WATCHDOG_AUTH_FILE", ""); f != "" {
		auth, err := config.LoadAuthFile(f, e.ReadFile)
		if err != nil {
			return &usageError{err}
		}
		req.SetBasicAuth(auth.User, auth.Password.Reveal())
	}
	resp, err := probeClient(useTLS).Do(req)
	if err != nil {
		return fmt.Errorf("no watchdog answering at %s (is the daemon running? use --addr): %w", base, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s/status answered %s", base, resp.Status)
	}
	if *asJSON {
		_, err := e.Stdout.Write(body)
		return err
	}
	var st watcher.Status
	if err := json.Unmarshal(body, &st); err != nil {
		return fmt.Errorf("%s/status: not a watchdog status: %w", base, err)
	}
	PrintStatus(e.Stdout, st, time.Now())
	return nil
}

// PrintStatus renders a status as tables for people.
func PrintStatus(w io.Writer, st watcher.Status, now time.Time) {
	c := st.Controller
	up := "up"
	if !c.Up {
		up = "DOWN"
	}
	fmt.Fprintf(w, "Jenkins %s  version %s  %s", c.URL, orDash(c.Version), up)
	if c.LastSuccess != nil {
		fmt.Fprintf(w, "  last good poll %s ago", now.Sub(*c.LastSuccess).Round(time.Second))
	}
	fmt.Fprintln(w)
	if c.LastError != "" {
		fmt.Fprintf(w, "last error: %s\n", c.LastError)
	}
	mode := "failback " + st.Failback
	if st.DryRun {
		mode += ", DRY RUN"
	}
	fmt.Fprintf(w, "mode: %s\n\n", mode)

	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "GROUP\tSTATE\tACTIVE\tSINCE\tSTANDBY CARRYING FOR")
	for _, g := range st.Groups {
		since, carrying := "-", "-"
		if g.Since != nil {
			since = now.Sub(*g.Since).Round(time.Second).String()
		}
		if g.StandbyActiveSince != nil {
			carrying = now.Sub(*g.StandbyActiveSince).Round(time.Second).String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", g.Name, g.State, orDash(g.Active), since, carrying)
	}
	_ = tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tGROUP\tROLE\tSTATE\tIDLE\tREASON")
	for _, n := range st.Nodes {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%t\t%s\n", n.Name, n.Group, n.Role, n.State, n.Idle, orDash(n.Reason))
	}
	_ = tw.Flush()
	if len(st.Transitions) > 0 {
		fmt.Fprintln(w, "\nRecent transitions:")
		tr := append([]watcher.Transition(nil), st.Transitions...)
		sort.SliceStable(tr, func(i, j int) bool { return tr[i].Time.After(tr[j].Time) })
		for i, t := range tr {
			if i == 10 {
				break
			}
			fmt.Fprintf(w, "  %s  %s: %s -> %s (active %s)\n", t.Time.Format(time.RFC3339), t.Group, t.From, t.To, orDash(t.Active))
		}
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
