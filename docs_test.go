package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/cli"
	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/server"
	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/watcher"
)

// The front page and the manual: README.md and docs/*.md.
func docFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	return append([]string{"README.md"}, files...)
}

func readDoc(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// prose is the text outside fenced code blocks, line by line; code
// blocks are kept as empty lines so that line numbers stay right.
func prose(doc string) []string {
	lines := strings.Split(doc, "\n")
	in := false
	for i, l := range lines {
		if strings.HasPrefix(l, "```") {
			in = !in
			lines[i] = ""
			continue
		}
		if in {
			lines[i] = ""
		}
	}
	return lines
}

var (
	inlineCode = regexp.MustCompile("`[^`]*`")
	mdLink     = regexp.MustCompile(`!?\[[^\]]*\]\(([^)\s]+)\)`)
	heading    = regexp.MustCompile(`^#{1,6} (.+)$`)
	htmlAnchor = regexp.MustCompile(`<a (?:name|id)="([^"]+)"`)
)

// anchors are the fragment names GitHub gives a file's headings: lower
// case, punctuation other than '-' and '_' dropped, spaces turned into
// '-', and "-1", "-2" added to repeats.
func anchors(doc string) map[string]bool {
	out := map[string]bool{}
	seen := map[string]int{}
	for _, l := range prose(doc) {
		for _, m := range htmlAnchor.FindAllStringSubmatch(l, -1) {
			out[m[1]] = true
		}
		m := heading.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		slug := slugify(m[1])
		if n := seen[slug]; n > 0 {
			out[fmt.Sprintf("%s-%d", slug, n)] = true
		} else {
			out[slug] = true
		}
		seen[slug]++
	}
	return out
}

func slugify(title string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(title)) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

func TestSlugify(t *testing.T) {
	for title, want := range map[string]string{
		"Planned switchover (maintenance)":        "planned-switchover-maintenance",
		"Helm chart (jenkinsci/helm-charts)":      "helm-chart-jenkinscihelm-charts",
		"`failing_over`":                          "failing_over",
		"What was verified here and what was not": "what-was-verified-here-and-what-was-not",
		"Bytes against the smallest useful answer (`TestPayloadSize`, 1,000 / 500)": "bytes-against-the-smallest-useful-answer-testpayloadsize-1000--500",
	} {
		if got := slugify(title); got != want {
			t.Errorf("slugify(%q) = %q, want %q", title, got, want)
		}
	}
}

// checkTarget reports what is wrong with a link target written in the
// file from, or "" when it resolves: the file exists and, for a Markdown
// file, the #anchor is one of its headings.
func checkTarget(from, target string) string {
	path, frag, _ := strings.Cut(target, "#")
	file := from
	if path != "" {
		file = filepath.Join(filepath.Dir(from), path)
	}
	if _, err := os.Stat(file); err != nil {
		return fmt.Sprintf("%s does not exist", file)
	}
	if frag == "" {
		return ""
	}
	if !strings.HasSuffix(file, ".md") {
		return fmt.Sprintf("#%s into %s, which is not Markdown", frag, file)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return err.Error()
	}
	if !anchors(string(b))[frag] {
		return fmt.Sprintf("%s has no heading for #%s", file, frag)
	}
	return ""
}

// Every relative link and #anchor in the front page and the manual
// resolves, and so does every runbook_url of the alerts into this
// repository.
func TestDocLinksResolve(t *testing.T) {
	links := 0
	for _, name := range docFiles(t) {
		for i, l := range prose(readDoc(t, name)) {
			l = inlineCode.ReplaceAllString(l, "")
			for _, m := range mdLink.FindAllStringSubmatch(l, -1) {
				target := m[1]
				if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
					continue
				}
				links++
				if msg := checkTarget(name, target); msg != "" {
					t.Errorf("%s:%d: link %s: %s", name, i+1, target, msg)
				}
			}
		}
	}
	if links < 50 {
		t.Errorf("only %d relative links found; is the link pattern broken?", links)
	}

	const blob = "https://github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/blob/main/"
	urls := 0
	for _, name := range []string{"prometheus/alerts.yml", "prometheus/alerts_test.yml"} {
		for i, l := range strings.Split(readDoc(t, name), "\n") {
			_, url, ok := strings.Cut(l, blob)
			if !ok {
				continue
			}
			urls++
			url = strings.Trim(strings.TrimSpace(url), `"`)
			if msg := checkTarget("README.md", url); msg != "" {
				t.Errorf("%s:%d: %s: %s", name, i+1, url, msg)
			}
		}
	}
	if urls < 7 {
		t.Errorf("only %d runbook links found in prometheus/", urls)
	}
}

func TestCheckTargetCatchesBrokenLinks(t *testing.T) {
	for _, target := range []string{"docs/nope.md", "docs/usage.md#no-such-heading", "#nope", "docs/status-page.png#x"} {
		if checkTarget("README.md", target) == "" {
			t.Errorf("%s: reported as resolving", target)
		}
	}
	for _, target := range []string{"docs/usage.md#exit-codes", "#layout", "docs/status-page.png", "usage.md"} {
		from := "README.md"
		if target == "usage.md" {
			from = "docs/README.md"
		}
		if msg := checkTarget(from, target); msg != "" {
			t.Errorf("%s: %s", target, msg)
		}
	}
}

// tableRows returns the rows of the Markdown tables in a document, as
// trimmed cells, with the header and separator rows left out.
func tableRows(doc string) [][]string {
	var rows [][]string
	lines := prose(doc)
	for i, l := range lines {
		if !strings.HasPrefix(l, "|") || strings.HasPrefix(l, "|---") {
			continue
		}
		if i+1 < len(lines) && strings.HasPrefix(lines[i+1], "|---") {
			continue // a header
		}
		parts := regexp.MustCompile(`(?:^|[^\\])\|`).Split(strings.TrimSpace(l), -1)
		var cells []string
		for _, c := range parts[1 : len(parts)-1] {
			cells = append(cells, strings.TrimSpace(c))
		}
		rows = append(rows, cells)
	}
	return rows
}

// No table cell runs longer than a sentence or two: options and details go
// in lists or their own tables.
func TestTableCellsAreShort(t *testing.T) {
	const limit = 240
	for _, name := range docFiles(t) {
		for _, row := range tableRows(readDoc(t, name)) {
			for _, c := range row {
				if len(c) > limit {
					t.Errorf("%s: a table cell of %d characters (limit %d): %.80s…", name, len(c), limit, c)
				}
			}
		}
	}
}

// The front page stays a front page.
func TestReadmeIsAFrontPage(t *testing.T) {
	readme := readDoc(t, "README.md")
	if n := strings.Count(readme, "\n"); n > 250 {
		t.Errorf("README.md has %d lines; the front page keeps to about 250, details go to docs/", n)
	}
	for _, section := range []string{"## Two commands", "## Running it against a real Jenkins", "## Configuration",
		"## How it decides", "## Limits", "## When to use something else", "## Layout"} {
		if !strings.Contains(readme, "\n"+section+"\n") {
			t.Errorf("README.md has no %q section", section)
		}
	}
	if !strings.Contains(readme, "](docs/status-page.png)") {
		t.Error("README.md does not show the status page picture")
	}
}

// CI runs exactly the test command the README gives.
func TestCIRunsTheReadmeTestCommand(t *testing.T) {
	readme := readDoc(t, "README.md")
	const cmd = "bash scripts/test.sh"
	if !strings.Contains(readme, "```sh\n"+cmd+"\n```") {
		t.Errorf("README.md does not give %q as the test command", cmd)
	}
	var run []string
	for _, l := range strings.Split(readDoc(t, ".ci/run"), "\n") {
		if l != "" && !strings.HasPrefix(l, "#") && !strings.HasPrefix(l, "set ") && !strings.HasPrefix(l, "cd ") {
			run = append(run, l)
		}
	}
	if !slices.Equal(run, []string{"exec " + cmd}) {
		t.Errorf(".ci/run runs %q, want only exec %s", run, cmd)
	}
}

// The manual's table of contents names every file of docs/.
func TestManualListsEveryFile(t *testing.T) {
	toc := readDoc(t, "docs/README.md")
	for _, name := range docFiles(t) {
		if name == "README.md" || name == filepath.Join("docs", "README.md") {
			continue
		}
		if !strings.Contains(toc, "]("+filepath.Base(name)+")") {
			t.Errorf("docs/README.md does not link %s", name)
		}
	}
}

// rowsByFirstCell indexes a document's table rows by their first cell,
// backquotes removed.
func rowsByFirstCell(doc string) map[string][]string {
	out := map[string][]string{}
	for _, row := range tableRows(doc) {
		if len(row) > 0 {
			out[strings.Trim(row[0], "`")] = row
		}
	}
	return out
}

// The exit code table of docs/usage.md is cli.ExitCodes, the list -h prints.
func TestDocsExitCodeTable(t *testing.T) {
	rows := rowsByFirstCell(readDoc(t, "docs/usage.md"))
	for _, c := range cli.ExitCodes {
		row, ok := rows[fmt.Sprint(c.Code)]
		if !ok || len(row) < 2 || row[1] != c.Meaning {
			t.Errorf("docs/usage.md: exit code %d reads %q, want the row | %d | %s |", c.Code, row, c.Code, c.Meaning)
		}
	}
	if _, ok := rows[fmt.Sprint(len(cli.ExitCodes))]; ok {
		t.Errorf("docs/usage.md documents exit code %d, which no command returns", len(cli.ExitCodes))
	}
}

// The endpoint table of docs/http.md names every path the server serves.
func TestDocsEndpointTable(t *testing.T) {
	rows := rowsByFirstCell(readDoc(t, "docs/http.md"))
	for _, e := range server.Endpoints {
		if _, ok := rows[e.Path]; !ok {
			t.Errorf("docs/http.md's endpoint table has no row for %s", e.Path)
		}
	}
}

// The metric table of docs/monitoring.md lists every family the watcher
// exports, with its type and labels, and nothing the code does not have
// (apart from the build info and the runtime collectors).
func TestDocsMetricTable(t *testing.T) {
	rows := rowsByFirstCell(readDoc(t, "docs/monitoring.md"))
	documented := map[string]bool{}
	for first := range rows {
		if name, _, _ := strings.Cut(first, "{"); strings.HasPrefix(name, "jenkins_failover_") {
			documented[name] = true
		}
	}
	for _, f := range watcher.Families {
		want := f.FullName()
		if len(f.Labels) > 0 {
			want += "{" + strings.Join(f.Labels, ",") + "}"
		}
		row, ok := rows[want]
		if !ok || len(row) < 2 || row[1] != f.Type {
			t.Errorf("docs/monitoring.md: no row | `%s` | %s | (found %q)", want, f.Type, row)
		}
		delete(documented, f.FullName())
	}
	delete(documented, "jenkins_failover_build_info")
	for name := range documented {
		t.Errorf("docs/monitoring.md documents %s, which watcher.Families does not have", name)
	}
}

// The state tables of the front page and of docs/decisions.md have a row
// for every group state, and no other.
func TestDocsStateTables(t *testing.T) {
	for _, name := range []string{"README.md", "docs/decisions.md"} {
		var states []string
		doc := readDoc(t, name)
		_, table, ok := strings.Cut(doc, "\n| group state |")
		if !ok {
			t.Errorf("%s: no table headed | group state |", name)
			continue
		}
		table, _, _ = strings.Cut(table, "\n\n")
		for _, row := range tableRows("| group state |" + table) {
			// "[`normal`](#normal)" in the manual, "`normal`" on the front page.
			first := regexp.MustCompile("^\\[(`[^`]+`)\\]\\([^)]*\\)$").ReplaceAllString(row[0], "$1")
			if s := strings.Trim(first, "`"); slices.ContainsFunc(watcher.Phases, func(p watcher.Phase) bool { return string(p) == s }) {
				states = append(states, s)
			}
		}
		for _, p := range watcher.Phases {
			if !slices.Contains(states, string(p)) {
				t.Errorf("%s: the group state table has no row for %s", name, p)
			}
		}
		if len(states) != len(watcher.Phases) {
			t.Errorf("%s: %d state rows for %d states: %v", name, len(states), len(watcher.Phases), states)
		}
	}
}
