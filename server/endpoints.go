package server

// Endpoint is one path Handler serves, as the command's -h and the docs
// list it.
type Endpoint struct {
	Path string
	What string
}

// Endpoints lists every path Handler serves. A test requires each to be
// served, and the docs' table of endpoints to match.
var Endpoints = []Endpoint{
	{"/", "status page for people (HTML)"},
	{"/metrics", "Prometheus metrics"},
	{"/status", "the watchdog's view as JSON"},
	{"/livez", "200 while the poll loop turns (liveness)"},
	{"/healthz", "same as /livez"},
	{"/readyz", "200 when the last poll of Jenkins succeeded (readiness)"},
}
