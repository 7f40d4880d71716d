package cli

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/rigging-dev/rigging/internal/testcluster"
	"github.com/rigging-dev/rigging/manifest"
)

// benchItems is how many objects BenchmarkBackupCreateLarge seeds:
// gen-large.sh's mix (ConfigMaps, claims, volumes, pods) in 20 namespaces.
const benchItems = 10000

// largeSeed generates benchItems objects with gen-large.sh into a
// directory and seeds them into the package's test API server, once per
// test binary; it returns the directory.
var largeSeed = sync.OnceValues(func() (string, error) {
	root, err := testcluster.RepoRoot()
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "rigging-bench-large")
	if err != nil {
		return "", err
	}
	testBinMu.Lock()
	testBinDirs = append(testBinDirs, dir) // removed by TestMain
	testBinMu.Unlock()
	gen := exec.Command("bash", filepath.Join(root, "testdata/manifests/gen-large.sh"), "-n", strconv.Itoa(benchItems), "-s", "20", dir)
	if out, err := gen.CombinedOutput(); err != nil {
		return "", fmt.Errorf("gen-large.sh: %w\n%s", err, out)
	}
	return dir, nil
})

// BenchmarkBackupCreateLarge: `rigging backup create` (the binary) of the
// 10 000 objects of gen-large.sh, from the test API server (seeded with
// them) and from the same generated manifests (--from), side by side.
// Metrics per run: items/s, the process's peak RSS (MB), and, from the
// cluster, API requests per item (counted by a round-tripper, in one run
// through a counting proxy before the timed ones).
//
//	RIGGING_TESTCLUSTER_BIN=... go test -run '^$' -bench BackupCreateLarge -benchtime 3x -timeout 30m ./cmd/rigging/cli/
func BenchmarkBackupCreateLarge(b *testing.B) {
	c := testcluster.Get(b)
	dir, err := largeSeed()
	if err != nil {
		b.Fatal(err)
	}
	bin, err := riggingBin()
	if err != nil {
		b.Fatal(err)
	}
	seedOnce.Do(func() {
		objs, err := manifest.Load(dir)
		if err != nil {
			seedErr = err
			return
		}
		start := time.Now()
		seedErr = c.SeedConcurrently(context.Background(), objs, 8)
		b.Logf("seeded %d objects in %s", len(objs), time.Since(start).Round(time.Millisecond))
	})
	if seedErr != nil {
		b.Fatal(seedErr)
	}
	for _, path := range []struct {
		name string
		args []string
	}{
		{"from-cluster", []string{"--kubeconfig", c.Kubeconfig()}},
		{"from-manifests", []string{"--from", dir}},
	} {
		b.Run(path.name, func(b *testing.B) {
			home := b.TempDir()
			run := func(name string, args []string) (items int, rss float64) {
				cmd := exec.Command(bin, append([]string{"--log-level", "warn", "backup", "create", name, "--include-namespaces", "perf-*", "--no-progress"}, args...)...)
				cmd.Env = binEnv(b.TempDir(), home)
				out, err := cmd.CombinedOutput()
				if err != nil {
					b.Fatalf("rigging backup create: %v\n%s", err, out)
				}
				m := summaryItems.FindSubmatch(out)
				if m == nil {
					b.Fatalf("no summary in\n%s", out)
				}
				items, _ = strconv.Atoi(string(m[1]))
				ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
				return items, float64(ru.Maxrss) / 1024 // KiB on Linux
			}
			perItem := -1.0
			if path.name == "from-cluster" {
				var requests atomic.Int64
				_, kc := c.FaultProxy(b, func(*http.Request, int) (int, http.Header, string, bool) {
					requests.Add(1)
					return 0, nil, "", false
				})
				items, _ := run("counted", []string{"--kubeconfig", kc})
				perItem = float64(requests.Load()) / float64(items)
			}
			var (
				total int
				peak  float64
			)
			b.ResetTimer()
			for i := range b.N {
				items, rss := run(fmt.Sprintf("b%d", i), path.args)
				total += items
				peak = max(peak, rss)
			}
			b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "items/s")
			b.ReportMetric(peak, "peak-RSS-MB")
			if perItem >= 0 { // ResetTimer drops metrics reported before it
				b.ReportMetric(perItem, "requests/item")
			}
		})
	}
}

var (
	seedOnce sync.Once
	seedErr  error
)

// summaryItems finds the item count in backup create's summary line.
var summaryItems = regexp.MustCompile(`Backup \S+: \w+\. (\d+) items,`)
