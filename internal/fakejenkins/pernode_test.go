package fakejenkins

import (
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"testing"
)

// TestPerNodeMatchesListing pins that GET computer/<name>/api/json shows
// each node exactly as its element of computer/api/json: the listing's
// "computer" is exported inline, so an element at depth d, or under
// computer[T], is the node's own document at depth d, or under T. A
// client that reads nodes one by one must see what the listing shows.
func TestPerNodeMatchesListing(t *testing.T) {
	e := newEnv(t, Options{})
	// Every kind of state a node can be in.
	steps := []error{
		e.c.KillAgent("slave01"),
		e.c.OperatorOffline("slave02", admin, "disk replacement"),
		e.c.MonitorOffline("agent 01"),
	}
	for _, err := range steps {
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.c.StartBuild("ağent"); err != nil {
		t.Fatal(err)
	}
	const fields = "_class,displayName,offline,temporarilyOffline,offlineCauseReason,idle,launchSupported,jnlpAgent,absoluteRemotePath,offlineCause[_class,description]"
	for _, tt := range []struct {
		name            string
		listing, single url.Values
	}{
		{"tree", url.Values{"tree": {"computer[" + fields + "]"}}, url.Values{"tree": {fields}}},
		{"default depth", nil, nil},
		{"depth=1", url.Values{"depth": {"1"}}, url.Values{"depth": {"1"}}},
	} {
		for _, user := range []string{watchdog, reader} {
			list := e.getJSON(user, "/computer/api/json?"+tt.listing.Encode())["computer"].([]any)
			if len(list) != 5 {
				t.Fatalf("%s: %d computers listed, want 5", tt.name, len(list))
			}
			for i, el := range list {
				name, _ := el.(map[string]any)["displayName"].(string)
				path := BuiltInNode
				if i > 0 {
					path = name
				}
				single := e.getJSON(user, "/computer/"+url.PathEscape(path)+"/api/json?"+tt.single.Encode())
				if !reflect.DeepEqual(el, any(single)) {
					a, _ := json.Marshal(el)
					b, _ := json.Marshal(single)
					t.Errorf("%s as %s, %s:\n listed   %s\n per node %s", tt.name, user, path, a, b)
				}
			}
		}
	}
	// An unknown node is a 404, with or without a tree, like a node
	// removed since the listing.
	if err := e.c.RemoveAgent("slave02"); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/computer/slave02/api/json?tree=" + url.QueryEscape(fields), "/computer/nosuch/api/json", "/computer/nosuch/api/json?tree=displayName"} {
		r := e.do(http.MethodGet, watchdog, path)
		wantStatus(t, r, http.StatusNotFound)
		if r.Header.Get("X-Jenkins-Session") != e.c.Session() {
			t.Errorf("GET %s: X-Jenkins-Session %q, want the controller's", path, r.Header.Get("X-Jenkins-Session"))
		}
	}
}
