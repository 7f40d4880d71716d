package cluster_test

import (
	"context"
	"fmt"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/archive"
	"github.com/rigging-dev/rigging/archive/archivetest"
	"github.com/rigging-dev/rigging/backup"
	"github.com/rigging-dev/rigging/cluster"
	"github.com/rigging-dev/rigging/internal/testcluster"
	"github.com/rigging-dev/rigging/restore"
)

// benchObjects is the size of the backup BenchmarkRestoreWorkers restores.
const benchObjects = 200

// BenchmarkRestoreWorkers restores a backup of 200 ConfigMaps into the test
// API server, each iteration into a new namespace (every object a create),
// with 1, 2, 4 and 20 workers (4 and 20: cluster.DefaultWorkers at
// --client-qps 100 and 500); restore_workers_speedup is the time with 1
// worker over the time with 2. The client has no rate limit (as
// --client-qps and --client-burst raised far above the rate reached), so
// the bound is the API server and etcd on the machine's cores, which the
// benchmark's process shares with them.
func BenchmarkRestoreWorkers(b *testing.B) {
	c := testcluster.Get(b)
	ctx := context.Background()
	store := archive.NewStore(archivetest.NewMemStore(), "bench", "")
	items := make([]*unstructured.Unstructured, benchObjects)
	for i := range items {
		o := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
			"data": map[string]any{"config.yaml": fmt.Sprintf("replicas: %d\nname: item-%d\n", i%7, i)}}}
		o.SetName(fmt.Sprintf("cm-%03d", i))
		o.SetNamespace("bench")
		o.SetLabels(map[string]string{"app": "bench"})
		items[i] = o
	}
	if _, err := backup.Run(ctx, backup.Options{Name: "bench", Items: items, Store: store}); err != nil {
		b.Fatal(err)
	}
	a, err := cluster.NewApplier(c.Config(), cluster.ApplyOptions{})
	if err != nil {
		b.Fatal(err)
	}
	run := 0
	for _, workers := range []int{1, 2, cluster.DefaultWorkers(100), cluster.DefaultWorkers(500)} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			for b.Loop() {
				run++
				name := fmt.Sprintf("bench-%d-w%d", run, workers)
				sum, err := restore.Run(ctx, restore.Options{
					Name: name, BackupName: "bench", Store: store, Output: restore.NewClusterOutput(a), Workers: workers,
					Spec: rigging.RestoreSpec{NamespaceMapping: map[string]string{"bench": name}}, TempDir: b.TempDir(),
				})
				if err != nil {
					b.Fatal(err)
				}
				if st := sum.Restore.Status; st.Phase != rigging.RestorePhaseCompleted || st.Progress.ItemsRestored != benchObjects+1 {
					b.Fatalf("restore %s: %s, %d items", name, st.Phase, st.Progress.ItemsRestored)
				}
			}
			b.ReportMetric(float64(benchObjects*b.N)/b.Elapsed().Seconds(), "objects/s")
		})
	}
}
