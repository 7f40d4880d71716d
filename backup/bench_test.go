package backup_test

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/rigging-dev/rigging/archive"
	"github.com/rigging-dev/rigging/archive/archivetest"
	"github.com/rigging-dev/rigging/backup"
	"github.com/rigging-dev/rigging/manifest"
)

// BenchmarkLarge backs up gen-large.sh's 10 000 items (plus their 20
// namespaces) with the built-in actions into an in-memory store. Loading
// the manifests is not timed.
func BenchmarkLarge(b *testing.B) {
	dir := b.TempDir()
	if out, err := exec.Command("bash", "../testdata/manifests/gen-large.sh", "-n", "10000", "-s", "20", dir).CombinedOutput(); err != nil {
		b.Skipf("gen-large.sh: %v\n%s", err, out)
	}
	items, err := manifest.Load(filepath.Clean(dir))
	if err != nil {
		b.Fatal(err)
	}
	m := builtins(b)
	b.ResetTimer()
	for i := range b.N {
		store := archive.NewStore(archivetest.NewMemStore(), bucket, "")
		sum, err := backup.Run(context.Background(), backup.Options{Name: fmt.Sprint("b", i), Items: items, Store: store, Plugins: m})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(sum.Backup.Status.Progress.ItemsBackedUp)/sum.Duration.Seconds(), "items/s")
	}
}
