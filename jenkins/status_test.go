package jenkins

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
)

// The status of a change's answer is judged at its bounds: every 2xx is
// done; a 3xx is done only when it points back into Jenkins; 300 with no
// Location is not; 400 is a plain refusal, not a redirect.
func TestActionStatusBounds(t *testing.T) {
	tests := []struct {
		status   int
		location string
		kind     Kind // "" for success
		redirect bool // the error says the action was redirected away
	}{
		{http.StatusOK, "", "", false},
		{http.StatusNoContent, "", "", false},
		{299, "", "", false},
		{http.StatusMultipleChoices, "", KindBadResponse, true},
		{http.StatusFound, "/jenkins/computer/s/", "", false},
		{399, "/jenkins/computer/s/", "", false},
		{399, "/elsewhere/", KindBadResponse, true},
		{http.StatusBadRequest, "/jenkins/computer/s/", KindUnexpected, false},
	}
	for _, tt := range tests {
		t.Run(http.StatusText(tt.status)+" "+tt.location, func(t *testing.T) {
			c, _, _ := newClient(t, func(w http.ResponseWriter, _ *http.Request) {
				if tt.location != "" {
					w.Header().Set("Location", tt.location)
				}
				w.WriteHeader(tt.status)
			})
			err := c.toggleOffline(context.Background(), "s")
			if tt.kind == "" {
				if err != nil {
					t.Fatalf("HTTP %d: %v, want done", tt.status, err)
				}
				return
			}
			var je *Error
			if !errors.As(err, &je) || je.Kind != tt.kind || je.Status != tt.status {
				t.Fatalf("HTTP %d: %v, want a %s error", tt.status, err, tt.kind)
			}
			if got := strings.Contains(err.Error(), "redirected"); got != tt.redirect {
				t.Errorf("HTTP %d: %v; says redirected: %t, want %t", tt.status, err, got, tt.redirect)
			}
		})
	}
}

// An answer carrying X-Error (Jenkins sends it on some failures, a proxy
// may too) is judged by its status like any other, for reads and changes
// alike: gojenkins would turn it into an error of its own that reads as a
// network failure (and leak the connection: reliability's
// TestXErrorHeaderAnswer counts them).
func TestXErrorAnswerIsJudgedByItsStatus(t *testing.T) {
	c, _, _ := newClient(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("X-Error", "something went wrong")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{}`))
	})
	_, readErr := c.Computers(context.Background())
	postErr := c.toggleOffline(context.Background(), "s")
	for what, err := range map[string]error{"read": readErr, "toggleOffline": postErr} {
		var je *Error
		if !errors.As(err, &je) || je.Kind != KindUnexpected || je.Status != http.StatusBadRequest {
			t.Errorf("%s answered 400 with X-Error: %v, want an unexpected-status error with its status", what, err)
		}
	}
}
