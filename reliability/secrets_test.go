package reliability

import (
	"strings"
	"testing"
)

// leaks returns the credential material found in s.
func leaks(s string) []string {
	var found []string
	for _, needle := range []string{testToken, basicAuthValue(testUser, testToken), testToken[:16]} {
		if strings.Contains(s, needle) {
			found = append(found, needle)
		}
	}
	return found
}

// checkSecrets looks, across every cell of the fault matrix, for the API
// token, a prefix of it and the Basic-auth header value in every log line
// (slog JSON at debug level), every error Poll returned, and the /status
// and /metrics bodies. TestFaultMatrix runs it as its "secrets" subtest
// (go test -run TestFaultMatrix/secrets ./reliability/).
func checkSecrets(t *testing.T, results [][]cellResult) {
	if got := leaks("x " + basicAuthValue(testUser, testToken) + " y"); len(got) != 1 {
		t.Fatalf("the detector does not find the Basic-auth value: %v", got)
	}
	var logBytes, errCount int
	for i, row := range results {
		for j, c := range row {
			where := faultRows[i].name + "/" + moments[j].String()
			for what, s := range map[string]string{"log": c.logs, "/status": c.status, "/metrics": c.metrics,
				"errors": strings.Join(c.errs, "\n")} {
				if l := leaks(s); len(l) > 0 {
					t.Errorf("%s: %s holds credential material %q", where, what, l)
				}
			}
			logBytes += len(c.logs)
			errCount += len(c.errs)
		}
	}
	// The haystack must be real: the faults produced errors and logs.
	if errCount < len(faultRows) || logBytes < 10000 {
		t.Fatalf("too little output checked: %d errors, %d log bytes", errCount, logBytes)
	}
	t.Logf("checked %d log bytes and %d errors across %d cells", logBytes, errCount, len(faultRows)*len(moments))
}
