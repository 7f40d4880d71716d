package bench_test

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rigging-dev/rigging/archive"
	"github.com/rigging-dev/rigging/bench"
	"github.com/rigging-dev/rigging/manager"
	"github.com/rigging-dev/rigging/manifest"
	"github.com/rigging-dev/rigging/registry"
)

// largeItems returns gen-large.sh's 10 000 items (plus their 20
// namespaces), loaded once per benchmark, and makes them the Lookup of the
// plugin processes the benchmark starts (bench.EnvLookup).
func largeItems(b *testing.B) []*unstructured.Unstructured {
	b.Helper()
	dir := b.TempDir()
	if out, err := exec.Command("bash", "../testdata/manifests/gen-large.sh", "-n", "10000", "-s", "20", dir).CombinedOutput(); err != nil {
		b.Fatalf("gen-large.sh: %v\n%s", err, out)
	}
	items, err := manifest.Load(dir)
	if err != nil {
		b.Fatal(err)
	}
	// Plugin processes started by the benchmark read the same items as
	// their Lookup.
	b.Setenv(bench.EnvLookup, dir)
	return items
}

// benchmarkBackup backs items up with m's actions into m's filesystem
// store, one backup per iteration, reporting items/s.
func benchmarkBackup(b *testing.B, m *manager.Manager, items []*unstructured.Unstructured) {
	benchmarkRun(b, m, items, bench.RunBackup)
}

// benchmarkRun is benchmarkBackup with run (bench.RunBackup or
// bench.RunFloor) doing each backup.
func benchmarkRun(b *testing.B, m *manager.Manager, items []*unstructured.Unstructured, run func(context.Context, *manager.Manager, *archive.Store, string, []*unstructured.Unstructured) (int64, error)) {
	st, err := bench.OpenFilesystem(context.Background(), m, b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	benchmarkRunStore(b, m, archive.NewStore(st, "bench", ""), items, run)
}

// benchmarkRunStore is benchmarkRun into store (a plugin process
// initialises its filesystem store once).
func benchmarkRunStore(b *testing.B, m *manager.Manager, store *archive.Store, items []*unstructured.Unstructured, run func(context.Context, *manager.Manager, *archive.Store, string, []*unstructured.Unstructured) (int64, error)) {
	ctx := context.Background()
	b.ResetTimer()
	cpu0 := processCPU(b)
	n := int64(0)
	for b.Loop() {
		var err error
		if n, err = run(ctx, m, store, fmt.Sprint("b", backupSeq.Add(1)), items); err != nil {
			b.Fatal(err)
		}
	}
	// CPU time is the steadier figure on a loaded machine: this process's
	// (and for BackupRPC, not the plugin process's) user+system time.
	b.ReportMetric(float64((processCPU(b)-cpu0).Milliseconds())/float64(b.N), "cpu-ms/op")
	b.ReportMetric(float64(n), "items/op")
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "items/s")
}

// processCPU returns the user+system CPU time this process has used.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkBackup backs up gen-large.sh's 10 000 items with the built-in
// actions in-process into the filesystem store (what the backup group's
// backup-inproc measures), reporting items/s; for profiles:
//
//	go test -run '^$' -bench 'Backup$' -benchtime 3x -cpuprofile cpu.out ./bench
func BenchmarkBackup(b *testing.B) {
	items := largeItems(b)
	m := manager.New(manager.Options{})
	defer m.Close()
	benchmarkBackup(b, m, items)
}

// BenchmarkBackupRPC is BenchmarkBackup with every action and the store
// served by this test binary as a plugin subprocess (what the backup
// group's backup-rpc measures).
func BenchmarkBackupRPC(b *testing.B) {
	items := largeItems(b)
	dir := b.TempDir()
	if err := bench.LinkBinary(self(b), filepath.Join(dir, "rigging-plugins")); err != nil {
		b.Fatal(err)
	}
	m, err := bench.CatalogManager(context.Background(), dir, "")
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	benchmarkBackup(b, m, items)
}

// BenchmarkBackupFloor is BenchmarkBackup's lower bound (bench.RunFloor):
// the items encoded and written as a tarball into the filesystem store,
// nothing else.
func BenchmarkBackupFloor(b *testing.B) {
	items := largeItems(b)
	m := manager.New(manager.Options{})
	defer m.Close()
	benchmarkRun(b, m, items, bench.RunFloor)
}

var registerOnce sync.Once

// backupSeq numbers the backups of this process, whose names must differ
// in a store that benchmarks share.
var backupSeq atomic.Int64

// BenchmarkBackupWorkers backs up gen-large.sh's 10 000 items with 1 and 2
// item-block workers (backup.Options.Workers): the built-in actions
// in-process ("inproc") and served by this test binary as a plugin
// subprocess ("rpc"), alone and with bench.SleepAction added ("sleep": an
// action that waits 1 ms per item, as one that calls out would). N workers
// should approach N times one worker's items/s where the wait dominates:
//
//	go test -run '^$' -bench BackupWorkers -benchtime 1x -count 5 ./bench
func BenchmarkBackupWorkers(b *testing.B) {
	items := largeItems(b)
	registerOnce.Do(func() { bench.RegisterPlugins(registry.Default) })
	inproc := manager.New(manager.Options{})
	defer inproc.Close()
	b.Setenv(bench.EnvPlugins, "1") // the plugin process serves SleepAction too
	dir := b.TempDir()
	if err := bench.LinkBinary(self(b), filepath.Join(dir, "rigging-plugins")); err != nil {
		b.Fatal(err)
	}
	rpc, err := bench.CatalogManager(context.Background(), dir, "")
	if err != nil {
		b.Fatal(err)
	}
	defer rpc.Close()
	for _, path := range []struct {
		name string
		m    *manager.Manager
	}{{"inproc", inproc}, {"rpc", rpc}} {
		st, err := bench.OpenFilesystem(context.Background(), path.m, b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		store := archive.NewStore(st, "bench", "")
		for _, sleep := range []bool{false, true} {
			for _, workers := range []int{1, 2} {
				name := fmt.Sprintf("%s/workers=%d", path.name, workers)
				if sleep {
					name = fmt.Sprintf("%s-sleep/workers=%d", path.name, workers)
				}
				b.Run(name, func(b *testing.B) {
					benchmarkRunStore(b, path.m, store, items, func(ctx context.Context, m *manager.Manager, store *archive.Store, name string, items []*unstructured.Unstructured) (int64, error) {
						return bench.RunBackupWorkers(ctx, m, store, name, items, workers, sleep)
					})
				})
			}
		}
	}
}
