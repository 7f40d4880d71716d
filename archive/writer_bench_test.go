package archive_test

import (
	"io"
	"os/exec"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/rigging-dev/rigging/archive"
	"github.com/rigging-dev/rigging/manifest"
	"github.com/rigging-dev/rigging/resources"
)

// writerItem is one item as the backup pipeline hands it to WriteItem.
type writerItem struct {
	gr                schema.GroupResource
	version, ns, name string
	data              []byte
}

// BenchmarkWriter writes gen-large.sh's 10 000 items (their JSON encoded
// before the timer) into a tarball that is discarded: the tar and gzip
// stage of a backup alone. raw-MB/op is the JSON written (each item twice),
// gz-bytes the compressed size.
func BenchmarkWriter(b *testing.B) {
	dir := b.TempDir()
	if out, err := exec.Command("bash", "../testdata/manifests/gen-large.sh", "-n", "10000", "-s", "20", dir).CombinedOutput(); err != nil {
		b.Skipf("gen-large.sh: %v\n%s", err, out)
	}
	objs, err := manifest.Load(dir)
	if err != nil {
		b.Fatal(err)
	}
	m := resources.NewMapper()
	var items []writerItem
	raw := 0
	for _, o := range objs {
		r, err := m.ForObject(o)
		if err != nil {
			b.Fatal(err)
		}
		data, err := o.MarshalJSON()
		if err != nil {
			b.Fatal(err)
		}
		ns := o.GetNamespace()
		if !r.Namespaced {
			ns = ""
		}
		items = append(items, writerItem{r.GroupResource(), r.Version, ns, o.GetName(), data})
		raw += 2 * len(data)
	}
	b.SetBytes(int64(raw))
	b.ResetTimer()
	var cw countWriter
	for b.Loop() {
		cw = 0
		w, err := archive.NewWriter(&cw, time.Unix(0, 0))
		if err != nil {
			b.Fatal(err)
		}
		for _, it := range items {
			if err := w.WriteItem(it.gr, it.version, it.ns, it.name, it.data); err != nil {
				b.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(cw), "gz-bytes")
}

type countWriter int64

func (c *countWriter) Write(p []byte) (int, error) { *c += countWriter(len(p)); return len(p), nil }

var _ io.Writer = (*countWriter)(nil)
