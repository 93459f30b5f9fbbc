package jenkins

import (
	"bytes"
	"encoding/binary"
	"fmt"
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
// It also bounds what the decoder must hold whole otherwise: a string,
// or a number, longer than maxToken is refused (errLongToken), so that one
// string of 16 MiB (1 MB of gzip) cannot grow the decoder's buffer to
// 32 MiB either. Jenkins' longest strings are offline messages, a few
// hundred kB at the very most.
//
// It runs on every answer, so it works in place in the buffer the decoder
// hands to Read, with no allocation: bytes move only after a dropped one,
// strings are crossed with bytes.IndexByte, and a quote is escaped when an
// odd run of backslashes precedes it (the only escape that can end in a
// backslash is `\\`). After a syntax error its idea of what is a string
// may be wrong, but the decoder reads no further than the error.

// spaceCollapser reads r with every run of JSON whitespace outside strings
// cut to its first byte, and refuses a string or number longer than
// maxToken. Its state carries over from one Read to the next.
type spaceCollapser struct {
	r        io.Reader
	inString bool  // the bytes passed on end inside a string
	odd      bool  // in a string, they end in an odd run of backslashes
	space    bool  // outside strings, the last byte passed on is whitespace
	str      int   // in a string, its bytes passed on after the opening quote
	tok      int   // outside strings, the bytes of a number or literal passed on
	err      error // errLongToken, once seen
}

// errLongToken: a string or number longer than maxToken.
var errLongToken = fmt.Errorf("a JSON string or number longer than %d bytes", maxToken)

func (s *spaceCollapser) reset(r io.Reader) { *s = spaceCollapser{r: r} }

func (s *spaceCollapser) Read(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	for {
		n, err := s.r.Read(p)
		if n == 0 {
			return 0, err
		}
		if n, s.err = s.collapse(p[:n]); s.err != nil {
			return n, s.err
		}
		// A read of nothing but the rest of a run is read again: the
		// decoder would take n == 0 for no progress.
		if n > 0 || err != nil {
			return n, err
		}
	}
}

// collapse drops from b the whitespace that follows whitespace outside
// strings, moving the bytes kept to the front, and returns how many are
// kept, or errLongToken.
func (s *spaceCollapser) collapse(b []byte) (int, error) {
	if s.plain(b) {
		return len(b), nil
	}
	return s.collapseEach(b)
}

// plain takes in b and reports true when it has nothing to drop and no
// escape, as Jenkins' compact answers have: no two whitespace bytes in a
// row, nor one after the whitespace the last read ended with, and no
// backslash, so that every quote opens or closes a string. It looks with
// bytes.IndexByte and bytes.Count, which go many bytes at a time, and
// pairOfSpaces, eight at a time.
func (s *spaceCollapser) plain(b []byte) bool {
	if s.odd || (s.space && b[0] <= ' ') || bytes.IndexByte(b, '\\') >= 0 || pairOfSpaces(b) {
		return false
	}
	// The token b starts in, if it goes on from the last read: the string
	// it closes, or the number or literal it continues. (A read larger
	// than maxToken, which only a decoder grown for a long token asks
	// for, could hold a whole longer one: collapseEach looks.)
	if len(b) > maxToken {
		return false
	}
	if s.inString {
		if q := bytes.IndexByte(b, '"'); q >= 0 && s.str+q > maxToken {
			return false
		}
	} else if s.tok > 0 && s.tok+leadingToken(b) > maxToken {
		return false
	}
	in := s.inString
	if bytes.Count(b, quote)%2 == 1 {
		in = !in
	}
	// The token b ends in: the string its last quote opened, or the
	// number or literal after its last delimiter.
	str, tok := 0, 0
	if in {
		if q := bytes.LastIndexByte(b, '"'); q >= 0 {
			str = len(b) - q - 1
		} else {
			str = s.str + len(b)
		}
	} else if tok = trailingToken(b); tok == len(b) {
		tok += s.tok
	}
	if str > maxToken || tok > maxToken {
		return false // collapseEach refuses it
	}
	s.inString, s.str, s.tok = in, str, tok
	// A last byte that is whitespace and not in a string is outside one.
	s.space = !in && isSpace(b[len(b)-1])
	return true
}

// trailingToken is how many bytes b ends with that are neither
// whitespace nor a quote nor structural: the part of a number or literal.
func trailingToken(b []byte) int {
	n := 0
	for n < len(b) && !isDelimiter(b[len(b)-1-n]) {
		n++
	}
	return n
}

// leadingToken is how many bytes b starts with that are neither
// whitespace nor a quote nor structural.
func leadingToken(b []byte) int {
	n := 0
	for n < len(b) && !isDelimiter(b[n]) {
		n++
	}
	return n
}

func isDelimiter(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', '"', '{', '}', '[', ']', ',', ':':
		return true
	}
	return false
}

var quote = []byte(`"`)

// pairOfSpaces tells whether b holds two bytes in a row that are both at
// most ' ': whitespace, or control bytes, which no valid JSON has outside
// strings nor in them (those take the slow path and are refused by the
// decoder).
func pairOfSpaces(b []byte) bool {
	const (
		low  = 0x7f7f7f7f7f7f7f7f
		high = 0x8080808080808080
		add  = 0x5f5f5f5f5f5f5f5f // a byte of at most 0x7f is ≤ ' ' when adding 0x5f leaves its high bit clear
	)
	le := binary.LittleEndian
	var carry uint64 // the high bit of the last byte before, at byte 0's
	for len(b) >= 32 {
		x0, x1, x2, x3 := le.Uint64(b), le.Uint64(b[8:]), le.Uint64(b[16:]), le.Uint64(b[24:])
		// The high bit of each byte is clear where it is ≤ ' '.
		t0, t1, t2, t3 := ((x0&low)+add)|x0, ((x1&low)+add)|x1, ((x2&low)+add)|x2, ((x3&low)+add)|x3
		if t0&t1&t2&t3&high == high {
			// None here: most of an answer.
			carry = 0
			b = b[32:]
			continue
		}
		m0, m1, m2, m3 := ^t0&high, ^t1&high, ^t2&high, ^t3&high
		if m0&(m0<<8|carry)|m1&(m1<<8|m0>>56)|m2&(m2<<8|m1>>56)|m3&(m3<<8|m2>>56) != 0 {
			return true
		}
		carry = m3 >> 56
		b = b[32:]
	}
	prev := carry != 0
	for _, c := range b {
		sp := c <= ' '
		if sp && prev {
			return true
		}
		prev = sp
	}
	return false
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// collapseEach is collapse byte by byte outside strings, string by string
// inside them.
func (s *spaceCollapser) collapseEach(b []byte) (int, error) {
	w := 0 // bytes kept; w == i until one is dropped
	i := 0
	for i < len(b) {
		if s.inString {
			// Find the quote that ends the string.
			start := i
			content := 0 // of the string, in b
			for {
				q := bytes.IndexByte(b[i:], '"')
				if q < 0 {
					s.odd = oddBackslashes(b[i:], s.odd)
					content += len(b) - i
					i = len(b)
					break
				}
				end := i + q
				escaped := oddBackslashes(b[i:end], s.odd)
				s.odd = false
				content += q
				i = end + 1
				if !escaped {
					s.inString = false
					break
				}
				content++ // the escaped quote
			}
			if s.str += content; s.str > maxToken {
				return w, errLongToken
			}
			if w != start {
				copy(b[w:], b[start:i])
			}
			w += i - start
			continue
		}
		switch c := b[i]; c {
		case ' ', '\t', '\n', '\r':
			s.tok = 0
			if s.space {
				i++ // dropped
				continue
			}
			s.space = true
		case '"':
			s.inString, s.odd, s.space, s.str, s.tok = true, false, false, 0, 0
		case '{', '}', '[', ']', ',', ':':
			s.space, s.tok = false, 0
		default:
			s.space = false
			if s.tok++; s.tok > maxToken {
				return w, errLongToken
			}
		}
		if w != i {
			b[w] = b[i]
		}
		w++
		i++
	}
	return w, nil
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
