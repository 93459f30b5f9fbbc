package deploycheck

import (
	"slices"
	"testing"
)

func TestMetricNamesIn(t *testing.T) {
	for expr, want := range map[string][]string{
		`up{job="a{b}"} == 0 or absent(up{job="x"})`:                                 {"up", "up"},
		`histogram_quantile(0.95, sum by (le) (rate(foo_bucket[$__rate_interval])))`: {"foo_bucket"},
		`max by (group) ((1 * (a{state="x"} == 1)) or (2 * (b == bool 1)))`:          {"a", "b"},
		`sum(rate(x_sum[5m])) / on(instance) group_left(version) build_info`:         {"x_sum", "build_info"},
		`(time() - since) / 86400 > 7 and since > 0`:                                 {"since", "since"},
	} {
		got, err := metricNamesIn(expr)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("metricNamesIn(%q) = %v, %v; want %v", expr, got, err, want)
		}
	}
}
