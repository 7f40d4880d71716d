// Package ujson is a JSON codec for Kubernetes unstructured objects: the
// map[string]any / []any trees that unstructured.Unstructured holds, which
// every plugin RPC and every backed-up item passes through.
//
// It produces exactly what the reference implementations produce, with a
// fraction of their allocations and time:
//
//   - [Unmarshal] and [UnmarshalValue] decode as k8s.io/apimachinery's
//     util/json.Unmarshal into an any (what unstructured.UnmarshalJSON
//     uses): objects become map[string]any, arrays []any, strings string,
//     true/false bool, null nil; a number without '.' that parses as an
//     int64 becomes int64 (so "-0" is int64 0 and "1e3" is float64 1000),
//     every other number float64, and a number beyond float64's range is an
//     error. A key that repeats keeps its last value. Invalid UTF-8 and
//     unpaired surrogate escapes in strings become U+FFFD. The same inputs
//     are rejected: anything that is not one valid JSON value surrounded by
//     optional whitespace, and nesting deeper than [MaxDepth].
//
//   - [Marshal] and [AppendMarshal] produce the same bytes as
//     encoding/json.Marshal: map keys sorted, HTML-sensitive characters,
//     U+2028 and U+2029 escaped, invalid UTF-8 replaced by \ufffd, floats
//     formatted as encoding/json formats them, NaN and infinities refused
//     with an *encoding/json.UnsupportedValueError. The types unstructured
//     objects hold are encoded without reflection; any other value is
//     handed to encoding/json (so json.Marshaler implementations are
//     honoured) and the result is spliced in unchanged.
//
// Memory: a decoded tree shares memory with one private copy of the input
// (strings are slices of it, never written after they are handed out) and
// with a few slabs that hold the numbers and strings boxed in interfaces.
// Any value kept from the tree therefore keeps that copy and its slab
// alive: a caller that keeps one short string out of a large document for a
// long time should copy it (strings.Clone). The caller's input is never
// retained or modified.
package ujson
