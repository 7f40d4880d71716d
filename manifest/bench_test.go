package manifest

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
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
