package ujson

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// MaxDepth is the deepest nesting of objects and arrays the decoder
// accepts, encoding/json's limit: a document nested deeper is rejected with
// a *SyntaxError instead of growing the stack without bound.
const MaxDepth = 10000

// ErrNotObject is returned (wrapped) by [Unmarshal] for a well-formed
// document whose top-level value is not an object.
var ErrNotObject = errors.New("top-level JSON value is not an object")

// SyntaxError describes input that is not valid JSON, or a number beyond
// the range of float64.
type SyntaxError struct {
	// Offset is the byte offset in the input of the offending byte (the
	// input's length when it ended too early).
	Offset int64
	msg    string
}

func (e *SyntaxError) Error() string {
	return "ujson: " + e.msg + " at offset " + strconv.FormatInt(e.Offset, 10)
}

// Unmarshal decodes a JSON object into a map as unstructured.UnmarshalJSON
// and k8s.io/apimachinery/pkg/util/json.Unmarshal do (see the package
// documentation for the value types). Invalid JSON gives a *SyntaxError;
// valid JSON whose top-level value is not an object (including null) gives
// an error wrapping ErrNotObject. The result retains a private copy of
// data, never data itself.
func Unmarshal(data []byte) (map[string]any, error) {
	v, err := UnmarshalValue(data)
	if err != nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("ujson: %w (it is %s)", ErrNotObject, kindOf(v))
	}
	return m, nil
}

// UnmarshalValue decodes any JSON value: map[string]any, []any, string,
// int64, float64, bool or nil, with the rules of [Unmarshal].
func UnmarshalValue(data []byte) (any, error) {
	d := decoderPool.Get().(*decoder)
	defer d.release()
	// One copy of the input: strings without escapes are slices of it.
	d.buf = make([]byte, len(data))
	copy(d.buf, data)
	d.strs.next = min(max(len(data)/40, 8), 512)
	d.elems.next = min(max(len(data)/64, 8), 512)
	d.skipSpace()
	v, err := d.value()
	if err != nil {
		return nil, err
	}
	d.skipSpace()
	if d.pos < len(d.buf) {
		return nil, d.errChar("after top-level value")
	}
	return v, nil
}

func kindOf(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case []any:
		return "an array"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	default:
		return "a number"
	}
}

// kv is one object member, on the decoder's stack until its object ends
// (and on the encoder's while it sorts keys).
type kv struct {
	k string
	v any
}

type decoder struct {
	buf   []byte // private copy of the input; see str for when it is written
	pos   int
	depth int
	// Members and elements of the objects and arrays being decoded, so that
	// each map and slice is allocated once, at its final size.
	// kvs[:kvsUsed] and vals[:valsUsed] may hold stale values until
	// release clears them.
	kvs      []kv
	vals     []any
	kvsUsed  int
	valsUsed int
	strs     slab[string]
	ints     slab[int64]
	// Arrays: their elements and the slice headers their interfaces
	// point to.
	elems  slab[any]
	slices slab[[]any]
}

var decoderPool = sync.Pool{New: func() any { return new(decoder) }}

// maxPooledStack bounds the scratch stacks a pooled decoder or encoder
// keeps, so that one huge document does not pin its memory for good.
const maxPooledStack = 1 << 14

func (d *decoder) release() {
	clear(d.kvs[:max(d.kvsUsed, len(d.kvs))])
	clear(d.vals[:max(d.valsUsed, len(d.vals))])
	d.kvs, d.vals = d.kvs[:0], d.vals[:0]
	d.kvsUsed, d.valsUsed = 0, 0
	if cap(d.kvs) > maxPooledStack {
		d.kvs = nil
	}
	if cap(d.vals) > maxPooledStack {
		d.vals = nil
	}
	d.buf, d.pos, d.depth = nil, 0, 0
	d.strs, d.ints = slab[string]{}, slab[int64]{}
	d.elems, d.slices = slab[any]{}, slab[[]any]{}
	decoderPool.Put(d)
}

func (d *decoder) skipSpace() {
	b := d.buf
	i := d.pos
	for i < len(b) {
		if c := b[i]; c > ' ' || (c != ' ' && c != '\n' && c != '\r' && c != '\t') {
			break
		}
		i++
	}
	d.pos = i
}

// value decodes the value starting at d.pos, which is not a space.
func (d *decoder) value() (any, error) {
	if d.pos >= len(d.buf) {
		return nil, d.errEOF()
	}
	switch c := d.buf[d.pos]; c {
	case '{':
		return d.object()
	case '[':
		return d.array()
	case '"':
		s, err := d.str()
		if err != nil || s == "" {
			return s, err
		}
		return pack(stringType, d.strs.slot(s)), nil
	case 't':
		return true, d.literal("true")
	case 'f':
		return false, d.literal("false")
	case 'n':
		return nil, d.literal("null")
	default:
		if c == '-' || (c >= '0' && c <= '9') {
			return d.number()
		}
		return nil, d.errChar("looking for beginning of value")
	}
}

func (d *decoder) literal(lit string) error {
	b := d.buf
	for i := 1; i < len(lit); i++ {
		p := d.pos + i
		if p >= len(b) {
			d.pos = p
			return d.errEOF()
		}
		if b[p] != lit[i] {
			d.pos = p
			return d.errChar("in literal " + lit + " (expecting " + strconv.QuoteRune(rune(lit[i])) + ")")
		}
	}
	d.pos += len(lit)
	return nil
}

func (d *decoder) push() error {
	d.depth++
	if d.depth > MaxDepth {
		return d.err(fmt.Sprintf("exceeded max depth of %d", MaxDepth))
	}
	return nil
}

func (d *decoder) object() (any, error) {
	if err := d.push(); err != nil {
		return nil, err
	}
	d.pos++ // {
	d.skipSpace()
	if d.pos < len(d.buf) && d.buf[d.pos] == '}' {
		d.pos++
		d.depth--
		return map[string]any{}, nil
	}
	base := len(d.kvs)
	for {
		if d.pos >= len(d.buf) {
			return nil, d.errEOF()
		}
		if d.buf[d.pos] != '"' {
			return nil, d.errChar("looking for beginning of object key string")
		}
		k, err := d.str()
		if err != nil {
			return nil, err
		}
		d.skipSpace()
		if d.pos >= len(d.buf) {
			return nil, d.errEOF()
		}
		if d.buf[d.pos] != ':' {
			return nil, d.errChar("after object key")
		}
		d.pos++
		d.skipSpace()
		v, err := d.value()
		if err != nil {
			return nil, err
		}
		d.kvs = append(d.kvs, kv{k, v})
		d.skipSpace()
		if d.pos >= len(d.buf) {
			return nil, d.errEOF()
		}
		c := d.buf[d.pos]
		d.pos++
		if c == '}' {
			break
		}
		if c != ',' {
			d.pos--
			return nil, d.errChar("after object key:value pair")
		}
		d.skipSpace()
	}
	members := d.kvs[base:]
	m := make(map[string]any, len(members))
	for _, e := range members {
		m[e.k] = e.v // a repeated key keeps its last value
	}
	d.kvsUsed = max(d.kvsUsed, len(d.kvs))
	d.kvs = d.kvs[:base]
	d.depth--
	return m, nil
}

func (d *decoder) array() (any, error) {
	if err := d.push(); err != nil {
		return nil, err
	}
	d.pos++ // [
	d.skipSpace()
	if d.pos < len(d.buf) && d.buf[d.pos] == ']' {
		d.pos++
		d.depth--
		return pack(sliceType, d.slices.slot(make([]any, 0))), nil // empty, not nil
	}
	base := len(d.vals)
	for {
		v, err := d.value()
		if err != nil {
			return nil, err
		}
		d.vals = append(d.vals, v)
		d.skipSpace()
		if d.pos >= len(d.buf) {
			return nil, d.errEOF()
		}
		c := d.buf[d.pos]
		d.pos++
		if c == ']' {
			break
		}
		if c != ',' {
			d.pos--
			return nil, d.errChar("after array element")
		}
		d.skipSpace()
	}
	elems := d.vals[base:]
	a := d.elems.slice(len(elems))
	copy(a, elems)
	d.valsUsed = max(d.valsUsed, len(d.vals))
	d.vals = d.vals[:base]
	d.depth--
	return pack(sliceType, d.slices.slot(a)), nil
}

// plainByte marks the bytes a string can hold as they are: printable ASCII
// other than the quote and the backslash.
var plainByte = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// str decodes the string whose opening quote is at d.pos. The result is a
// slice of d.buf; a string with escapes is first unescaped in place (it only
// shrinks, and no string handed out covers those bytes).
func (d *decoder) str() (string, error) {
	b := d.buf
	start := d.pos + 1
	i := start
	for i < len(b) && plainByte[b[i]] {
		i++
	}
	if i < len(b) && b[i] == '"' {
		d.pos = i + 1
		if i == start {
			return "", nil
		}
		return unsafe.String(&b[start], i-start), nil
	}
	// Escapes, non-ASCII, control characters or the end of the input:
	// validate the rest, then decide how to build the string.
	escaped, invalidUTF8 := false, false
	for {
		if i >= len(b) {
			d.pos = i
			return "", d.errEOF()
		}
		c := b[i]
		switch {
		case c == '"':
			end := i
			d.pos = end + 1
			src := b[start:end]
			switch {
			case invalidUTF8:
				// Replacement characters can be longer than what they
				// replace: decode into new memory.
				return string(unescape(make([]byte, 0, len(src)+8), src)), nil
			case escaped:
				out := unescape(b[start:start:end], src)
				if len(out) == 0 {
					return "", nil
				}
				return unsafe.String(&out[0], len(out)), nil
			default:
				return unsafe.String(&b[start], end-start), nil
			}
		case c == '\\':
			escaped = true
			if i+1 >= len(b) {
				d.pos = i + 1
				return "", d.errEOF()
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				for j := i + 2; j < i+6; j++ {
					if j >= len(b) {
						d.pos = j
						return "", d.errEOF()
					}
					if unhex(b[j]) < 0 {
						d.pos = j
						return "", d.errChar("in \\u hexadecimal character escape")
					}
				}
				i += 6
			default:
				d.pos = i + 1
				return "", d.errChar("in string escape code")
			}
		case c < ' ':
			d.pos = i
			return "", d.errChar("in string literal")
		case c < utf8.RuneSelf:
			i++
		default:
			r, size := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && size == 1 {
				invalidUTF8 = true
			}
			i += size
		}
	}
}

func unhex(c byte) rune {
	switch {
	case '0' <= c && c <= '9':
		return rune(c - '0')
	case 'a' <= c && c <= 'f':
		return rune(c - 'a' + 10)
	case 'A' <= c && c <= 'F':
		return rune(c - 'A' + 10)
	}
	return -1
}

// u4 decodes the \uXXXX escape at the start of s, or returns -1.
func u4(s []byte) rune {
	if len(s) < 6 || s[0] != '\\' || s[1] != 'u' {
		return -1
	}
	var r rune
	for _, c := range s[2:6] {
		h := unhex(c)
		if h < 0 {
			return -1
		}
		r = r<<4 | h
	}
	return r
}

// unescape appends the decoded contents of the validated string body src
// to dst. Invalid UTF-8 and unpaired surrogates become U+FFFD, as
// encoding/json decodes them. dst may share src's memory when it starts at
// or before src and src is valid UTF-8: every write then lands at or
// before the byte being read, and after it has been read.
func unescape(dst, src []byte) []byte {
	for r := 0; r < len(src); {
		c := src[r]
		if c == '\\' {
			switch e := src[r+1]; e {
			case 'u':
				rr := u4(src[r:])
				r += 6
				if utf16.IsSurrogate(rr) {
					if pair := utf16.DecodeRune(rr, u4(src[r:])); pair != utf8.RuneError {
						rr = pair
						r += 6
					} else {
						rr = utf8.RuneError
					}
				}
				dst = utf8.AppendRune(dst, rr)
				continue
			case 'b':
				c = '\b'
			case 'f':
				c = '\f'
			case 'n':
				c = '\n'
			case 'r':
				c = '\r'
			case 't':
				c = '\t'
			default: // " \ /
				c = e
			}
			dst = append(dst, c)
			r += 2
			continue
		}
		if c < utf8.RuneSelf {
			dst = append(dst, c)
			r++
			continue
		}
		rr, size := utf8.DecodeRune(src[r:])
		if rr == utf8.RuneError && size == 1 {
			dst = append(dst, "\uFFFD"...)
		} else {
			dst = append(dst, src[r:r+size]...)
		}
		r += size
	}
	return dst
}

// number decodes the number starting at d.pos: int64 when it has no
// fraction and no exponent and fits, float64 otherwise.
func (d *decoder) number() (any, error) {
	b := d.buf
	start := d.pos
	i := start
	neg := b[i] == '-'
	if neg {
		i++
	}
	digits := func() bool {
		n := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		return i > n
	}
	expectDigit := func(where string) error {
		d.pos = i
		if i >= len(b) {
			return d.errEOF()
		}
		return d.errChar(where)
	}
	switch {
	case i >= len(b):
		return nil, expectDigit("")
	case b[i] == '0':
		i++
	case b[i] >= '1' && b[i] <= '9':
		digits()
	default:
		return nil, expectDigit("in numeric literal")
	}
	intDigits := i - start
	isInt := true
	if i < len(b) && b[i] == '.' {
		isInt = false
		i++
		if !digits() {
			return nil, expectDigit("after decimal point in numeric literal")
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		isInt = false
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if !digits() {
			return nil, expectDigit("in exponent of numeric literal")
		}
	}
	d.pos = i
	if isInt {
		if neg {
			intDigits--
		}
		if intDigits <= 18 { // cannot overflow int64
			var n int64
			for _, c := range b[i-intDigits : i] {
				n = n*10 + int64(c-'0')
			}
			if neg {
				n = -n
			}
			return d.boxInt(n), nil
		}
		if n, err := strconv.ParseInt(unsafe.String(&b[start], i-start), 10, 64); err == nil {
			return d.boxInt(n), nil
		}
	}
	s := unsafe.String(&b[start], i-start)
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		d.pos = start
		return nil, d.err("number " + s + " is out of the range of float64")
	}
	return f, nil
}

func (d *decoder) boxInt(n int64) any {
	if n >= 0 && n < 256 {
		return n // the runtime boxes these without allocating
	}
	return pack(int64Type, d.ints.slot(n))
}

func (d *decoder) err(msg string) error {
	return &SyntaxError{Offset: int64(d.pos), msg: msg}
}

func (d *decoder) errEOF() error {
	return &SyntaxError{Offset: int64(len(d.buf)), msg: "unexpected end of JSON input"}
}

// errChar reports the byte at d.pos.
func (d *decoder) errChar(context string) error {
	c := d.buf[d.pos]
	var q string
	switch {
	case c == '\'':
		q = `'\''`
	case c == '"':
		q = `'"'`
	case c >= ' ' && c < utf8.RuneSelf:
		q = "'" + string(rune(c)) + "'"
	default:
		q = fmt.Sprintf("byte 0x%02x", c)
	}
	return d.err("invalid character " + q + " " + context)
}
