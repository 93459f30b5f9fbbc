package watcher_test

import "net/url"

func urlPathEscape(s string) string { return url.PathEscape(s) }
