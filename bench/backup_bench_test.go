package bench_test

import (
	"context"
	"fmt"
	"os/exec"
	"testing"

	"github.com/rigging-dev/rigging/archive"
	"github.com/rigging-dev/rigging/bench"
	"github.com/rigging-dev/rigging/manifest"
	"github.com/rigging-dev/rigging/registry"
)

// BenchmarkBackup backs up gen-large.sh's 10 000 items with the built-in
// actions in-process into the filesystem store (what the backup group's
// backup-inproc measures), reporting items/s; for profiles:
//
//	go test -run '^$' -bench Backup -benchtime 3x -cpuprofile cpu.out ./bench
func BenchmarkBackup(b *testing.B) {
	dir := b.TempDir()
	if out, err := exec.Command("bash", "../testdata/manifests/gen-large.sh", "-n", "10000", "-s", "20", dir).CombinedOutput(); err != nil {
		b.Fatalf("gen-large.sh: %v\n%s", err, out)
	}
	items, err := manifest.Load(dir)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	m := registry.NewManager(registry.Options{})
	defer m.Close()
	st, err := bench.OpenFilesystem(ctx, m, b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	store := archive.NewStore(st, "bench", "")
	b.ResetTimer()
	i := 0
	for b.Loop() {
		i++
		n, err := bench.RunBackup(ctx, m, store, fmt.Sprint("b", i), items)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(n), "items/op")
	}
	b.ReportMetric(float64(len(items))*float64(b.N)/b.Elapsed().Seconds(), "items/s")
}
