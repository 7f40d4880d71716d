package ujson

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
)

type stringer string // a named string: not one of the fast-path types

// marshalerValue implements json.Marshaler with output encoding/json has to
// compact and HTML-escape.
type marshalerValue struct{}

func (marshalerValue) MarshalJSON() ([]byte, error) {
	return []byte(`{ "b" : "<x>" , "a":[ 1 ] }`), nil
}

type failingMarshaler struct{}

var errMarshal = errors.New("no JSON for you")

func (failingMarshaler) MarshalJSON() ([]byte, error) { return nil, errMarshal }

// checkSame asserts that AppendMarshal (and Marshal, for maps) give exactly
// encoding/json.Marshal's bytes, or both fail with the same message.
func checkSame(t *testing.T, v any) {
	t.Helper()
	want, wantErr := json.Marshal(v)
	got, err := AppendMarshal([]byte("prefix"), v)
	switch {
	case (err != nil) != (wantErr != nil):
		t.Errorf("AppendMarshal(%#v): error %v, encoding/json: %v", v, err, wantErr)
	case err != nil && err.Error() != wantErr.Error():
		t.Errorf("AppendMarshal(%#v): error %q, encoding/json: %q", v, err, wantErr)
	case err != nil && string(got) != "prefix":
		t.Errorf("AppendMarshal(%#v) failed but returned %q", v, got)
	case err == nil && string(got) != "prefix"+string(want):
		t.Errorf("AppendMarshal(%#v)\n got %s\nwant prefix%s", v, got, want)
	}
	if m, ok := v.(map[string]any); ok {
		got, err := Marshal(m)
		if (err != nil) != (wantErr != nil) || (err == nil && !bytes.Equal(got, want)) {
			t.Errorf("Marshal(%#v) = %s, %v; encoding/json: %s, %v", v, got, err, want, wantErr)
		}
	}
}

func TestMarshalMatchesEncodingJSON(t *testing.T) {
	cyclic := map[string]any{"a": 1}
	cyclic["self"] = cyclic
	cyclicSlice := []any{1, nil}
	cyclicSlice[1] = cyclicSlice
	deep := any("leaf")
	for range 3000 {
		deep = map[string]any{"d": []any{deep}}
	}
	values := []any{
		nil, true, false, "", "plain",
		"quote\" backslash\\ slash/ <script>&amp; \b\f\n\r\t \x00\x01\x1f\x7f",
		"é € 😀 \u2028 \u2029 \u2027 \u202a", "bad \xff utf8 \xed\xa0\x80 \xc3", "\xc3\xa9\xc3",
		int(-42), int8(-8), int16(-16), int32(-32), int64(math.MinInt64), int64(math.MaxInt64),
		uint(42), uint8(255), uint16(65535), uint32(math.MaxUint32), uint64(math.MaxUint64),
		0.0, math.Copysign(0, -1), 1.0, -1.5, 0.1, 1e-6, 9.99e-7, 1e20, 1e21, 123456789.123, 1e-7, -1e-300, 5e-324, math.MaxFloat64,
		float32(0.1), float32(1e-6), float32(9.99e-7), float32(1e21), float32(3.4e38), float32(-1e-7),
		math.NaN(), math.Inf(1), math.Inf(-1), float32(math.Inf(-1)),
		json.Number("12.5e3"), json.Number(""), json.Number("-0"), json.Number("01"), json.Number("1e"), json.Number("abc"),
		[]string{"a", "<b>"}, []string(nil), []string{},
		map[string]string{"z": "1", "a": "<&>", "m": ""}, map[string]string(nil), map[string]string{},
		[]map[string]any{{"b": 1, "a": 2}, nil, {}}, []map[string]any(nil),
		map[string]any(nil), map[string]any{}, []any(nil), []any{},
		map[string]any{"b": 1, "a": "x", "<k>": nil, "\u2028": true, "": []any{1, "2", 3.5}, "B": map[string]any{"z": nil, "y": []any{}}},
		map[string]any{"k13": 1, "k1": 2, "k12": 3, "k2": 4, "k11": 5, "k3": 6, "k10": 7, "k4": 8, "k9": 9, "k5": 10, "k8": 11, "k6": 12, "k7": 13, "k0": 14},
		map[string]any{"x": math.NaN()}, []any{1, math.Inf(1)},
		map[string]any{"named": stringer("<s>"), "time": time.Date(2026, 11, 27, 14, 0, 0, 5, time.UTC), "raw": json.RawMessage(` [1, 2 ] `)},
		map[string]any{"q": resource.MustParse("100m"), "m": marshalerValue{}, "p": &marshalerValue{}, "bytes": []byte("hi"), "ints": []int64{1, 2}},
		map[string]any{"fail": failingMarshaler{}}, map[string]any{"ch": make(chan int)}, map[string]any{"fn": func() {}},
		cyclic, cyclicSlice, deep,
	}
	for _, v := range values {
		checkSame(t, v)
	}
}

func TestMarshalFloatsMatchEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var buf []byte
	for range 200000 {
		var f float64
		switch r.IntN(3) {
		case 0:
			f = math.Float64frombits(r.Uint64())
		case 1:
			f = r.NormFloat64() * math.Pow(10, float64(r.IntN(60)-30))
		default:
			f = float64(r.Int64N(1<<53)) / float64(r.Int64N(1000)+1)
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			continue
		}
		for _, v := range []any{f, float32(f)} {
			if math.IsInf(float64(float32(f)), 0) {
				continue
			}
			want, _ := json.Marshal(v)
			var err error
			buf, err = AppendMarshal(buf[:0], v)
			if err != nil || !bytes.Equal(buf, want) {
				t.Fatalf("AppendMarshal(%T %v) = %s, %v; want %s", v, v, buf, err, want)
			}
		}
	}
}

func TestMarshalAllRunes(t *testing.T) {
	var sb strings.Builder
	for r := rune(0); r <= 0x10ffff; r++ {
		sb.WriteRune(r)
	}
	for b := 0x80; b < 0x100; b++ {
		sb.WriteByte(byte(b)) // lone bytes: invalid UTF-8
	}
	checkSame(t, sb.String())
	checkSame(t, map[string]any{sb.String(): sb.String()})
}

// Marshal's result is the caller's: later calls do not overwrite it.
func TestMarshalResultNotShared(t *testing.T) {
	a, err := Marshal(map[string]any{"a": "first"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Marshal(map[string]any{"b": "second, longer value"}); err != nil {
		t.Fatal(err)
	}
	if string(a) != `{"a":"first"}` {
		t.Errorf("first result changed to %s", a)
	}
}

type panickingMarshaler struct{}

func (panickingMarshaler) MarshalJSON() ([]byte, error) { panic("marshaler panics") }

// A json.Marshaler that panics in AppendMarshal must not leave the caller's
// dst inside the pooled encoder: later encodings would write into it.
func TestAppendMarshalPanicKeepsDstOutOfPool(t *testing.T) {
	dst := make([]byte, 0, 1<<10)
	dst = append(dst, "caller's"...)
	want := string(dst)
	for range 20 {
		func() {
			defer func() {
				if recover() == nil {
					t.Fatal("no panic")
				}
			}()
			_, _ = AppendMarshal(dst, map[string]any{"a": panickingMarshaler{}})
		}()
		for range 4 {
			if _, err := Marshal(map[string]any{"overwrite": strings.Repeat("z", 64)}); err != nil {
				t.Fatal(err)
			}
		}
		if got := string(dst[:cap(dst)][:len(want)]); got != want {
			t.Fatalf("caller's buffer overwritten by a later Marshal: %q", got)
		}
	}
}
