package cli

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A web configuration file with a mistake stops the daemon at once with
// exit 2 and a message naming the variable, before it listens or polls.
func TestBadWebConfigExitsAtOnceNamingTheVariable(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		"plain-password.yml": "basic_auth_users:\n  prom: not-a-bcrypt-hash\n",
		"missing-cert.yml":   "tls_server_config:\n  cert_file: nope.crt\n  key_file: nope.key\n",
		"typo.yml":           "basic_auth_user:\n  prom: x\n",
	} {
		t.Run(name, func(t *testing.T) {
			file := filepath.Join(dir, name)
			writeFile(t, file, content)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			code, _, errOut := run(t, ctx, []string{"JENKINS_URL=http://127.0.0.1:1", "WATCHDOG_LISTEN_ADDR=127.0.0.1:0",
				"WATCHDOG_WEB_CONFIG_FILE=" + file})
			if code != ExitUsage || !strings.Contains(errOut, "WATCHDOG_WEB_CONFIG_FILE: \""+file+"\"") {
				t.Errorf("exit %d, stderr %q; want %d naming WATCHDOG_WEB_CONFIG_FILE and the file", code, errOut, ExitUsage)
			}
			if strings.Contains(errOut, "not-a-bcrypt-hash") {
				t.Errorf("stderr shows the password: %q", errOut)
			}
			if ctx.Err() != nil {
				t.Error("a bad web configuration did not stop the daemon at once")
			}
		})
	}
}
