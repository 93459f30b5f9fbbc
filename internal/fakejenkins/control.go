package fakejenkins

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
)

// ControlAPIHelp lists the control API: what GET <prefix>/-/fake/ answers
// and what fake-jenkins -h prints.
const ControlAPIHelp = `Control API (no authentication; plays the outside world; never expose it):
  POST /-/fake/kill?node=N              the agent's machine dies: channel broken, builds aborted
  POST /-/fake/revive?node=N            the machine comes back: inbound agents reconnect; SSH agents
                                        are relaunched as Jenkins' Always retention does (fake-jenkins)
                                        or wait for a launch (tests)
  POST /-/fake/relaunch?node=N          Jenkins launches a disconnected SSH agent
  POST /-/fake/operator-offline?node=N&message=M[&user=U]  a person marks the node temporarily offline
  POST /-/fake/operator-online?node=N   a person brings the node back online
  POST /-/fake/monitor-offline?node=N   the disk space monitor takes the node offline
  POST /-/fake/build?node=N             start a build there; answers {"id":1}
  POST /-/fake/finish?id=1              finish that build
  POST /-/fake/restart                  restart the controller (new session, every channel dropped)
  POST /-/fake/reload-casc              reload Configuration as Code (unparks agents configured as
                                        code on Jenkins 2.482 to 2.555.2)
  POST /-/fake/starting?value=true      answer 503 as a starting controller does (value=false ends it)
  GET  /-/fake/node?node=N              the node's state as JSON
  GET  /-/fake/                         this list
Errors answer {"error":"..."}: 404 for an unknown node, 409 otherwise.
`

// The control API lets a script drive a standalone fake (cmd/fake-jenkins)
// the way tests call the Controller methods. It is served under
// <prefix>/-/fake/ only with Options.ControlAPI, answers JSON, and has NO
// authentication, no faults, no start-up page and no request log: it is the
// outside world, not Jenkins. Never expose it. ControlAPIHelp lists it.
func (c *Controller) serveControl(w http.ResponseWriter, r *http.Request, command string) {
	q := r.URL.Query()
	nodeName := q.Get("node")
	if command == "" {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte(ControlAPIHelp))
		return
	}
	if command == "node" {
		snap, ok := c.Node(nodeName)
		if !ok {
			controlReply(w, http.StatusNotFound, map[string]string{"error": "no such node: " + nodeName})
			return
		}
		controlReply(w, http.StatusOK, snap)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		controlReply(w, http.StatusMethodNotAllowed, map[string]string{"error": "use POST"})
		return
	}
	var err error
	reply := any(map[string]bool{"ok": true})
	switch command {
	case "kill":
		err = c.KillAgent(nodeName)
	case "revive":
		err = c.ReviveAgent(nodeName)
	case "relaunch":
		err = c.Relaunch(nodeName)
	case "operator-offline":
		user := q.Get("user")
		if user == "" {
			user = "operator"
		}
		err = c.OperatorOffline(nodeName, user, q.Get("message"))
	case "operator-online":
		err = c.OperatorOnline(nodeName)
	case "monitor-offline":
		err = c.MonitorOffline(nodeName)
	case "build":
		var id BuildID
		id, err = c.StartBuild(nodeName)
		reply = map[string]BuildID{"id": id}
	case "finish":
		id, convErr := strconv.Atoi(q.Get("id"))
		if convErr != nil {
			controlReply(w, http.StatusBadRequest, map[string]string{"error": "id: " + convErr.Error()})
			return
		}
		err = c.FinishBuild(BuildID(id))
	case "restart":
		c.Restart()
	case "reload-casc":
		c.ReloadCasC()
	case "starting":
		c.SetStarting(q.Get("value") == "true")
	default:
		controlReply(w, http.StatusNotFound, map[string]string{"error": "unknown command: " + command})
		return
	}
	switch {
	case errors.Is(err, ErrUnknownNode):
		controlReply(w, http.StatusNotFound, map[string]string{"error": err.Error()})
	case err != nil:
		controlReply(w, http.StatusConflict, map[string]string{"error": err.Error()})
	default:
		controlReply(w, http.StatusOK, reply)
	}
}

func controlReply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
