package fakejenkins

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// treeSpec is a parsed Jenkins "tree" query parameter, as Stapler's
// NamedPathPruner reads it: a comma-separated list of property names, each
// optionally followed by a bracketed sub-tree and a {m,n} list window.
//
//	computer[displayName,offline,offlineCause[_class]]{0,10}
type treeSpec struct {
	children map[string]*treeSpec
	// lo and hi bound the elements of a list value: [lo, hi). The zero
	// treeSpec has no children and the window [0, MaxInt) set by newTree.
	lo, hi int
}

func newTree() *treeSpec {
	return &treeSpec{children: map[string]*treeSpec{}, hi: math.MaxInt}
}

// parseTree parses a tree parameter. Like Stapler it rejects empty specs,
// empty names ("a,", ",b", "a[b,,]"), empty or unbalanced brackets ("a[",
// "a[]", "a]") and malformed windows ("a{}", "a{b}"); Jenkins answers such a
// request with 500.
func parseTree(s string) (*treeSpec, error) {
	p := &treeParser{s: s}
	t, err := p.list()
	if err != nil {
		return nil, err
	}
	if p.pos != len(p.s) {
		return nil, p.errorf("unexpected %q", p.s[p.pos])
	}
	return t, nil
}

type treeParser struct {
	s   string
	pos int
}

func (p *treeParser) errorf(format string, args ...any) error {
	return fmt.Errorf("malformed tree %q at offset %d: %s", p.s, p.pos, fmt.Sprintf(format, args...))
}

func (p *treeParser) peek() byte {
	if p.pos < len(p.s) {
		return p.s[p.pos]
	}
	return 0
}

// list parses name-terms separated by commas.
func (p *treeParser) list() (*treeSpec, error) {
	t := newTree()
	for {
		name := p.name()
		if name == "" {
			return nil, p.errorf("expected a property name")
		}
		child := newTree()
		if p.peek() == '[' {
			p.pos++
			sub, err := p.list()
			if err != nil {
				return nil, err
			}
			if p.peek() != ']' {
				return nil, p.errorf("expected ']'")
			}
			p.pos++
			child = sub
		}
		if p.peek() == '{' {
			if err := p.window(child); err != nil {
				return nil, err
			}
		}
		t.children[name] = child
		if p.peek() != ',' {
			return t, nil
		}
		p.pos++
	}
}

func (p *treeParser) name() string {
	start := p.pos
	for p.pos < len(p.s) && !strings.ContainsRune("[]{},", rune(p.s[p.pos])) {
		p.pos++
	}
	return p.s[start:p.pos]
}

// window parses "{m}", "{m,}", "{,n}" or "{m,n}". A single number selects
// one element, as in Stapler.
func (p *treeParser) window(t *treeSpec) error {
	p.pos++ // '{'
	end := strings.IndexByte(p.s[p.pos:], '}')
	if end < 0 {
		return p.errorf("expected '}'")
	}
	body := p.s[p.pos : p.pos+end]
	p.pos += end + 1
	lo, hi, comma := strings.Cut(body, ",")
	if strings.TrimSpace(lo) == "" && (!comma || strings.TrimSpace(hi) == "") {
		return p.errorf("empty range {%s}", body)
	}
	num := func(s string, def int) (int, error) {
		s = strings.TrimSpace(s)
		if s == "" {
			return def, nil
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return 0, p.errorf("bad range bound %q", s)
		}
		return n, nil
	}
	var err error
	if t.lo, err = num(lo, 0); err != nil {
		return err
	}
	if !comma {
		t.hi = t.lo + 1
		return nil
	}
	t.hi, err = num(hi, math.MaxInt)
	return err
}
