package cli

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/dynamic"

	"github.com/rigging-dev/rigging/internal/testcluster"
	"github.com/rigging-dev/rigging/manifest"
)

// roundTripItems is how many of gen-large.sh's objects
// TestRestoreToClusterLarge seeds: 2 000, or benchItems (10 000, issue 12
// §5's size) with RIGGING_LARGE=1.
func roundTripItems() int {
	if os.Getenv("RIGGING_LARGE") == "1" {
		return benchItems
	}
	return 2000
}

// TestRestoreToClusterLarge (issue 12 §5): gen-large.sh's objects in its 20
// namespaces perf-NN, seeded into the test API server, backed up from it
// (perf-*), restored --to-cluster into mapped namespaces rt-perf-NN with
// raised --client-qps/--client-burst and --workers: the restore has no
// error, and every namespaced object and namespace is in the cluster as the
// same restore writes it to manifests (checkRestored: spec and data, labels,
// annotations; server-set metadata and status aside). The volumes are
// cluster-scoped objects that exist already (skipped with a warning), as in
// TestRestoreToClusterRoundTrip. The objects are gen-large.sh's first ones
// whatever the size, so BenchmarkBackupCreateLarge's seeding of the same
// namespaces in the same binary only adds to them.
func TestRestoreToClusterLarge(t *testing.T) {
	c := testcluster.Get(t)
	n := roundTripItems()
	root, err := testcluster.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if out, err := exec.Command("bash", filepath.Join(root, "testdata/manifests/gen-large.sh"), "-n", strconv.Itoa(n), "-s", "20", dir).CombinedOutput(); err != nil {
		t.Fatalf("gen-large.sh: %v\n%s", err, out)
	}
	objs, err := manifest.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := c.SeedConcurrently(context.Background(), objs, 8); err != nil {
		t.Fatal(err)
	}
	t.Logf("seeded %d objects in %s", len(objs), time.Since(start).Round(time.Millisecond))

	home := t.TempDir()
	t.Setenv("RIGGING_HOME", home)
	t.Setenv("KUBECONFIG", c.Kubeconfig())
	// The backup by the binary: this test binary registers a
	// BackupItemAction failing every pod (failing_test.go).
	bin, err := riggingBin()
	if err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	cmd := exec.Command(bin, "backup", "create", "large", "--include-namespaces", "perf-*", "--no-progress")
	cmd.Env = binEnv(t.TempDir(), home)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Backup large: Completed.") || !strings.Contains(string(out), " 0 errors") {
		t.Fatalf("backup create: %v\n%s\n%s", err, out, runOK(t, "", "backup", "describe", "large", "--details"))
	}
	t.Logf("backup create: %s", time.Since(start).Round(time.Millisecond))
	pairs := make([]string, 20)
	for i := range pairs {
		pairs[i] = fmt.Sprintf("perf-%02d:rt-perf-%02d", i, i)
	}
	mapping := []string{"--namespace-mappings", strings.Join(pairs, ",")}
	want := dryRun(t, "large-dry", "large", mapping...)

	start = time.Now()
	live := runOK(t, "", append([]string{"restore", "create", "large-live", "--from-backup", "large", "--to-cluster", "--no-progress",
		"--workers", "8", "--client-qps", "1000", "--client-burst", "2000"}, mapping...)...)
	if !strings.Contains(live, "Restore large-live of backup large: Completed.") || !strings.Contains(live, " 0 errors") {
		t.Fatalf("restore create:\n%s", live)
	}
	t.Logf("restore create --to-cluster: %s", time.Since(start).Round(time.Millisecond))

	cfg := c.Config()
	cfg.QPS = -1 // no client-side throttling of the comparison's reads
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg      sync.WaitGroup
		checks  = make(chan dryRunObject)
		checked int
	)
	for range 8 {
		wg.Go(func() {
			for w := range checks {
				checkRestored(t, dyn, w, "large-live")
			}
		})
	}
	for _, w := range want {
		if w.obj.GetNamespace() == "" && w.gvr.Resource != "namespaces" {
			continue // a volume of the originals, left as it is
		}
		checks <- w
		checked++
	}
	close(checks)
	wg.Wait()
	if min := n - n/4; checked < min { // all but the volumes
		t.Errorf("%d objects compared, want at least %d", checked, min)
	}
}
