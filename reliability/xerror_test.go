package reliability

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/jenkins"
)

// gojenkins turns any response carrying an X-Error header into an error
// and drops the response without closing its body. Jenkins sends X-Error
// on some failures; a proxy may too. The client must neither leak a
// connection per such answer nor call it a network error.
func TestXErrorHeaderAnswer(t *testing.T) {
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("X-Error", "something went wrong")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{}`))
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	c, err := jenkins.New(jenkins.Options{URL: srv.URL, User: testUser, Token: testToken, Timeout: 5 * time.Second, Transport: tr})
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		_, err := c.Computers(context.Background())
		if err == nil {
			t.Fatal("no error for an X-Error answer")
		}
		if k := kindOf(err); k == "network" {
			t.Fatalf("an HTTP answer reported as a network error: %v", err)
		}
	}
	if n := conns.Load(); n > 2 {
		t.Errorf("20 requests opened %d connections: each X-Error answer leaks its connection", n)
	}
}
