package ujson

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// Marshal returns the JSON encoding of obj, byte for byte what
// encoding/json.Marshal returns for it; a nil map encodes as null. Errors
// are encoding/json's (an *encoding/json.UnsupportedValueError for NaN, an
// infinity or a cycle; whatever a json.Marshaler returns).
func Marshal(obj map[string]any) ([]byte, error) {
	e := encoderPool.Get().(*encoder)
	defer e.release()
	if err := e.encodeMap(obj); err != nil {
		return nil, err
	}
	out := make([]byte, len(e.buf))
	copy(out, e.buf)
	return out, nil
}

// AppendMarshal appends the JSON encoding of v to dst, byte for byte what
// encoding/json.Marshal returns for v. On error it returns dst unchanged
// (though bytes beyond len(dst) may have been written).
func AppendMarshal(dst []byte, v any) ([]byte, error) {
	e := encoderPool.Get().(*encoder)
	own := e.buf
	e.buf = dst
	defer func() {
		// dst is the caller's memory: never for the pool, not even when a
		// json.Marshaler panicked.
		e.buf = own
		e.release()
	}()
	if err := e.encode(v); err != nil {
		return dst, err
	}
	return e.buf, nil
}

type encoder struct {
	buf   []byte
	kvs   []kv // members of the maps being encoded, sorted by key
	skvs  []skv
	depth int
}

// skv is a member of a map[string]string being encoded.
type skv struct{ k, v string }

var encoderPool = sync.Pool{New: func() any { return &encoder{buf: make([]byte, 0, 4096)} }}

// maxPooledBuf bounds the output buffer a pooled encoder keeps.
const maxPooledBuf = 1 << 20

func (e *encoder) release() {
	clear(e.kvs)
	clear(e.skvs)
	e.kvs, e.skvs = e.kvs[:0], e.skvs[:0]
	if cap(e.kvs) > maxPooledStack {
		e.kvs = nil
	}
	if cap(e.skvs) > maxPooledStack {
		e.skvs = nil
	}
	if cap(e.buf) > maxPooledBuf {
		e.buf = nil
	}
	e.buf = e.buf[:0]
	e.depth = 0
	encoderPool.Put(e)
}

// cycleDepth is the nesting depth from which encoding/json starts looking
// for cycles; deeper values are handed to it, so that a cyclic value fails
// as it does there instead of exhausting the stack.
const cycleDepth = 1000

func (e *encoder) encode(v any) error {
	switch x := v.(type) {
	case nil:
		e.buf = append(e.buf, "null"...)
	case string:
		e.buf = appendString(e.buf, x)
	case map[string]any:
		return e.encodeMap(x)
	case []any:
		return e.encodeSlice(x)
	case bool:
		e.buf = strconv.AppendBool(e.buf, x)
	case int64:
		e.buf = strconv.AppendInt(e.buf, x, 10)
	case float64:
		return e.float(x, 64)
	case int:
		e.buf = strconv.AppendInt(e.buf, int64(x), 10)
	case int32:
		e.buf = strconv.AppendInt(e.buf, int64(x), 10)
	case int16:
		e.buf = strconv.AppendInt(e.buf, int64(x), 10)
	case int8:
		e.buf = strconv.AppendInt(e.buf, int64(x), 10)
	case uint:
		e.buf = strconv.AppendUint(e.buf, uint64(x), 10)
	case uint64:
		e.buf = strconv.AppendUint(e.buf, x, 10)
	case uint32:
		e.buf = strconv.AppendUint(e.buf, uint64(x), 10)
	case uint16:
		e.buf = strconv.AppendUint(e.buf, uint64(x), 10)
	case uint8:
		e.buf = strconv.AppendUint(e.buf, uint64(x), 10)
	case float32:
		return e.float(float64(x), 32)
	case json.Number:
		s := string(x)
		if s == "" {
			s = "0"
		}
		if !validNumber(s) {
			return fmt.Errorf("json: invalid number literal %q", s)
		}
		e.buf = append(e.buf, s...)
	case []string:
		if x == nil {
			e.buf = append(e.buf, "null"...)
			return nil
		}
		e.buf = append(e.buf, '[')
		for i, s := range x {
			if i > 0 {
				e.buf = append(e.buf, ',')
			}
			e.buf = appendString(e.buf, s)
		}
		e.buf = append(e.buf, ']')
	case map[string]string:
		return e.encodeStringMap(x)
	case []map[string]any:
		if x == nil {
			e.buf = append(e.buf, "null"...)
			return nil
		}
		if e.depth >= cycleDepth {
			return e.fallback(x)
		}
		e.depth++
		e.buf = append(e.buf, '[')
		for i, m := range x {
			if i > 0 {
				e.buf = append(e.buf, ',')
			}
			if err := e.encodeMap(m); err != nil {
				return err
			}
		}
		e.buf = append(e.buf, ']')
		e.depth--
	default:
		return e.fallback(v)
	}
	return nil
}

// fallback encodes v with encoding/json.
func (e *encoder) fallback(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	e.buf = append(e.buf, b...)
	return nil
}

func (e *encoder) encodeMap(m map[string]any) error {
	if m == nil {
		e.buf = append(e.buf, "null"...)
		return nil
	}
	if len(m) == 0 {
		e.buf = append(e.buf, "{}"...)
		return nil
	}
	if e.depth >= cycleDepth {
		return e.fallback(m)
	}
	e.depth++
	base := len(e.kvs)
	for k, v := range m {
		e.kvs = append(e.kvs, kv{k, v})
	}
	// Nested maps push above base+len(m) and pop back before returning, so
	// members stays valid (if e.kvs grows, it keeps the old array).
	members := e.kvs[base:]
	sortMembers(members)
	e.buf = append(e.buf, '{')
	for i := range members {
		if i > 0 {
			e.buf = append(e.buf, ',')
		}
		e.buf = appendString(e.buf, members[i].k)
		e.buf = append(e.buf, ':')
		if err := e.encode(members[i].v); err != nil {
			return err
		}
	}
	e.buf = append(e.buf, '}')
	clear(e.kvs[base:])
	e.kvs = e.kvs[:base]
	e.depth--
	return nil
}

func sortMembers(members []kv) {
	// Insertion sort for the small maps that dominate Kubernetes objects.
	if len(members) <= 12 {
		for i := 1; i < len(members); i++ {
			for j := i; j > 0 && members[j].k < members[j-1].k; j-- {
				members[j], members[j-1] = members[j-1], members[j]
			}
		}
		return
	}
	slices.SortFunc(members, func(a, b kv) int { return strings.Compare(a.k, b.k) })
}

func (e *encoder) encodeStringMap(m map[string]string) error {
	if m == nil {
		e.buf = append(e.buf, "null"...)
		return nil
	}
	e.skvs = e.skvs[:0] // string maps hold no maps: no nesting
	for k, v := range m {
		e.skvs = append(e.skvs, skv{k, v})
	}
	slices.SortFunc(e.skvs, func(a, b skv) int { return strings.Compare(a.k, b.k) })
	e.buf = append(e.buf, '{')
	for i, m := range e.skvs {
		if i > 0 {
			e.buf = append(e.buf, ',')
		}
		e.buf = appendString(e.buf, m.k)
		e.buf = append(e.buf, ':')
		e.buf = appendString(e.buf, m.v)
	}
	e.buf = append(e.buf, '}')
	clear(e.skvs)
	e.skvs = e.skvs[:0]
	return nil
}

func (e *encoder) encodeSlice(a []any) error {
	if a == nil {
		e.buf = append(e.buf, "null"...)
		return nil
	}
	if e.depth >= cycleDepth {
		return e.fallback(a)
	}
	e.depth++
	e.buf = append(e.buf, '[')
	for i, v := range a {
		if i > 0 {
			e.buf = append(e.buf, ',')
		}
		if err := e.encode(v); err != nil {
			return err
		}
	}
	e.buf = append(e.buf, ']')
	e.depth--
	return nil
}

// float formats f as encoding/json does: like ES6's number to string
// conversion, shortest representation, exponent form only below 1e-6 and
// from 1e21, exponents without a leading zero.
func (e *encoder) float(f float64, bits int) error {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		var rv reflect.Value
		if bits == 32 {
			rv = reflect.ValueOf(float32(f))
		} else {
			rv = reflect.ValueOf(f)
		}
		return &json.UnsupportedValueError{Value: rv, Str: strconv.FormatFloat(f, 'g', -1, bits)}
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 {
		if bits == 64 && (abs < 1e-6 || abs >= 1e21) || bits == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21) {
			format = 'e'
		}
	}
	b := strconv.AppendFloat(e.buf, f, format, -1, bits)
	if format == 'e' {
		// e-07 -> e-7
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	e.buf = b
	return nil
}

// validNumber reports whether s is a JSON number.
func validNumber(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	digits := func() bool {
		n := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		return i > n
	}
	switch {
	case i >= len(s):
		return false
	case s[i] == '0':
		i++
	case !digits():
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if !digits() {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if !digits() {
			return false
		}
	}
	return i == len(s)
}

// safeByte marks the ASCII bytes encoding/json writes as they are: all
// printable ones but the quote, the backslash and the HTML-sensitive < > &.
var safeByte = func() (t [utf8.RuneSelf]bool) {
	for c := ' '; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

const hexDigits = "0123456789abcdef"

// appendString appends s quoted and escaped as encoding/json does with
// HTML escaping on.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	done := 0 // s[:done] is in dst
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if safeByte[c] {
				i++
				continue
			}
			dst = append(dst, s[done:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			done = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[done:i]...)
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, s[done:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		done = i
	}
	dst = append(dst, s[done:]...)
	return append(dst, '"')
}
