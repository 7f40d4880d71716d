package ujson

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/rigging-dev/rigging/bench/fixture"
)

var fuzzSeeds = []string{
	`{}`, `[]`, `null`, `0`, `-0`, `1e3`, `1.5`, `9223372036854775808`, `-9223372036854775809`, `1e400`,
	`"\ud83d\ude00"`, `"\ud83d"`, "\"\xff\"", `"\u2028<&>"`, `{"a":1,"a":2}`, `[1,]`, `{"a" 1}`, `01`,
	`{"kind":"Pod","metadata":{"name":"x","labels":{"a":"b"}},"spec":{"n":[1,2.5,"s",true,null]}}`,
	fixture.PodJSON, fixture.BackupJSON,
}

// FuzzUnmarshal checks that UnmarshalValue and Unmarshal accept exactly
// what Kubernetes' decoding accepts and produce the same values.
func FuzzUnmarshal(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		orig := bytes.Clone(data)
		want, wantErr := reference(data)
		got, err := UnmarshalValue(data)
		if !bytes.Equal(data, orig) {
			t.Fatalf("input modified")
		}
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("error %v, reference error %v", err, wantErr)
		}
		if err == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("decoded %#v, reference %#v", got, want)
		}
		m, err := Unmarshal(data)
		_, isObject := want.(map[string]any)
		if (err == nil) != (wantErr == nil && isObject) {
			t.Fatalf("Unmarshal error %v; reference %T, %v", err, want, wantErr)
		}
		if err == nil && !reflect.DeepEqual(m, want) {
			t.Fatalf("Unmarshal %#v, reference %#v", m, want)
		}
	})
}

// FuzzRoundTrip checks that Marshal of a decoded value gives encoding/json's
// bytes and that decoding them again gives what the reference decodes.
func FuzzRoundTrip(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := reference(data)
		if err != nil {
			return
		}
		want, wantErr := json.Marshal(v)
		got, err := AppendMarshal(nil, v)
		if (err != nil) != (wantErr != nil) || !bytes.Equal(got, want) {
			t.Fatalf("AppendMarshal = %s, %v; encoding/json %s, %v", got, err, want, wantErr)
		}
		if m, ok := v.(map[string]any); ok {
			if got, err := Marshal(m); err != nil || !bytes.Equal(got, want) {
				t.Fatalf("Marshal = %s, %v; encoding/json %s", got, err, want)
			}
		}
		// Not necessarily v again: 1e3 decodes as float64 1000, which
		// encodes as 1000, which decodes as int64.
		wantBack, _ := reference(got)
		back, err := UnmarshalValue(got)
		if err != nil || !reflect.DeepEqual(back, wantBack) {
			t.Fatalf("decoding %s again: %#v, %v; want %#v", got, back, err, wantBack)
		}
	})
}
