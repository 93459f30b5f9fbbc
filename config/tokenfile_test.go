package config

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// loadWithTokenFile runs Load with JENKINS_API_TOKEN_FILE=path on the real
// file system, and fails the test if Load does not return within 10 s: a
// FIFO read with os.ReadFile blocks forever.
func loadWithTokenFile(t *testing.T, path string) (*Config, error) {
	t.Helper()
	type result struct {
		c   *Config
		err error
	}
	done := make(chan result, 1)
	go func() {
		c, err := Load([]string{"JENKINS_URL=http://127.0.0.1:8080", "JENKINS_USER=watchdog",
			"JENKINS_API_TOKEN_FILE=" + path, "WATCHDOG_PAIRS=slave01:slave02"}, os.ReadFile)
		done <- result{c, err}
	}()
	select {
	case r := <-done:
		return r.c, r.err
	case <-time.After(10 * time.Second):
		t.Fatalf("Load with JENKINS_API_TOKEN_FILE=%s did not return", path)
		return nil, nil
	}
}

func TestTokenFileMustBeASmallRegularFile(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, []byte(strings.Repeat("x", MaxTokenFileBytes+1)), 0o600); err != nil {
		t.Fatal(err)
	}
	zero := filepath.Join(dir, "zero")
	if err := os.Symlink("/dev/zero", zero); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct{ path, want string }{
		"named pipe":         {fifo, "not a regular file (a named pipe)"},
		"link to /dev/zero":  {zero, "not a regular file (a character device)"},
		"directory":          {dir, "not a regular file (a directory)"},
		"larger than 4096 B": {big, "a token file holds at most 4096"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := loadWithTokenFile(t, tc.path)
			if err == nil || !strings.Contains(err.Error(), "JENKINS_API_TOKEN_FILE") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one naming JENKINS_API_TOKEN_FILE and saying %q", err, tc.want)
			}
		})
	}
}

// A Kubernetes Secret mounts each key as a link into ..data, itself a link
// to a timestamped directory: the links are followed.
func TestTokenFileThroughSecretLinks(t *testing.T) {
	dir := t.TempDir()
	stamp := filepath.Join(dir, "..2026_12_02_10_00_00.123")
	if err := os.Mkdir(stamp, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(stamp, "token"), []byte("11aabbccddeeff\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Base(stamp), filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join("..data", "token"), filepath.Join(dir, "token")); err != nil {
		t.Fatal(err)
	}
	c, err := loadWithTokenFile(t, filepath.Join(dir, "token"))
	if err != nil {
		t.Fatal(err)
	}
	if c.JenkinsToken.Reveal() != "11aabbccddeeff" {
		t.Errorf("token read through the links is wrong (length %d)", len(c.JenkinsToken.Reveal()))
	}
}

func TestReadTokenFileRefusesAFIFOAtOnce(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadTokenFile(fifo); err == nil || !strings.Contains(err.Error(), "named pipe") {
		t.Fatalf("ReadTokenFile(fifo) = %v, want a named-pipe error", err)
	}
}
