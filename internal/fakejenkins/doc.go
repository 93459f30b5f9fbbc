// Package fakejenkins is a fake Jenkins controller: an http.Handler that
// serves the slice of the Jenkins remote API the watchdog uses, with the
// status codes, headers, redirects, permissions and quirks described in
// shared/jenkins-api.md and checked against Jenkins core. No Jenkins can run
// where this project is built and tested; this stands in for it.
//
// It serves, under Options.Prefix:
//
//	GET  api/json                          the Jenkins object
//	GET  computer/api/json                 every node, built-in node first
//	GET  computer/<name>/api/json          one node ("(built-in)" or "(master)")
//	GET  crumbIssuer/api/json              a CSRF crumb and its session cookie
//	POST computer/<name>/toggleOffline?offlineMessage=M
//	POST computer/<name>/changeOfflineCause?offlineMessage=M
//	POST computer/<name>/launchSlaveAgent
//	POST computer/<name>/doDisconnect?offlineMessage=M
//
// API documents honour depth and tree (tree wins; a malformed one is a 500)
// and are gzipped when the client accepts it. Errors are HTML pages.
//
// The methods of Controller play everything outside the HTTP API: machines
// dying and coming back (KillAgent, ReviveAgent), the retention strategy
// (Relaunch), people and monitors marking nodes offline, builds occupying
// executors, controller restarts and start-up, and injected faults.
//
// Where this fake knowingly differs from Jenkins:
//   - launches complete at once (Jenkins launches asynchronously; clients
//     must read the state back either way);
//   - redirects carry an absolute path ("/jenkins/computer/slave01/"), which
//     is where Jenkins' relative "." and "log" resolve to;
//   - after Restart, SSH agents wait for Relaunch or launchSlaveAgent,
//     while Jenkins' "Always" retention strategy would start them by itself;
//   - the session cookie is JSESSIONID.<hex> like Jetty's, but sessions
//     never expire except on Restart;
//   - an inbound agent whose machine is up reconnects the instant its
//     channel drops (doDisconnect, Restart, ReviveAgent); a real one
//     retries within seconds.
//
// Jenkins behaviour reproduced on purpose because clients trip on it:
//   - offlineCauseReason strips "Disconnected by <user> : " with a greedy
//     regular expression, so everything up to the last " : " of the message
//     disappears, and the rest is HTML-escaped (see escapeHTML);
//   - launchSlaveAgent on a disconnected inbound agent records LaunchFailed;
//   - doDisconnect on an agent without a channel redirects without checking
//     any permission;
//   - "_class" is written only where the runtime class differs from the
//     declared one (Stapler's IF_NEEDED): executors and labels have none.
package fakejenkins
