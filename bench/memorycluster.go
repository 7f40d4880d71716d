package bench

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rigging-dev/rigging/internal/testcluster"
	"github.com/rigging-dev/rigging/manifest"
)

// clusterSeedWorkers is the number of creates MeasureClusterMemory keeps in
// flight while it seeds the test API server.
const clusterSeedWorkers = 8

// MeasureClusterMemory is MeasureMemory with the items in the test API
// server (internal/testcluster: the binaries of $RIGGING_TESTCLUSTER_BIN,
// else bin/testcluster): it starts one server, measures the baseline (a
// backup of the server's own objects), then, from the smallest set to the
// largest, seeds the objects of the set the server does not hold yet (the
// server holds their union: gen-large.sh's smaller sets are the first
// items of its larger ones) and measures `binary backup create --workers
// W`, KUBECONFIG the server's, for each W of workers (0: the default) runs
// times: one row per set and W, named rss-cluster-<items>-w<W>. The server
// and the stores are gone when it returns.
func MeasureClusterMemory(ctx context.Context, binary string, sets []MemorySet, workers []int, runs int) (rows []MemoryRow, err error) {
	if len(workers) == 0 {
		workers = []int{0}
	}
	sets = slices.SortedStableFunc(slices.Values(sets), func(a, b MemorySet) int { return cmp.Compare(a.Items, b.Items) })
	for _, s := range sets {
		if s.Items < 2 {
			return nil, fmt.Errorf("memory: %s: %d items, want at least 2", s.Dir, s.Items)
		}
	}
	r, err := newRSSRunner(binary, runs)
	if err != nil {
		return nil, err
	}
	defer r.close()
	c, err := testcluster.Start(ctx, testcluster.Config{})
	if err != nil {
		return nil, fmt.Errorf("memory: %w", err)
	}
	defer func() {
		if serr := c.Stop(); serr != nil && err == nil {
			err = fmt.Errorf("memory: %w", serr)
		}
	}()
	env := []string{"KUBECONFIG=" + c.Kubeconfig()}
	baseline, _, err := r.median(ctx, env)
	if err != nil {
		return nil, err
	}
	seeded := map[objectKey]bool{}
	for _, s := range sets {
		if err := seedNew(ctx, c, s.Dir, seeded); err != nil {
			return nil, err
		}
		for _, w := range workers {
			var create []string
			if w > 0 {
				create = []string{"--workers", strconv.Itoa(w)}
			}
			peak, args, err := r.median(ctx, env, create...)
			if err != nil {
				return nil, err
			}
			rows = append(rows, r.row(fmt.Sprintf("rss-cluster-%d-w%d", s.Items, w), "cluster", s.Items, w, peak, baseline, args))
		}
	}
	return rows, nil
}

// objectKey names one seeded object.
type objectKey struct{ apiVersion, kind, namespace, name string }

// seedNew creates the objects of the manifests in dir that seeded does not
// hold, and adds them to it.
func seedNew(ctx context.Context, c *testcluster.Cluster, dir string, seeded map[objectKey]bool) error {
	objs, err := manifest.Load(dir)
	if err != nil {
		return fmt.Errorf("memory: seed %s: %w", dir, err)
	}
	fresh := slices.DeleteFunc(objs, func(o *unstructured.Unstructured) bool {
		k := objectKey{o.GetAPIVersion(), o.GetKind(), o.GetNamespace(), o.GetName()}
		if seeded[k] {
			return true
		}
		seeded[k] = true
		return false
	})
	if err := c.SeedConcurrently(ctx, fresh, clusterSeedWorkers); err != nil {
		return fmt.Errorf("memory: seed %s: %w", dir, err)
	}
	return nil
}
