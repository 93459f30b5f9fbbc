package jenkins

import (
	"bytes"
	"io"
)

// The JSON decoder holds a run of whitespace whole in its buffer, as it
// does a string: 16 MiB of spaces between two tokens (1 MB of gzip) grew
// it to 32 MiB before the body cap stopped the read. Whitespace between
// tokens means nothing in JSON but a separation, so spaceCollapser passes
// each run of it outside strings on as its first byte: the decoder reads
// the same tokens and refuses the same answers, and a run of any length
// costs it one byte. Strings pass unchanged, spaces and all.
//
// It runs on every answer, so it works in place in the buffer the decoder
// hands to Read, with no allocation: bytes move only after a dropped one,
// strings are crossed with bytes.IndexByte, and a quote is escaped when an
// odd run of backslashes precedes it (the only escape that can end in a
// backslash is `\\`). After a syntax error its idea of what is a string
// may be wrong, but the decoder reads no further than the error.

// spaceCollapser reads r with every run of JSON whitespace outside strings
// cut to its first byte. Its state carries over from one Read to the next.
type spaceCollapser struct {
	r        io.Reader
	inString bool // the bytes passed on end inside a string
	odd      bool // in a string, they end in an odd run of backslashes
	space    bool // outside strings, the last byte passed on is whitespace
}

func (s *spaceCollapser) reset(r io.Reader) { *s = spaceCollapser{r: r} }

func (s *spaceCollapser) Read(p []byte) (int, error) {
	for {
		n, err := s.r.Read(p)
		if n == 0 {
			return 0, err
		}
		// A read of nothing but the rest of a run is read again: the
		// decoder would take n == 0 for no progress.
		if n = s.collapse(p[:n]); n > 0 || err != nil {
			return n, err
		}
	}
}

// collapse drops from b the whitespace that follows whitespace outside
// strings, moving the bytes kept to the front, and returns how many are
// kept.
func (s *spaceCollapser) collapse(b []byte) int {
	w := 0 // bytes kept; w == i until one is dropped
	i := 0
	for i < len(b) {
		if s.inString {
			// Find the quote that ends the string.
			start := i
			for {
				q := bytes.IndexByte(b[i:], '"')
				if q < 0 {
					s.odd = oddBackslashes(b[i:], s.odd)
					i = len(b)
					break
				}
				end := i + q
				escaped := oddBackslashes(b[i:end], s.odd)
				s.odd = false
				i = end + 1
				if !escaped {
					s.inString = false
					break
				}
			}
			if w != start {
				copy(b[w:], b[start:i])
			}
			w += i - start
			continue
		}
		switch c := b[i]; c {
		case ' ', '\t', '\n', '\r':
			if s.space {
				i++ // dropped
				continue
			}
			s.space = true
		case '"':
			s.inString, s.odd, s.space = true, false, false
		default:
			s.space = false
		}
		if w != i {
			b[w] = b[i]
		}
		w++
		i++
	}
	return w
}

// oddBackslashes tells whether a string's content ends in an odd run of
// backslashes once seg follows content for which that was odd.
func oddBackslashes(seg []byte, odd bool) bool {
	n := 0
	for n < len(seg) && seg[len(seg)-1-n] == '\\' {
		n++
	}
	if n == len(seg) {
		// All backslashes: the run goes on from before seg.
		return odd != (n%2 == 1)
	}
	return n%2 == 1
}
