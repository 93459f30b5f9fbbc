package fakejenkins_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/internal/fakejenkins"
)

func Example() {
	ctrl := fakejenkins.New(fakejenkins.Options{Prefix: "/jenkins"})
	defer ctrl.Close()
	ctrl.AddUser("watchdog", "token", fakejenkins.PermRead, fakejenkins.PermDisconnect)
	_ = ctrl.AddAgent(fakejenkins.AgentSpec{Name: "slave01"})
	srv := httptest.NewServer(ctrl)
	defer srv.Close()

	_ = ctrl.KillAgent("slave01")
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/jenkins/computer/slave01/api/json?tree=offline,temporarilyOffline,offlineCause[_class]", nil)
	req.SetBasicAuth("watchdog", "token")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, string(body))
	// Output:
	// 200 {"_class":"hudson.slaves.SlaveComputer","offline":true,"offlineCause":{"_class":"hudson.slaves.OfflineCause$ChannelTermination"},"temporarilyOffline":false}
}
