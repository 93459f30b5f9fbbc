package jenkins

import (
	"errors"
	"fmt"
)

// Kind sorts failures into the cases callers branch on and metrics count.
type Kind string

const (
	KindUnauthorized Kind = "auth"         // 401: bad user or token
	KindForbidden    Kind = "forbidden"    // 403: a permission is missing
	KindNotFound     Kind = "not_found"    // 404: unknown node or wrong URL prefix
	KindUnavailable  Kind = "unavailable"  // 5xx: starting up or broken
	KindBadResponse  Kind = "bad_response" // an answer that is not what Jenkins sends
	KindTimeout      Kind = "timeout"      // answer, body included, not complete within JENKINS_TIMEOUT
	KindNetwork      Kind = "network"      // refused, reset, DNS, TLS
	KindUnexpected   Kind = "unexpected"   // any other status
)

// Kinds lists every kind, for metrics.
var Kinds = []Kind{KindUnauthorized, KindForbidden, KindNotFound, KindUnavailable, KindBadResponse, KindTimeout, KindNetwork, KindUnexpected}

// Sentinel errors; every *Error matches the one of its kind with errors.Is.
var (
	ErrUnauthorized = errors.New("jenkins: unauthorized")
	ErrForbidden    = errors.New("jenkins: forbidden")
	ErrNotFound     = errors.New("jenkins: not found")
	ErrUnavailable  = errors.New("jenkins: unavailable")
	ErrBadResponse  = errors.New("jenkins: bad response")
	ErrTimeout      = errors.New("jenkins: timeout")
	ErrNetwork      = errors.New("jenkins: network error")
)

var sentinels = map[Kind]error{
	KindUnauthorized: ErrUnauthorized, KindForbidden: ErrForbidden, KindNotFound: ErrNotFound,
	KindUnavailable: ErrUnavailable, KindBadResponse: ErrBadResponse, KindTimeout: ErrTimeout, KindNetwork: ErrNetwork,
}

// Error is a failed request. It never carries credentials: the URL it
// names has none (config refuses them) and auth travels in a header.
type Error struct {
	Op         string // "read computers", "toggleOffline", ...
	Node       string
	Status     int
	Kind       Kind
	Permission string // X-Required-Permission of a 403
	Err        error
}

func (e *Error) Error() string {
	msg := "jenkins: " + e.Op
	if e.Node != "" {
		msg += fmt.Sprintf(" %q", e.Node)
	}
	if e.Status != 0 {
		msg += fmt.Sprintf(": HTTP %d", e.Status)
	}
	msg += " (" + string(e.Kind) + ")"
	if e.Permission != "" {
		msg += ": missing permission " + e.Permission
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// Is matches the sentinel of the error's kind.
func (e *Error) Is(target error) bool { return sentinels[e.Kind] == target }

// ErrorKind lets other packages sort errors without importing this one.
func (e *Error) ErrorKind() string { return string(e.Kind) }
