package fakejenkins

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
)

// The control API lets a script drive a standalone fake (the fake-jenkins
// dev subcommand) the way tests call the Controller methods. It is served
// under <prefix>/-/fake/ only with Options.ControlAPI, answers JSON, and has
// NO authentication, no faults, no start-up page and no request log: it is
// the outside world, not Jenkins. Never expose it.
//
//	POST kill?node=N              KillAgent
//	POST revive?node=N            ReviveAgent
//	POST relaunch?node=N          Relaunch
//	POST operator-offline?node=N&message=M[&user=U]  OperatorOffline (user "operator" by default)
//	POST operator-online?node=N   OperatorOnline
//	POST monitor-offline?node=N   MonitorOffline
//	POST build?node=N             StartBuild, answers {"id":1}
//	POST finish?id=1              FinishBuild
//	POST restart                  Restart
//	POST starting?value=true      SetStarting
//	GET  node?node=N              Node, as JSON
//
// Errors answer {"error":"..."}: 404 for an unknown node, 409 otherwise.
func (c *Controller) serveControl(w http.ResponseWriter, r *http.Request, command string) {
	q := r.URL.Query()
	nodeName := q.Get("node")
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
