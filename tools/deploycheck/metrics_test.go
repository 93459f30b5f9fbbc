package deploycheck

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

// exportedMetrics are the metric families the watchdog exports by contract
// (docs/monitoring.md's metric table; TestDocsMetricTable keeps them in step). Histograms add _bucket, _sum and _count.
// TestBinary also scrapes the real binary and checks it exports these.
var exportedMetrics = map[string]string{
	"jenkins_failover_node_online":                            "gauge",
	"jenkins_failover_node_state":                             "gauge",
	"jenkins_failover_active_node":                            "gauge",
	"jenkins_failover_group_state":                            "gauge",
	"jenkins_failover_group_state_since_timestamp_seconds":    "gauge",
	"jenkins_failover_standby_active_since_timestamp_seconds": "gauge",
	"jenkins_failover_failovers_total":                        "counter",
	"jenkins_failover_failbacks_total":                        "counter",
	"jenkins_failover_actions_total":                          "counter",
	"jenkins_failover_poll_duration_seconds":                  "histogram",
	"jenkins_failover_polls_total":                            "counter",
	"jenkins_failover_jenkins_up":                             "gauge",
	"jenkins_failover_jenkins_errors_total":                   "counter",
	"jenkins_failover_last_success_timestamp_seconds":         "gauge",
	"jenkins_failover_poll_panics_total":                      "counter",
	"jenkins_failover_controller_restarts_total":              "counter",
	"jenkins_failover_standby_unparked_total":                 "counter",
	"jenkins_failover_claim_collisions_total":                 "counter",
	"jenkins_failover_peer_claims_total":                      "counter",
	"jenkins_failover_holds_restored_total":                   "counter",
	"jenkins_failover_standby_ready":                          "gauge",
	"jenkins_failover_group_ready_standbys":                   "gauge",
	"jenkins_failover_build_info":                             "gauge",
	"process_resident_memory_bytes":                           "gauge",
	"go_memstats_heap_inuse_bytes":                            "gauge",
}

// prometheusMade are series Prometheus itself writes for every target.
var prometheusMade = []string{"up", "ALERTS", "ALERTS_FOR_STATE", "scrape_duration_seconds"}

// seriesNames returns the metric names an exposition family provides.
func seriesNames(family, typ string) []string {
	if typ == "histogram" {
		return []string{family + "_bucket", family + "_sum", family + "_count"}
	}
	return []string{family}
}

func knownSeries(families map[string]string) map[string]bool {
	known := map[string]bool{}
	for f, typ := range families {
		for _, n := range seriesNames(f, typ) {
			known[n] = true
		}
	}
	for _, n := range prometheusMade {
		known[n] = true
	}
	return known
}

// grafanaMacros replaces Grafana's variables with values PromQL accepts.
var grafanaMacros = strings.NewReplacer(
	"$__rate_interval", "1m", "$__interval", "1m", "$__range", "1h",
	"${group}", "slave01", "$group", "slave01",
)

// PromQL lexical pieces that are not metric names.
var (
	promqlStrings   = regexp.MustCompile("\"(?:[^\"\\\\]|\\\\.)*\"|'(?:[^'\\\\]|\\\\.)*'|`[^`]*`")
	promqlMatchers  = regexp.MustCompile(`\{[^{}]*\}`)
	promqlRanges    = regexp.MustCompile(`\[[^\[\]]*\]`)
	promqlLabelList = regexp.MustCompile(`\b(by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)`)
	promqlIdent     = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*(\s*\()?`)
	promqlKeywords  = map[string]bool{
		"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
		"bool": true, "and": true, "or": true, "unless": true, "offset": true, "inf": true, "nan": true,
	}
)

// metricNamesIn returns the metric names an expression selects: the
// identifiers left once strings, label matchers, ranges and label lists are
// removed, that are neither keywords nor function calls. (The expressions
// themselves are parsed by promtool and by the real Prometheus server in
// scripts/e2e-prometheus.sh; this only has to find the names.)
func metricNamesIn(expr string) ([]string, error) {
	e := grafanaMacros.Replace(expr)
	e = promqlStrings.ReplaceAllString(e, `""`)
	e = promqlMatchers.ReplaceAllString(e, " ")
	e = promqlRanges.ReplaceAllString(e, " ")
	e = promqlLabelList.ReplaceAllString(e, " ")
	if strings.ContainsAny(e, "{}[]") {
		return nil, fmt.Errorf("unbalanced braces or brackets in %q", expr)
	}
	var names []string
	for _, m := range promqlIdent.FindAllString(e, -1) {
		if strings.HasSuffix(m, "(") || promqlKeywords[strings.ToLower(m)] {
			continue
		}
		names = append(names, m)
	}
	return names, nil
}

type dashDatasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type dashTarget struct {
	Expr       string          `json:"expr"`
	Datasource *dashDatasource `json:"datasource"`
}

type dashPanel struct {
	Title      string          `json:"title"`
	Type       string          `json:"type"`
	Datasource *dashDatasource `json:"datasource"`
	Targets    []dashTarget    `json:"targets"`
	Panels     []dashPanel     `json:"panels"`
}

type dashboard struct {
	UID        string      `json:"uid"`
	Panels     []dashPanel `json:"panels"`
	Templating struct {
		List []struct {
			Name       string          `json:"name"`
			Type       string          `json:"type"`
			Query      any             `json:"query"`
			Definition string          `json:"definition"`
			Datasource *dashDatasource `json:"datasource"`
		} `json:"list"`
	} `json:"templating"`
	Annotations struct {
		List []struct {
			Name       string          `json:"name"`
			Expr       string          `json:"expr"`
			Datasource *dashDatasource `json:"datasource"`
		} `json:"list"`
	} `json:"annotations"`
}

const dashboardFile = "grafana/dashboards/jenkins-failover-watchdog.json"

func loadDashboard(t testing.TB) (dashboard, any) {
	t.Helper()
	b := readRepoFile(t, dashboardFile)
	var d dashboard
	var raw any
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("dashboard JSON: %v", err)
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatalf("dashboard JSON: %v", err)
	}
	return d, raw
}

// allPanels flattens rows: panels nested in collapsed rows count too.
func allPanels(ps []dashPanel) []dashPanel {
	var out []dashPanel
	for _, p := range ps {
		out = append(out, p)
		out = append(out, allPanels(p.Panels)...)
	}
	return out
}

// dashboardQueries returns every PromQL query of the dashboard: panel
// targets, nested row panels, template variables and annotations.
func dashboardQueries(t testing.TB) map[string]string {
	t.Helper()
	d, _ := loadDashboard(t)
	q := map[string]string{}
	for _, p := range allPanels(d.Panels) {
		for i, tg := range p.Targets {
			q[fmt.Sprintf("panel %q target %d", p.Title, i)] = tg.Expr
		}
	}
	labelValues := regexp.MustCompile(`^label_values\(([a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})?),\s*[a-zA-Z_]+\)$`)
	for _, v := range d.Templating.List {
		if v.Type == "datasource" {
			continue
		}
		m := labelValues.FindStringSubmatch(v.Definition)
		if m == nil {
			t.Errorf("variable %s: %q is not label_values(metric, label)", v.Name, v.Definition)
			continue
		}
		q["variable "+v.Name] = m[1]
	}
	for _, a := range d.Annotations.List {
		if a.Expr != "" {
			q["annotation "+a.Name] = a.Expr
		}
	}
	return q
}

// datasourceVariable is how every panel, target, variable and annotation
// names its datasource: through the dashboard's own datasource variable, so
// that the dashboard imports into any Grafana whatever its Prometheus
// datasource's uid (the compose lab's is "prometheus").
const datasourceVariable = "${datasource}"

// TestDashboardImportableAnywhere checks that no datasource in the dashboard
// is hard-coded: every datasource reference, wherever it sits in the JSON,
// is the datasource variable (Grafana's built-in annotation source aside),
// and that variable exists and lists Prometheus datasources.
func TestDashboardImportableAnywhere(t *testing.T) {
	d, raw := loadDashboard(t)
	var found bool
	for _, v := range d.Templating.List {
		if v.Name == "datasource" {
			found = true
			if v.Type != "datasource" || v.Query != "prometheus" {
				t.Errorf("variable datasource: type %q query %v, want type datasource, query prometheus", v.Type, v.Query)
			}
		}
	}
	if !found {
		t.Error("no datasource template variable")
	}
	refs := 0
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, child := range v {
				p := path + "." + k
				if k != "datasource" {
					walk(p, child)
					continue
				}
				refs++
				switch ds := child.(type) {
				case map[string]any:
					if ds["type"] == "grafana" {
						continue // the built-in "Annotations & Alerts"
					}
					if ds["type"] != "prometheus" || ds["uid"] != datasourceVariable {
						t.Errorf("%s: datasource %v, want {type: prometheus, uid: %s}", p, ds, datasourceVariable)
					}
				default:
					t.Errorf("%s: datasource %v, want {type: prometheus, uid: %s}", p, ds, datasourceVariable)
				}
			}
		case []any:
			for i, child := range v {
				walk(fmt.Sprintf("%s[%d]", path, i), child)
			}
		}
	}
	walk("", raw)
	// Each query must say where it runs: Grafana falls back to the default
	// datasource otherwise, which need not be Prometheus.
	for _, p := range allPanels(d.Panels) {
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil {
			t.Errorf("panel %q has no datasource", p.Title)
		}
		for i, tg := range p.Targets {
			if tg.Datasource == nil {
				t.Errorf("panel %q target %d has no datasource", p.Title, i)
			}
		}
	}
	for _, a := range d.Annotations.List {
		if a.Expr != "" && a.Datasource == nil {
			t.Errorf("annotation %q has no datasource", a.Name)
		}
	}
	if refs < 20 {
		t.Errorf("only %d datasource references found; has the dashboard's shape changed?", refs)
	}
}

// groupScopedSeries carry a group or node label: every panel and annotation
// on them must follow the $group variable.
var groupScopedSeries = []string{
	"jenkins_failover_group_state", "jenkins_failover_group_state_since_timestamp_seconds",
	"jenkins_failover_standby_active_since_timestamp_seconds", "jenkins_failover_active_node",
	"jenkins_failover_failovers_total", "jenkins_failover_failbacks_total",
	"jenkins_failover_node_online", "jenkins_failover_node_state", "jenkins_failover_actions_total",
	"jenkins_failover_standby_ready", "jenkins_failover_group_ready_standbys",
}

// TestDashboardFollowsGroupVariable checks that panels and annotations about
// groups and nodes filter on $group (node series have only a node label:
// they are joined with jenkins_failover_active_node{group=~"$group"}), and
// that no query depends on the scrape job's name.
func TestDashboardFollowsGroupVariable(t *testing.T) {
	for where, expr := range dashboardQueries(t) {
		if strings.Contains(expr, "job=") || strings.Contains(expr, "job!") {
			t.Errorf("%s: %q filters on the scrape job's name, which differs between installations", where, expr)
		}
		if strings.HasPrefix(where, "variable ") {
			continue
		}
		names, _ := metricNamesIn(expr)
		for _, n := range names {
			if slices.Contains(groupScopedSeries, n) && !strings.Contains(expr, "$group") {
				t.Errorf("%s: %q uses %s but does not follow $group", where, expr, n)
				break
			}
		}
	}
}

// TestDashboardQueriesUseExportedMetrics parses every query of the Grafana
// dashboard and checks that each metric it names is one the watchdog
// exports.
func TestDashboardQueriesUseExportedMetrics(t *testing.T) {
	queries := dashboardQueries(t)
	if len(queries) < 15 {
		t.Fatalf("only %d queries found in the dashboard", len(queries))
	}
	checkQueriesAgainst(t, queries, knownSeries(exportedMetrics))
	// The panels must be there.
	all := strings.Join(mapValues(queries), "\n")
	for _, must := range []string{"jenkins_failover_group_state", "jenkins_failover_active_node", "jenkins_failover_failovers_total", `result="error"`, "jenkins_failover_poll_duration_seconds_bucket", "jenkins_failover_jenkins_up", "jenkins_failover_jenkins_errors_total"} {
		if !strings.Contains(all, must) {
			t.Errorf("no dashboard query uses %s", must)
		}
	}
	var errorsByKind bool
	for where, expr := range queries {
		if strings.Contains(where, `"Jenkins errors by kind"`) && strings.Contains(expr, "by (kind)") &&
			strings.Contains(expr, "rate(jenkins_failover_jenkins_errors_total[") {
			errorsByKind = true
		}
	}
	if !errorsByKind {
		t.Error(`no panel "Jenkins errors by kind" with a rate of jenkins_failover_jenkins_errors_total by kind`)
	}
}

func checkQueriesAgainst(t *testing.T, queries map[string]string, known map[string]bool) {
	t.Helper()
	for where, expr := range queries {
		names, err := metricNamesIn(expr)
		if err != nil {
			t.Errorf("%s: %q: %v", where, expr, err)
			continue
		}
		if len(names) == 0 {
			t.Errorf("%s: %q names no metric", where, expr)
		}
		for _, n := range names {
			if !known[n] {
				t.Errorf("%s: metric %s is not exported by the watchdog", where, n)
			}
		}
	}
}

func mapValues(m map[string]string) []string {
	var v []string
	for _, s := range m {
		v = append(v, s)
	}
	sort.Strings(v)
	return v
}

type ruleFile struct {
	Groups []struct {
		Name  string `json:"name"`
		Rules []struct {
			Alert       string            `json:"alert"`
			Expr        string            `json:"expr"`
			For         string            `json:"for,omitempty"`
			Labels      map[string]string `json:"labels"`
			Annotations map[string]string `json:"annotations"`
		} `json:"rules"`
	} `json:"groups"`
}

// alertRules reads prometheus/alerts.yml.
func alertRules(t testing.TB) map[string]string {
	t.Helper()
	var rf ruleFile
	if err := yaml.UnmarshalStrict(readRepoFile(t, "prometheus", "alerts.yml"), &rf); err != nil {
		t.Fatalf("alerts.yml: %v", err)
	}
	exprs := map[string]string{}
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			exprs["alert "+r.Alert] = r.Expr
			for _, a := range []string{"summary", "description", "runbook_url"} {
				if r.Annotations[a] == "" {
					t.Errorf("alert %s: no %s annotation", r.Alert, a)
				}
			}
			if anchor := "/docs/monitoring.md#" + strings.ToLower(r.Alert); !strings.HasSuffix(r.Annotations["runbook_url"], anchor) {
				t.Errorf("alert %s: runbook_url should end with %s", r.Alert, anchor)
			}
			if s := r.Labels["severity"]; s != "warning" && s != "critical" {
				t.Errorf("alert %s: severity %q", r.Alert, s)
			}
			// Without for: one evaluation (one failed request, one missed
			// scrape) fires the alert.
			if d, err := time.ParseDuration(r.For); err != nil || d < time.Minute {
				t.Errorf("alert %s: for %q, want at least 1m", r.Alert, r.For)
			}
			// Users name their scrape jobs as they like (a ServiceMonitor,
			// kubernetes-service-endpoints, a static job): no rule may
			// depend on it.
			if regexp.MustCompile(`\bjob\s*(=|!=|=~|!~)`).MatchString(r.Expr) {
				t.Errorf("alert %s: %q matches on the scrape job's name", r.Alert, r.Expr)
			}
		}
	}
	return exprs
}

// TestAlertRules checks the alerts the issue asks for, their metric names,
// and that each has a runbook section and a promtool unit test.
func TestAlertRules(t *testing.T) {
	rules := alertRules(t)
	want := []string{
		"JenkinsFailoverGroupFailedOver", "JenkinsFailoverGroupDown", "JenkinsFailoverStandbyCarryingTooLong",
		"JenkinsFailoverJenkinsUnreachable", "JenkinsFailoverActionsFailing", "JenkinsFailoverWatchdogDown",
		"JenkinsFailoverStandbyUnparked", "JenkinsFailoverNoReadyStandby", "JenkinsFailoverStuckFailingOver",
	}
	var got []string
	for k := range rules {
		got = append(got, strings.TrimPrefix(k, "alert "))
	}
	sort.Strings(got)
	sorted := slices.Clone(want)
	sort.Strings(sorted)
	if !slices.Equal(got, sorted) {
		t.Errorf("alerts %v, want %v", got, sorted)
	}
	checkQueriesAgainst(t, rules, knownSeries(exportedMetrics))

	tests := string(readRepoFile(t, "prometheus", "alerts_test.yml"))
	runbook := string(readRepoFile(t, "docs", "monitoring.md"))
	for _, a := range want {
		if strings.Count(tests, "alertname: "+a+"\n") < 2 {
			t.Errorf("alerts_test.yml: %s needs a firing and a not-firing case", a)
		}
		if !strings.Contains(runbook, "\n### "+a+"\n") {
			t.Errorf("docs/monitoring.md: no '### %s' section for its runbook_url anchor", a)
		}
	}
}

// TestPrometheusConfigMatchesCompose checks that the compose Prometheus
// scrapes the compose watchdog (under any job name: the alerts and the
// dashboard do not depend on it) and mounts the rule files it loads.
func TestPrometheusConfigMatchesCompose(t *testing.T) {
	var cfg struct {
		RuleFiles     []string `json:"rule_files"`
		ScrapeConfigs []struct {
			JobName       string `json:"job_name"`
			StaticConfigs []struct {
				Targets []string `json:"targets"`
			} `json:"static_configs"`
		} `json:"scrape_configs"`
	}
	if err := yaml.Unmarshal(readRepoFile(t, "prometheus", "prometheus.yml"), &cfg); err != nil {
		t.Fatal(err)
	}
	c := loadCompose(t)
	port := c.Services["watchdog"].Environment["WATCHDOG_LISTEN_ADDR"]
	found := false
	for _, sc := range cfg.ScrapeConfigs {
		for _, s := range sc.StaticConfigs {
			found = found || slices.Contains(s.Targets, "watchdog"+port)
		}
	}
	if !found {
		t.Errorf("prometheus.yml has no job scraping watchdog%s", port)
	}
	for _, rf := range cfg.RuleFiles {
		mount := "./prometheus/" + rf + ":/etc/prometheus/" + rf + ":ro"
		if !slices.Contains(c.Services["prometheus"].Volumes, mount) {
			t.Errorf("rule file %s is not mounted into the prometheus service (%s)", rf, mount)
		}
	}
}

// metricRow is a row of docs/monitoring.md's metric table: the family,
// its labels in braces, then its type.
var metricRow = regexp.MustCompile("(?m)^\\| `([a-z_:]+)(?:\\{[^}]*\\})?` \\| ([a-z]+) \\|")

// TestDocsMetricTable keeps the contract list above and the metric table
// of docs/monitoring.md in step, name and type (the main module's docs
// test holds that table to the code's own list of families).
func TestDocsMetricTable(t *testing.T) {
	doc := string(readRepoFile(t, "docs", "monitoring.md"))
	documented := map[string]string{}
	for _, m := range metricRow.FindAllStringSubmatch(doc, -1) {
		documented[m[1]] = m[2]
	}
	for fam, typ := range exportedMetrics {
		if strings.HasPrefix(fam, "process_") || strings.HasPrefix(fam, "go_") {
			continue // the table has one row for the runtime collectors
		}
		if got, ok := documented[fam]; !ok || got != typ {
			t.Errorf("docs/monitoring.md: %s documented as %q, want a row with type %s", fam, got, typ)
		}
	}
	for fam := range documented {
		if _, ok := exportedMetrics[fam]; !ok {
			t.Errorf("docs/monitoring.md documents %s, which is not in exportedMetrics", fam)
		}
	}
	if len(documented) < 10 {
		t.Errorf("only %d rows read from docs/monitoring.md's metric table; has its shape changed?", len(documented))
	}
}
