package fakejenkins

import (
	"fmt"
	"net/http"
	"strconv"
)

// Jenkins answers errors with HTML pages, never JSON: a client that decodes
// every body as JSON must look at the status first. These pages are short
// but have the same content type and the texts clients may look for.

func htmlResponse(status int, title, body string) *response {
	resp := newResponse(status)
	resp.header.Set("Content-Type", "text/html;charset=utf-8")
	if title != "" || body != "" {
		resp.body = fmt.Appendf(nil, "<!DOCTYPE html><html><head><title>%s</title></head><body>%s</body></html>\n", title, body)
	}
	return resp
}

func notFound() *response {
	return htmlResponse(http.StatusNotFound, "Jenkins",
		"<h1>Oops!</h1><h2>Not Found</h2><p>This page may not exist, or you may not have permission to see it.</p>")
}

// oops is Jenkins' page for an uncaught exception (a malformed tree).
func oops(detail string) *response {
	return htmlResponse(http.StatusInternalServerError, "Jenkins [Jenkins]",
		"<h1>Oops!</h1><h2>A problem occurred while processing the request</h2><pre>java.lang.IllegalArgumentException: "+escapeHTML(detail)+"</pre>")
}

// accessDenied is hudson.security.AccessDeniedException3: 403 and the
// headers that let a client tell which permission is missing.
func accessDenied(name string, p Permission) *response {
	resp := htmlResponse(http.StatusForbidden, "Access Denied [Jenkins]",
		"<h1>Access Denied</h1><p>"+escapeHTML(name)+" is missing the "+escapeHTML(string(p))+" permission</p>")
	resp.header.Set("X-You-Are-Authenticated-As", name)
	resp.header.Set("X-You-Are-In-Group-Disabled",
		"JENKINS-39402: use -Dhudson.security.AccessDeniedException2.REPORT_GROUP_HEADERS=true or use /whoAmI to diagnose")
	resp.header.Set("X-Required-Permission", p.id())
	for _, id := range p.impliedBy() {
		resp.header.Add("X-Permission-Implied-By", id)
	}
	return resp
}

// startingPage is what Jenkins serves to every request while it loads.
func startingPage() *response {
	resp := htmlResponse(http.StatusServiceUnavailable, "Starting Jenkins",
		"<h1>Please wait while Jenkins is getting ready to work ...</h1><p>Your browser will reload automatically when Jenkins is ready.</p>")
	resp.header.Set("Cache-Control", "no-cache,no-store,must-revalidate")
	return resp
}

func itoa(n int) string { return strconv.Itoa(n) }
