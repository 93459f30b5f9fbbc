package jenkins

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/agent"
)

// A poll reads some 300 kB of JSON for a thousand nodes. Decoding it into
// structs with encoding/json cost more than everything else in a poll, and
// allocated a string per field per node. decoder reads the tokens as they
// stream in, keeps only the fields the watchdog reads, and hands out each
// distinct string once: node names, offline messages and cause classes are
// the same from one poll to the next, so a steady-state poll allocates
// little more than the snapshot's map.
//
// It accepts and refuses exactly what the encoding/json decoding it
// replaced did (FuzzDecodeMatchesReference holds it to that): member names
// matched case-insensitively, the last of duplicate members winning, null
// leaving a field as it was, invalid UTF-8 replaced, and a value of the
// wrong type refused. Then the bounds apply (bounds.go): a computer whose
// name is longer than maxNodeName is left out of a listing, and texts are
// cut to maxMessage. Strings are cut before they are kept, so a long one
// costs no allocation.

// errNoList is a list answer without a "computer" array: not Jenkins'
// /computer/ endpoint, or not allowed to see it.
var errNoList = errors.New(`no "computer" list`)

// decoder holds what can be reused from one read to the next. It is not
// safe for concurrent use; the Client lends it to one read at a time.
type decoder struct {
	dec  jsontext.Decoder
	raws []rawComputer
	// strs interns the strings handed out. They are immutable, so
	// snapshots the watcher still holds may share them.
	strs    map[string]string
	unquote []byte // scratch for strings with escapes or invalid UTF-8
	cut     []byte // scratch for strings cut to a bound
	// spaces stands between the body and dec (space.go), so that a run
	// of whitespace costs dec's buffer one byte.
	spaces spaceCollapser
}

// decodeOptions mirror encoding/json's leniency (see above).
var decodeOptions = []jsontext.Options{jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true)}

func newDecoder() *decoder {
	return &decoder{strs: map[string]string{}}
}

// rawComputer is one computer object as read, before validation.
type rawComputer struct {
	builtIn                bool // _class is the built-in node's
	longName               bool // the name read last is longer than maxNodeName
	name, reason, cause    string
	writer, message        string // from offlineCause.description
	offline, tempOffline   presence
	idle, launchable, jnlp bool
	remotePath             bool // absoluteRemotePath present and not null
}

// presence is a boolean that remembers whether it was read: a reading
// without offline/temporarilyOffline is refused, not taken as false.
type presence uint8

const (
	absent presence = iota
	readFalse
	readTrue
)

func (p presence) value() bool { return p == readTrue }

// field is a computer member the watchdog reads.
type field uint8

const (
	fieldUnknown field = iota
	fieldClass
	fieldDisplayName
	fieldOffline
	fieldTemporarilyOffline
	fieldOfflineCauseReason
	fieldIdle
	fieldLaunchSupported
	fieldJnlpAgent
	fieldAbsoluteRemotePath
	fieldOfflineCause
)

var fieldNames = [...]string{
	fieldClass:              "_class",
	fieldDisplayName:        "displayName",
	fieldOffline:            "offline",
	fieldTemporarilyOffline: "temporarilyOffline",
	fieldOfflineCauseReason: "offlineCauseReason",
	fieldIdle:               "idle",
	fieldLaunchSupported:    "launchSupported",
	fieldJnlpAgent:          "jnlpAgent",
	fieldAbsoluteRemotePath: "absoluteRemotePath",
	fieldOfflineCause:       "offlineCause",
}

// computerField names the member; names differing only in case match, as
// they did for encoding/json.
func computerField(name string) field {
	switch name {
	case "_class":
		return fieldClass
	case "displayName":
		return fieldDisplayName
	case "offline":
		return fieldOffline
	case "temporarilyOffline":
		return fieldTemporarilyOffline
	case "offlineCauseReason":
		return fieldOfflineCauseReason
	case "idle":
		return fieldIdle
	case "launchSupported":
		return fieldLaunchSupported
	case "jnlpAgent":
		return fieldJnlpAgent
	case "absoluteRemotePath":
		return fieldAbsoluteRemotePath
	case "offlineCause":
		return fieldOfflineCause
	}
	for f := fieldClass; int(f) < len(fieldNames); f++ {
		if strings.EqualFold(name, fieldNames[f]) {
			return f
		}
	}
	return fieldUnknown
}

// computers decodes a /computer/api/json answer into the nodes of a
// snapshot: every computer but the built-in node, keyed by name.
func (d *decoder) computers(r io.Reader) (map[string]agent.NodeInfo, error) {
	d.reset(r)
	defer d.shed()
	raws, err := d.readList()
	d.raws = raws[:0]
	if err != nil {
		return nil, syntaxOrType(err)
	}
	n := 0
	for i := range raws {
		if !raws[i].builtIn {
			n++
		}
	}
	nodes := make(map[string]agent.NodeInfo, n)
	for i := range raws {
		if raws[i].builtIn || raws[i].longName {
			// A longer name than maxNodeName is no watched node's.
			continue
		}
		info, err := raws[i].info()
		if err != nil {
			return nil, err
		}
		if _, dup := nodes[info.Name]; dup {
			return nil, fmt.Errorf("computer %q listed twice", info.Name)
		}
		nodes[info.Name] = info
	}
	d.trim(n)
	return nodes, nil
}

// computer decodes a /computer/<name>/api/json answer.
func (d *decoder) computer(r io.Reader) (agent.NodeInfo, error) {
	d.reset(r)
	defer d.shed()
	var c rawComputer
	if err := d.readComputer(&c); err != nil && !errors.Is(err, io.EOF) {
		return agent.NodeInfo{}, syntaxOrType(err)
	}
	if c.longName {
		return agent.NodeInfo{}, errLongName
	}
	// An empty body or null reads as nothing: info refuses it for what
	// is missing.
	return c.info()
}

// reset starts a read of r.
func (d *decoder) reset(r io.Reader) {
	d.spaces.reset(r)
	d.dec.Reset(&d.spaces, decodeOptions...)
}

// syntaxOrType marks an error in reading the JSON, as opposed to a
// reading that is complete JSON but not an acceptable answer.
func syntaxOrType(err error) error {
	if err == errNoList {
		return err
	}
	return fmt.Errorf("decoding JSON: %w", err)
}

// readList reads the top-level object and returns its computers. A
// second "computer" member is decoded over the first one's elements, and
// null clears the list, as encoding/json did with the list it replaced.
func (d *decoder) readList() ([]rawComputer, error) {
	raws := d.raws[:0]
	tok, err := d.dec.ReadToken()
	if errors.Is(err, io.EOF) {
		// An empty body left encoding/json's target untouched: refused
		// for what is missing, not as a syntax error.
		return raws, errNoList
	}
	if err != nil {
		return raws, err
	}
	switch tok.Kind() {
	case '{':
	case 'n':
		return raws, errNoList
	default:
		return raws, d.typeError(tok.Kind(), "an object")
	}
	listed := false // a "computer" list was read and not cleared since
	kept := 0       // elements of earlier lists a later list decodes over
	for {
		tok, err := d.dec.ReadToken()
		if err != nil {
			return raws, err
		}
		if tok.Kind() == '}' {
			break
		}
		if name := tok.String(); name != "computer" && !strings.EqualFold(name, "computer") {
			if err := d.dec.SkipValue(); err != nil {
				return raws, err
			}
			continue
		}
		tok, err = d.dec.ReadToken()
		if err != nil {
			return raws, err
		}
		switch tok.Kind() {
		case 'n':
			listed, kept, raws = false, 0, raws[:0]
			continue
		case '[':
		default:
			return raws, d.typeError(tok.Kind(), "an array")
		}
		if !listed {
			kept = 0
		}
		listed = true
		raws = raws[:0]
		for d.dec.PeekKind() != ']' {
			i := len(raws)
			if i < cap(raws) {
				raws = raws[:i+1]
			} else {
				raws = append(raws, rawComputer{})
			}
			if i >= kept {
				raws[i] = rawComputer{}
			}
			if err := d.readComputer(&raws[i]); err != nil {
				return raws, err
			}
		}
		if _, err := d.dec.ReadToken(); err != nil { // ]
			return raws, err
		}
		if len(raws) == 0 {
			kept = 0 // an empty list is a new, empty slice
		} else {
			kept = max(kept, len(raws))
		}
	}
	if !listed {
		return raws, errNoList
	}
	return raws, nil
}

// readComputer reads one list element into c; null leaves it as it was.
func (d *decoder) readComputer(c *rawComputer) error {
	tok, err := d.dec.ReadToken()
	if err != nil {
		return err
	}
	switch tok.Kind() {
	case '{':
		return d.readComputerMembers(c)
	case 'n':
		return nil
	default:
		return d.typeError(tok.Kind(), "an object")
	}
}

// readComputerMembers reads the members of a computer object whose '{'
// was just read, through its '}'.
func (d *decoder) readComputerMembers(c *rawComputer) error {
	for {
		tok, err := d.dec.ReadToken()
		if err != nil {
			return err
		}
		if tok.Kind() == '}' {
			return nil
		}
		switch computerField(tok.String()) {
		case fieldClass:
			var class []byte
			if class, err = d.stringBytes(); err == nil && class != nil {
				c.builtIn = string(class) == builtInClass
			}
		case fieldDisplayName:
			err = d.nameField(c)
		case fieldOfflineCauseReason:
			err = d.stringField(&c.reason)
		case fieldOffline:
			err = d.presenceField(&c.offline)
		case fieldTemporarilyOffline:
			err = d.presenceField(&c.tempOffline)
		case fieldIdle:
			err = d.boolField(&c.idle)
		case fieldLaunchSupported:
			err = d.boolField(&c.launchable)
		case fieldJnlpAgent:
			err = d.boolField(&c.jnlp)
		case fieldAbsoluteRemotePath:
			// Only whether it is null matters: the path is not kept.
			c.remotePath = d.dec.PeekKind() != 'n'
			err = d.dec.SkipValue()
		case fieldOfflineCause:
			err = d.readOfflineCause(c)
		default:
			err = d.dec.SkipValue()
		}
		if err != nil {
			return err
		}
	}
}

// readOfflineCause reads offlineCause: its _class, and from a UserCause's
// description the writer's id and the message as written.
func (d *decoder) readOfflineCause(c *rawComputer) error {
	tok, err := d.dec.ReadToken()
	if err != nil {
		return err
	}
	switch tok.Kind() {
	case 'n':
		return nil
	case '{':
	default:
		return d.typeError(tok.Kind(), "an object")
	}
	for {
		tok, err := d.dec.ReadToken()
		if err != nil {
			return err
		}
		if tok.Kind() == '}' {
			return nil
		}
		switch name := tok.String(); {
		case name == "_class" || strings.EqualFold(name, "_class"):
			err = d.stringField(&c.cause)
		case strings.EqualFold(name, "description"):
			var desc string
			// Interned: the same description comes back poll after
			// poll, and the writer is a slice of it.
			if err = d.stringField(&desc); err == nil {
				c.writer, c.message, _ = agent.ParseDescription(desc)
			}
		default:
			err = d.dec.SkipValue()
		}
		if err != nil {
			return err
		}
	}
}

// stringBytes reads a string or null. It returns the string's content,
// valid until the next read, or nil for null.
func (d *decoder) stringBytes() ([]byte, error) {
	if k := d.dec.PeekKind(); k != '"' {
		if k == 'n' {
			_, err := d.dec.ReadToken()
			return nil, err
		}
		return nil, d.typeError(k, "a string")
	}
	v, err := d.dec.ReadValue()
	if err != nil {
		return nil, err
	}
	s := v[1 : len(v)-1]
	if bytes.IndexByte(s, '\\') < 0 && utf8.Valid(s) {
		return s, nil
	}
	// Escapes, or invalid UTF-8: the decoder already checked the syntax,
	// so the only errors left are about UTF-8, and the text comes back
	// with U+FFFD in their place, as encoding/json gave it.
	d.unquote, _ = jsontext.AppendUnquote(d.unquote[:0], v)
	return d.unquote, nil
}

// stringField reads a string into *dst, cut to maxMessage; null leaves
// it as it was.
func (d *decoder) stringField(dst *string) error {
	b, err := d.stringBytes()
	if err == nil && b != nil {
		if len(b) > maxMessage {
			d.cut = appendBounded(d.cut[:0], b, maxMessage)
			b = d.cut
		}
		*dst = d.intern(b)
	}
	return err
}

// errLongName: a single computer's answer names one longer than any
// watched node's.
var errLongName = fmt.Errorf("computer with a name longer than %d bytes", maxNodeName)

// nameField reads displayName; null leaves it as it was. A name longer
// than maxNodeName is not kept, only marked.
func (d *decoder) nameField(c *rawComputer) error {
	b, err := d.stringBytes()
	switch {
	case err != nil || b == nil:
	case len(b) > maxNodeName:
		c.longName = true
	default:
		c.longName = false
		c.name = d.intern(b)
	}
	return err
}

// presenceField reads true, false, or null, which resets the field to
// absent (encoding/json handed null to the field's UnmarshalJSON).
func (d *decoder) presenceField(dst *presence) error {
	switch k := d.dec.PeekKind(); k {
	case 't':
		*dst = readTrue
	case 'f':
		*dst = readFalse
	case 'n':
		*dst = absent
	default:
		return d.typeError(k, "a boolean")
	}
	_, err := d.dec.ReadToken()
	return err
}

// boolField reads true or false; null leaves it as it was.
func (d *decoder) boolField(dst *bool) error {
	switch k := d.dec.PeekKind(); k {
	case 't':
		*dst = true
	case 'f':
		*dst = false
	case 'n':
	default:
		return d.typeError(k, "a boolean")
	}
	_, err := d.dec.ReadToken()
	return err
}

// typeError reports a value of the wrong kind. A kind of 0 means the next
// value could not be read at all: that error is the one to report.
func (d *decoder) typeError(k jsontext.Kind, want string) error {
	if k == 0 {
		if _, err := d.dec.ReadValue(); err != nil {
			return err
		}
	}
	return fmt.Errorf("%s at %q, want %s", kindName(k), d.dec.StackPointer(), want)
}

func kindName(k jsontext.Kind) string {
	switch k {
	case '{':
		return "object"
	case '[':
		return "array"
	case '0':
		return "number"
	}
	return k.String()
}

// intern returns b as a string, allocating only for one not seen before.
func (d *decoder) intern(b []byte) string {
	if s, ok := d.strs[string(b)]; ok {
		return s
	}
	s := string(b)
	d.strs[s] = s
	return s
}

// maxKeptBuffer bounds the buffers a decoder keeps from one read to the
// next. A read's buffers grow only as large as its largest token, which
// the JSON decoder holds whole: some kB from Jenkins, but up to twice
// maxToken from a hostile answer (runs of whitespace reach it as one
// byte: space.go), which must not stay pinned for the life of the
// process. Beyond this size they are dropped after the read.
const maxKeptBuffer = 1 << 20

// shed drops the buffers a read grew past maxKeptBuffer.
func (d *decoder) shed() {
	if cap(d.dec.UnreadBuffer()) > maxKeptBuffer {
		d.dec = jsontext.Decoder{}
	}
	if cap(d.unquote) > maxKeptBuffer {
		d.unquote = nil
	}
}

// trim forgets the interned strings when far more are kept than a read
// uses: nodes were renamed or removed, or offline messages changed. The
// next read allocates what it needs again.
func (d *decoder) trim(nodes int) {
	if len(d.strs) > 2*nodes+256 {
		clear(d.strs)
	}
}

// info validates a computer and turns it into what the watchdog reads.
func (c *rawComputer) info() (agent.NodeInfo, error) {
	if c.name == "" {
		return agent.NodeInfo{}, errors.New("computer without displayName")
	}
	if c.offline == absent || c.tempOffline == absent {
		return agent.NodeInfo{}, fmt.Errorf("computer %q without offline/temporarilyOffline", c.name)
	}
	offline := c.offline.value()
	n := agent.NodeInfo{
		Name:               c.name,
		Offline:            offline,
		TemporarilyOffline: c.tempOffline.value(),
		CauseClass:         c.cause,
		CauseReason:        c.reason,
		Connected:          !offline || c.remotePath,
		Launchable:         c.launchable && !c.jnlp,
		Idle:               c.idle,
		Writer:             c.writer,
	}
	if c.writer != "" && c.cause == agent.CauseUser {
		// The message as written, whatever the release's escaping and
		// the language (agent.ParseDescription).
		n.CauseReason = c.message
	}
	if n.TemporarilyOffline && !n.Offline {
		return agent.NodeInfo{}, fmt.Errorf("computer %q reads temporarilyOffline but not offline", c.name)
	}
	return n, nil
}

// decoderSlot lends a Client's decoder, and the strings it keeps, to one
// read at a time. A read that finds it busy uses a fresh one.
type decoderSlot struct {
	mu sync.Mutex
	d  *decoder
}

func (s *decoderSlot) get() (d *decoder, owned bool) {
	if !s.mu.TryLock() {
		return newDecoder(), false
	}
	if s.d == nil {
		s.d = newDecoder()
	}
	return s.d, true
}

func (s *decoderSlot) put(owned bool) {
	if owned {
		s.mu.Unlock()
	}
}

// jsonBody, carried in a GET's context, takes the answer's body in the
// transport, behind the body cap, and decodes it as it streams in, with
// no copy (gojenkins' requester, which GETs went through first, could
// only decode with encoding/json or copy the whole body into a string).
// The caller gets an empty body.
type jsonBody struct {
	decode  func(io.Reader) error
	read    bool  // decode ran
	err     error // what decode returned
	readErr error // why reading the body failed, if it did
}

type jsonBodyKey struct{}

// takeJSONBody hands resp's body to the jsonBody in r's context, if any:
// decoded when it is a 200 answer that is not HTML, else only closed (the
// caller refuses it by its status or type).
func takeJSONBody(r *http.Request, resp *http.Response) {
	b, ok := r.Context().Value(jsonBodyKey{}).(*jsonBody)
	if !ok {
		return
	}
	if resp.StatusCode == http.StatusOK && !isHTML(resp) {
		rr := recordingReader{r: resp.Body}
		b.err = b.decode(&rr)
		b.readErr = rr.err
		b.read = true
	}
	_ = resp.Body.Close()
	resp.Body = http.NoBody
}

// isHTML tells an HTML page (a login form, a proxy's error page), which
// must not pass for data even with status 200. Other types are left to
// the decoder: servers that omit the header get text/plain sniffed by Go.
func isHTML(resp *http.Response) bool {
	return strings.Contains(strings.ToLower(resp.Header.Get("Content-Type")), "html")
}

// recordingReader remembers the error reading the body failed with, so a
// broken connection is not taken for broken JSON.
type recordingReader struct {
	r   io.Reader
	err error
}

func (r *recordingReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && err != io.EOF {
		r.err = err
	}
	return n, err
}
