package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/internal/fakejenkins"
)

// -h and --help print the usage, the control API included, to stdout and
// exit 0; bad flags exit 2 before anything is served.
func TestFlags(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"--help"}, {"-help"}} {
		var out, errOut bytes.Buffer
		if code := run(context.Background(), args, &out, &errOut); code != 0 || errOut.Len() > 0 {
			t.Errorf("%v: exit %d, stderr %q", args, code, errOut.String())
		}
		for _, want := range []string{"usage: fake-jenkins", "-relaunch-every", fakejenkins.ControlAPIHelp} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("%v: stdout lacks %q:\n%s", args, want, out.String())
			}
		}
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--agents", "0"}, "--agents 0: must be positive"},
		{[]string{"--agents", "-4"}, "--agents -4: must be positive"},
		{[]string{"--groups", "1"}, "--groups needs --agents"},
		{[]string{"--agents", "8", "--groups", "0"}, "--groups 0: want 1 to half"},
		{[]string{"--agents", "8", "--groups", "5"}, "--groups 5: want 1 to half"},
		{[]string{"--relaunch-every", "-1s"}, "--relaunch-every -1s: must not be negative"},
		{[]string{"--relaunch-every", "soon"}, "invalid value"},
		{[]string{"--nosuch"}, "flag provided but not defined"},
		{[]string{"extra"}, `unexpected argument "extra"`},
	} {
		var out, errOut bytes.Buffer
		code := run(context.Background(), tt.args, &out, &errOut)
		if code != 2 || !strings.Contains(errOut.String(), tt.want) || out.Len() > 0 {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want 2 and %q", tt.args, code, out.String(), errOut.String(), tt.want)
		}
	}
}

// The walkthrough in docs/usage.md lists the control API as -h prints it.
func TestDocsListTheControlAPI(t *testing.T) {
	readme, err := os.ReadFile("../../docs/usage.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "```\n"+fakejenkins.ControlAPIHelp+"```\n") {
		t.Errorf("docs/usage.md does not list the control API as `go run ./cmd/fake-jenkins -h` prints it; paste this into its code block:\n%s", fakejenkins.ControlAPIHelp)
	}
}
