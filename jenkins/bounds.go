package jenkins

import (
	"unicode/utf8"

	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/agent"
)

// Bounds on what an answer from Jenkins, or from whatever answers in its
// place (a proxy, a wrong URL, a broken or hostile server), can make the
// watchdog read and keep. Every string the watchdog keeps from an answer
// goes through one of them: snapshots are kept from poll to poll, shown on
// /status and written to logs, and a poll must cost the same whatever the
// server sends. docs/bounds.md lists them with the tests that pin them.
const (
	// maxHeaderBytes bounds an answer's headers (Transport.
	// MaxResponseHeaderBytes; Go's default is 10 MiB). Jenkins sends
	// about 1 kB.
	maxHeaderBytes = 64 << 10
	// maxBody bounds a body, counted after gzip is undone, so a small
	// compressed body cannot inflate past it. 1,000 nodes with the tree
	// filter are about 250 kB.
	maxBody = 16 << 20
	// maxToken bounds one string or number of an answer, as sent (escapes
	// and all): the JSON decoder holds a token whole, so a longer one is
	// refused, a bad response (space.go). Jenkins' longest strings are
	// the offline messages people write: one of 200 kB (as in the
	// reliability tests) is at most 1.2 MB with every character escaped.
	maxToken = 2 << 20
	// maxNodeName is agent.MaxNameBytes: no watched node can have a longer
	// name (config refuses one in WATCHDOG_PAIRS), so a computer listed
	// with a longer name is left out of the snapshot, and a node read one
	// by one that answers with one is a bad response.
	maxNodeName = agent.MaxNameBytes
	// maxMessage bounds the offline cause's texts (offlineCauseReason,
	// its class and description): longer ones are cut at a UTF-8
	// boundary and end with "…". A message the watchdog wrote is far
	// shorter, so a cut one is never the watchdog's: a person's.
	maxMessage = 1024
	// maxVersion and maxSession bound the X-Jenkins and X-Jenkins-Session
	// headers, cut as messages are. Jenkins sends "2.479.3" and eight hex
	// digits.
	maxVersion = 64
	maxSession = 128
	// maxPermission bounds a 403's X-Required-Permission, which errors
	// name ("hudson.model.Computer.Disconnect").
	maxPermission = 256
	// maxCrumb bounds the CSRF crumb and its field name, sent back with
	// every POST: a longer one is refused (a cut crumb is no crumb).
	// Jenkins' crumb is 64 hex digits.
	maxCrumb = 256
)

// ellipsis marks a cut string.
const ellipsis = "…"

// appendBounded appends s to dst, cut to at most max bytes at a UTF-8
// boundary with an ellipsis if it is longer. s must be valid UTF-8.
func appendBounded(dst, s []byte, max int) []byte {
	if len(s) <= max {
		return append(dst, s...)
	}
	return append(append(dst, s[:cutAt(s, max-len(ellipsis))]...), ellipsis...)
}

// cutAt is the longest prefix length of s, at most n, that ends on a rune
// boundary.
func cutAt[T string | []byte](s T, n int) int {
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return n
}

// boundedHeader is a header value as the watchdog keeps it: invalid UTF-8
// replaced, cut to max bytes.
func boundedHeader(v string, max int) string {
	if len(v) <= max && utf8.ValidString(v) {
		return v
	}
	v = toValidUTF8(v)
	if len(v) <= max {
		return v
	}
	return v[:cutAt(v, max-len(ellipsis))] + ellipsis
}

// toValidUTF8 replaces each invalid byte with U+FFFD, as the JSON decoder
// does in strings.
func toValidUTF8(v string) string {
	if utf8.ValidString(v) {
		return v
	}
	b := make([]byte, 0, len(v)+8)
	for i := 0; i < len(v); {
		r, size := utf8.DecodeRuneInString(v[i:])
		b = utf8.AppendRune(b, r)
		i += size
	}
	return string(b)
}
