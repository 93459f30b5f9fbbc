package fakejenkins

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"testing"
)

// render prints a tree as "name{lo,hi}[children]" with sorted children,
// omitting the default window.
func render(t *treeSpec) string {
	var parts []string
	for _, name := range slices.Sorted(maps.Keys(t.children)) {
		c := t.children[name]
		s := name
		if c.lo != 0 || c.hi != math.MaxInt {
			hi := "max"
			if c.hi != math.MaxInt {
				hi = fmt.Sprint(c.hi)
			}
			s += fmt.Sprintf("{%d,%s}", c.lo, hi)
		}
		if len(c.children) > 0 {
			s += "[" + render(c) + "]"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ",")
}

func TestParseTree(t *testing.T) {
	for _, tc := range []struct{ spec, want string }{
		{"a", "a"},
		{"a,b[c]", "a,b[c]"},
		{"a,b[c,d],e", "a,b[c,d],e"},
		{"computer[displayName,offline,offlineCause[_class]]", "computer[displayName,offline,offlineCause[_class]]"},
		{"a,b[c,d]{,10},e", "a,b{0,10}[c,d],e"},
		{"jobs[name]{3,6}", "jobs{3,6}[name]"},
		{"jobs[name]{38}", "jobs{38,39}[name]"},
		{"jobs[name]{97,}", "jobs{97,max}[name]"},
		{"a[b[c[d]]]", "a[b[c[d]]]"},
	} {
		tree, err := parseTree(tc.spec)
		if err != nil {
			t.Errorf("parseTree(%q): %v", tc.spec, err)
			continue
		}
		if got := render(tree); got != tc.want {
			t.Errorf("parseTree(%q) = %s, want %s", tc.spec, got, tc.want)
		}
	}
}

// The failure cases are Stapler's own (NamedPathPrunerTest).
func TestParseTreeRejectsMalformed(t *testing.T) {
	for _, spec := range []string{"", "a,", ",b", "a[", "a[b,c", "a[]", "a[b,,]", "a]", "a{}", "a{b}", "a{1", "a[b]]", "a{-1}"} {
		if tree, err := parseTree(spec); err == nil {
			t.Errorf("parseTree(%q) = %s, want an error", spec, render(tree))
		}
	}
}

func TestEscapeHTML(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain", "plain"},
		{`<b>&"'`, "&lt;b&gt;&amp;&quot;&#039;"},
		{"a\nb", "a<br>b"},
		{"a b", "a b"},
		{"a  b", "a&nbsp; b"},
		{"a   b", "a&nbsp;&nbsp; b"},
		{"trailing  ", "trailing&nbsp; "},
		{"ağent\ttab", "ağent\ttab"},
	} {
		if got := escapeHTML(tc.in); got != tc.want {
			t.Errorf("escapeHTML(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
