package ujson

import (
	"bytes"
	"encoding/json"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rigging-dev/rigging/bench/fixture"
)

// The benchmark item is the ~2 KiB pod every per-call benchmark sends, in
// its compact form (what travels on the wire).
func benchPod(b *testing.B) []byte {
	var buf bytes.Buffer
	if err := json.Compact(&buf, []byte(fixture.PodJSON)); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

// go test -run '^$' -bench . -benchmem ./internal/ujson
func BenchmarkDecodePod(b *testing.B) {
	data := benchPod(b)
	b.Run("ujson", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Unmarshal(data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("unstructured", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			var u unstructured.Unstructured
			if err := u.UnmarshalJSON(data); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkEncodePod(b *testing.B) {
	obj, err := Unmarshal(benchPod(b))
	if err != nil {
		b.Fatal(err)
	}
	n := int64(len(benchPod(b)))
	b.Run("ujson", func(b *testing.B) {
		b.SetBytes(n)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Marshal(obj); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.SetBytes(n)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(obj); err != nil {
				b.Fatal(err)
			}
		}
	})
}
