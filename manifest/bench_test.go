package manifest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/rigging-dev/rigging/internal/ujson"
)

// BenchmarkDecode decodes the cluster-export files: multi-document YAML, a
// YAML List and a JSON List. The objects/op metric is per file.
func BenchmarkDecode(b *testing.B) {
	dir := ""
	for _, d := range []string{"../testdata/manifests/cluster-export", "../../shared/testdata/manifests/cluster-export"} {
		if _, err := os.Stat(d); err == nil {
			dir = d
			break
		}
	}
	if dir == "" {
		b.Skip("cluster-export not found")
	}
	for _, name := range []string{"kube-system.yaml", "shop.yaml", "monitoring.json"} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				objs, err := Decode(bytes.NewReader(data), name)
				if err != nil {
					b.Fatal(err)
				}
				n = len(objs)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/object")
		})
	}
}

// BenchmarkDecodeLarge decodes gen-large.sh's YAML (2 000 items), and, as
// the bar to reach, the same objects as JSON with the item codec
// (internal/ujson): ns/object of each, side by side.
//
//	go test -run '^$' -bench DecodeLarge -count 5 ./manifest
func BenchmarkDecodeLarge(b *testing.B) {
	dir := b.TempDir()
	if out, err := exec.Command("bash", "../testdata/manifests/gen-large.sh", "-n", "2000", "-s", "1", dir).CombinedOutput(); err != nil {
		b.Fatalf("gen-large.sh: %v\n%s", err, out)
	}
	yml, err := os.ReadFile(filepath.Join(dir, "perf-00.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	objs, err := Decode(bytes.NewReader(yml), "perf-00.yaml")
	if err != nil {
		b.Fatal(err)
	}
	var docs [][]byte
	size := 0
	for _, o := range objs {
		js, err := ujson.Marshal(o.Object)
		if err != nil {
			b.Fatal(err)
		}
		docs = append(docs, js)
		size += len(js)
	}
	b.Run("yaml", func(b *testing.B) {
		b.SetBytes(int64(len(yml)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Decode(bytes.NewReader(yml), "perf-00.yaml"); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(objs)), "ns/object")
	})
	b.Run("ujson", func(b *testing.B) {
		b.SetBytes(int64(size))
		b.ReportAllocs()
		for b.Loop() {
			for _, js := range docs {
				if _, err := ujson.Unmarshal(js); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(objs)), "ns/object")
	})
}
