package fakejenkins

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
)

// The remote API output is built in two steps, like Stapler does it: a full
// object graph (every exported property, at any depth) and a pruner that
// decides, property by property, what is written. That keeps depth=N and
// tree=... consistent with each other: they are two views of one graph.

// object is an exported bean.
type object struct {
	// class is written as "_class". It is empty when Stapler's
	// ClassAttributeBehaviour.IF_NEEDED omits it: when the runtime class is
	// the declared type of the property (an Executor in List<Executor>, a
	// LabelAtom in Set<LabelAtom>). The top-level object always has one.
	class  string
	fields []field
}

// field is one @Exported property.
type field struct {
	name string
	// value is nil, bool, int, int64, float64, string, *object, []any,
	// []float64 (a Java float[]: long, so kept unboxed) or lazy.
	value any
	// visibility is @Exported(visibility=...): 1 unless raised. A property
	// of an object nested n levels deep is shown at depth d only when
	// visibility >= n-d+1 (Stapler's TreePruner.ByDepth).
	visibility int
	// inline is @Exported(inline=true): the value's properties are judged at
	// the same level as the owner's (ComputerSet.computer, monitorData).
	inline bool
}

func prop(name string, value any) field { return field{name: name, value: value, visibility: 1} }

// lazy is a value built only when the pruner writes it. A tree-filtered
// list of 10,000 computers asks for a few fields of each; building every
// computer's executors, labels, load statistics and monitor data first
// cost the fake half a second and 400 MB per listing, and benchmarks
// measured the fake rather than the client.
type lazy func() any

// prop2 is a property exported with visibility=2: shown one level deeper.
func prop2(name string, value any) field { return field{name: name, value: value, visibility: 2} }

func inlineProp(name string, value any) field {
	return field{name: name, value: value, visibility: 1, inline: true}
}

// mapObject renders a Java Map the way Stapler does: an object without
// "_class" whose entries behave like inline properties.
func mapObject(entries ...field) *object {
	for i := range entries {
		entries[i].visibility, entries[i].inline = 1, true
	}
	return &object{fields: entries}
}

// pruner decides which properties are written.
type pruner interface {
	// child returns the pruner for f's value, or false to leave f out.
	child(f field) (pruner, bool)
	// window bounds the elements written when the value is a list.
	window() (lo, hi int)
}

// depthPruner is Stapler's TreePruner.ByDepth; the top level starts at
// n = 1 - depth.
type depthPruner struct{ n int }

func newDepthPruner(depth int) depthPruner { return depthPruner{n: 1 - depth} }

func (p depthPruner) child(f field) (pruner, bool) {
	if f.visibility < p.n {
		return nil, false
	}
	if f.inline {
		return p, true
	}
	return depthPruner{n: p.n + 1}, true
}

func (depthPruner) window() (int, int) { return 0, math.MaxInt }

func (t *treeSpec) child(f field) (pruner, bool) {
	c, ok := t.children[f.name]
	if !ok {
		return nil, false
	}
	return c, true
}

func (t *treeSpec) window() (int, int) { return t.lo, t.hi }

// encode writes o as JSON. Strings are not HTML-escaped: Jenkins writes
// '<' and '&' as they are (offlineCauseReason is already HTML-escaped text).
func encode(o *object, p pruner) []byte {
	var buf bytes.Buffer
	writeValue(&buf, o, p)
	return buf.Bytes()
}

func writeValue(buf *bytes.Buffer, v any, p pruner) {
	switch v := v.(type) {
	case nil:
		buf.WriteString("null")
	case bool:
		buf.WriteString(strconv.FormatBool(v))
	case int:
		buf.WriteString(strconv.Itoa(v))
	case int64:
		buf.WriteString(strconv.FormatInt(v, 10))
	case float64:
		writeFloat(buf, v)
	case string:
		writeString(buf, v)
	case lazy:
		writeValue(buf, v(), p)
	case *object:
		if v == nil {
			buf.WriteString("null")
			return
		}
		buf.WriteByte('{')
		first := true
		sep := func() {
			if !first {
				buf.WriteByte(',')
			}
			first = false
		}
		if v.class != "" {
			sep()
			buf.WriteString(`"_class":`)
			writeString(buf, v.class)
		}
		for _, f := range v.fields {
			cp, ok := p.child(f)
			if !ok {
				continue
			}
			sep()
			writeString(buf, f.name)
			buf.WriteByte(':')
			writeValue(buf, f.value, cp)
		}
		buf.WriteByte('}')
	case []any:
		writeList(buf, v, p)
	case []float64:
		lo, hi := p.window()
		buf.WriteByte('[')
		for i, x := range v[min(lo, len(v)):min(hi, len(v))] {
			if i > 0 {
				buf.WriteByte(',')
			}
			writeFloat(buf, x)
		}
		buf.WriteByte(']')
	default:
		panic(fmt.Sprintf("fakejenkins: cannot export %T", v))
	}
}

func writeList(buf *bytes.Buffer, list []any, p pruner) {
	lo, hi := p.window()
	buf.WriteByte('[')
	written := 0
	for i, e := range list {
		if i < lo || i >= hi {
			continue
		}
		if written > 0 {
			buf.WriteByte(',')
		}
		writeValue(buf, e, p)
		written++
	}
	buf.WriteByte(']')
}

func writeString(buf *bytes.Buffer, s string) {
	if plainString(s) {
		buf.WriteByte('"')
		buf.WriteString(s)
		buf.WriteByte('"')
		return
	}
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)           // a string always encodes
	buf.Truncate(buf.Len() - 1) // Encode appends a newline
}

// plainString reports a string that JSON writes as it is: printable
// ASCII without quotes or backslashes, which is nearly every name and
// class.
func plainString(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// writeFloat prints like Java does: whole numbers as "3.0", not "3".
func writeFloat(buf *bytes.Buffer, x float64) {
	if x == math.Trunc(x) && math.Abs(x) < 1e15 {
		buf.WriteString(strconv.FormatFloat(x, 'f', 1, 64))
		return
	}
	buf.WriteString(strconv.FormatFloat(x, 'g', -1, 64))
}
