package ujson

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"

	utiljson "k8s.io/apimachinery/pkg/util/json"
)

// reference decodes data as Kubernetes' unstructured decoding does.
func reference(data []byte) (any, error) {
	var v any
	err := utiljson.Unmarshal(data, &v)
	return v, err
}

func TestUnmarshalValue(t *testing.T) {
	tests := []struct {
		in   string
		want any
	}{
		{`{}`, map[string]any{}},
		{`[]`, []any{}},
		{` [ ] `, []any{}},
		{`null`, nil},
		{`true`, true},
		{`false`, false},
		{`""`, ""},
		{`0`, int64(0)},
		{`-0`, int64(0)},
		{`-0.0`, math.Copysign(0, -1)},
		{`255`, int64(255)},
		{`256`, int64(256)},
		{`-1`, int64(-1)},
		{`9223372036854775807`, int64(math.MaxInt64)},
		{`-9223372036854775808`, int64(math.MinInt64)},
		{`9223372036854775808`, float64(9223372036854775808)},
		{`-9223372036854775809`, float64(-9223372036854775809)},
		{`123456789012345678901234567890`, 1.2345678901234568e29},
		{`1e3`, float64(1000)},
		{`1E+3`, float64(1000)},
		{`1.0`, float64(1)},
		{`1.5e-3`, 0.0015},
		{`1e-400`, float64(0)},
		{`"a\"b\\c\/d\be\ff\ng\rh\ti"`, "a\"b\\c/d\be\ff\ng\rh\ti"},
		{`"\u00e9\u20AC"`, "é€"},
		{`"\ud83d\ude00"`, "😀"},
		{`"\ud83d"`, "\uFFFD"},
		{`"\ude00\ud83d"`, "\uFFFD\uFFFD"},
		{`"\ud83dA"`, "\uFFFDA"},
		{`"\ud83d\u0041"`, "\uFFFDA"},
		{`"\ud83d\ud83d\ude00"`, "\uFFFD😀"},
		{"\"a\xffb\"", "a\uFFFDb"},
		{"\"\xed\xa0\x80\"", "\uFFFD\uFFFD\uFFFD"},
		{"\"\xff\\n\"", "\uFFFD\n"},
		{`"<>&\u2028"`, "<>&\u2028"},
		{"\"\x7f\"", "\x7f"},
		{`{"a":1,"a":2}`, map[string]any{"a": int64(2)}},
		{`{"a\u0062":1}`, map[string]any{"ab": int64(1)}},
		{`[1,"x",null,true,{"k":[]}]`, []any{int64(1), "x", nil, true, map[string]any{"k": []any{}}}},
		{" \t\r\n{ \"a\" : [ 1 , 2 ] } \t\r\n", map[string]any{"a": []any{int64(1), int64(2)}}},
	}
	for _, tt := range tests {
		got, err := UnmarshalValue([]byte(tt.in))
		if err != nil {
			t.Errorf("UnmarshalValue(%q): %v", tt.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("UnmarshalValue(%q) = %#v, want %#v", tt.in, got, tt.want)
		}
		if f, ok := tt.want.(float64); ok && math.Signbit(f) != math.Signbit(got.(float64)) {
			t.Errorf("UnmarshalValue(%q): sign of zero lost", tt.in)
		}
		ref, err := reference([]byte(tt.in))
		if err != nil || !reflect.DeepEqual(ref, tt.want) {
			t.Errorf("reference(%q) = %#v, %v; the table is wrong", tt.in, ref, err)
		}
	}
}

func TestUnmarshalValueErrors(t *testing.T) {
	tests := []struct {
		in      string
		offset  int64
		message string
	}{
		{``, 0, "unexpected end of JSON input"},
		{` `, 1, "unexpected end of JSON input"},
		{`{`, 1, "unexpected end of JSON input"},
		{`{"a"`, 4, "unexpected end of JSON input"},
		{`{"a":`, 5, "unexpected end of JSON input"},
		{`{"a":1`, 6, "unexpected end of JSON input"},
		{`[1`, 2, "unexpected end of JSON input"},
		{`"abc`, 4, "unexpected end of JSON input"},
		{`"\u12`, 5, "unexpected end of JSON input"},
		{`tru`, 3, "unexpected end of JSON input"},
		{`-`, 1, "unexpected end of JSON input"},
		{`{} x`, 3, "invalid character 'x' after top-level value"},
		{`{}{}`, 2, "invalid character '{' after top-level value"},
		{`01`, 1, "invalid character '1' after top-level value"},
		{`[01]`, 2, "invalid character '1' after array element"},
		{`-01`, 2, "invalid character '1' after top-level value"},
		{`+1`, 0, "invalid character '+' looking for beginning of value"},
		{`.5`, 0, "invalid character '.' looking for beginning of value"},
		{`1.`, 2, "unexpected end of JSON input"},
		{`1.e5`, 2, "invalid character 'e' after decimal point in numeric literal"},
		{`1e`, 2, "unexpected end of JSON input"},
		{`1e+`, 3, "unexpected end of JSON input"},
		{`[1e+x]`, 4, "invalid character 'x' in exponent of numeric literal"},
		{`-a`, 1, "invalid character 'a' in numeric literal"},
		{`1e400`, 0, "number 1e400 is out of the range of float64"},
		{`[-1e400]`, 1, "number -1e400 is out of the range of float64"},
		{`NaN`, 0, "invalid character 'N' looking for beginning of value"},
		{`truE`, 3, "invalid character 'E' in literal true (expecting 'e')"},
		{`nul`, 3, "unexpected end of JSON input"},
		{`[1,]`, 3, "invalid character ']' looking for beginning of value"},
		{`{"a":1,}`, 7, "invalid character '}' looking for beginning of object key string"},
		{`{,}`, 1, "invalid character ',' looking for beginning of object key string"},
		{`{a:1}`, 1, "invalid character 'a' looking for beginning of object key string"},
		{`{'a':1}`, 1, `invalid character '\'' looking for beginning of object key string`},
		{`{"a" 1}`, 5, "invalid character '1' after object key"},
		{`{"a":1 "b":2}`, 7, `invalid character '"' after object key:value pair`},
		{`[1 2]`, 3, "invalid character '2' after array element"},
		{"\"a\tb\"", 2, "invalid character byte 0x09 in string literal"},
		{"\"a\x00\"", 2, "invalid character byte 0x00 in string literal"},
		{`"\x"`, 2, "invalid character 'x' in string escape code"},
		{`"\'"`, 2, `invalid character '\'' in string escape code`},
		{`"\u12g4"`, 5, `invalid character 'g' in \u hexadecimal character escape`},
		{"\xef\xbb\xbf{}", 0, "invalid character byte 0xef looking for beginning of value"},
		{`[` + strings.Repeat(`{"a":[`, 5000) + `]`, 30000, "exceeded max depth of 10000"},
	}
	for _, tt := range tests {
		_, err := UnmarshalValue([]byte(tt.in))
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("UnmarshalValue(%.40q) error = %v, want a *SyntaxError", tt.in, err)
			continue
		}
		if se.Offset != tt.offset || se.msg != tt.message {
			t.Errorf("UnmarshalValue(%.40q) error = %q (offset %d), want %q at offset %d", tt.in, se.msg, se.Offset, tt.message, tt.offset)
		}
		if _, err := reference([]byte(tt.in)); err == nil {
			t.Errorf("reference(%.40q) accepts it; the table is wrong", tt.in)
		}
	}
}

func TestUnmarshalDepth(t *testing.T) {
	ok := strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth)
	if _, err := UnmarshalValue([]byte(ok)); err != nil {
		t.Errorf("depth %d: %v", MaxDepth, err)
	}
	if _, err := reference([]byte(ok)); err != nil {
		t.Errorf("reference, depth %d: %v", MaxDepth, err)
	}
	deep := "[" + ok + "]"
	if _, err := UnmarshalValue([]byte(deep)); err == nil {
		t.Errorf("depth %d accepted", MaxDepth+1)
	}
	if _, err := reference([]byte(deep)); err == nil {
		t.Errorf("reference accepts depth %d", MaxDepth+1)
	}
	// A hostile document far deeper than the limit fails fast.
	if _, err := UnmarshalValue([]byte(strings.Repeat("[", 1<<22))); err == nil {
		t.Error("4 Mi open brackets accepted")
	}
}

func TestUnmarshalNotObject(t *testing.T) {
	for _, in := range []string{`null`, `[]`, `"x"`, `1`, `true`} {
		m, err := Unmarshal([]byte(in))
		if !errors.Is(err, ErrNotObject) || m != nil {
			t.Errorf("Unmarshal(%s) = %v, %v; want ErrNotObject", in, m, err)
		}
	}
	m, err := Unmarshal([]byte(`{"kind":"Pod"}`))
	if err != nil || m["kind"] != "Pod" {
		t.Errorf("Unmarshal = %v, %v", m, err)
	}
}

// The decoder copies its input: changing or reusing the input afterwards
// changes nothing in the result, and the input is never written (in-place
// unescaping works on the copy).
func TestUnmarshalDoesNotAliasInput(t *testing.T) {
	in := []byte(`{"plain":"value","esc":"a\nb\u00e9","k\"ey":["x"]}`)
	orig := string(in)
	m, err := Unmarshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if string(in) != orig {
		t.Fatalf("input modified: %q", in)
	}
	for i := range in {
		in[i] = 'X'
	}
	want := map[string]any{"plain": "value", "esc": "a\nbé", "k\"ey": []any{"x"}}
	if !reflect.DeepEqual(m, want) {
		t.Errorf("after overwriting the input: %#v, want %#v", m, want)
	}
}

// Slab-boxed values behave as ordinary interface values.
func TestBoxedValues(t *testing.T) {
	v, err := UnmarshalValue([]byte(`["text", 70000, -5, 3, "text"]`))
	if err != nil {
		t.Fatal(err)
	}
	a := v.([]any)
	if a[0] != any("text") || a[0] != a[4] || a[1] != any(int64(70000)) || a[2] != any(int64(-5)) || a[3] != any(int64(3)) {
		t.Errorf("equality: %#v", a)
	}
	if s, ok := a[0].(string); !ok || s != "text" {
		t.Errorf("assertion: %#v", a[0])
	}
	if n, ok := a[1].(int64); !ok || n != 70000 {
		t.Errorf("assertion: %#v", a[1])
	}
	if reflect.TypeOf(a[0]) != reflect.TypeFor[string]() || reflect.ValueOf(a[1]).Int() != 70000 {
		t.Errorf("reflect: %v %v", reflect.TypeOf(a[0]), reflect.ValueOf(a[1]))
	}
	if _, ok := a[1].(float64); ok {
		t.Error("int64 asserted as float64")
	}
	a[0] = "changed" // replacing an element does not touch its neighbours
	if a[4] != "text" {
		t.Errorf("neighbour changed: %#v", a[4])
	}
}
