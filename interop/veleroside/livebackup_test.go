package veleroside

import (
	"context"
	"testing"
	"time"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/archive"
	"github.com/rigging-dev/rigging/backup"
	"github.com/rigging-dev/rigging/cluster"
	"github.com/rigging-dev/rigging/internal/testcluster"
	"github.com/rigging-dev/rigging/manager"
)

// TestVeleroReadsBackupOfCluster backs up the test API server (seeded with
// cluster-export, and a Widget of a CRD served in two versions), as `rigging backup create NAME` without --from does,
// with every version of every resource (EnableAPIGroupVersions) and
// without, and reads the bucket with Velero's persistence and archive
// packages, as TestVeleroReadsRiggingBucket reads a backup of manifests.
func TestVeleroReadsBackupOfCluster(t *testing.T) {
	c := testcluster.Get(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := c.Seed(ctx, testcluster.TwoVersions("versions")); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	m := manager.New(manager.Options{})
	defer m.Close()
	store := archive.NewStore(riggingStore(t, root), bucketName, prefix)
	backedUp := map[string]int{}
	for _, tc := range []struct {
		name     string
		spec     rigging.BackupSpec
		features []string
	}{
		{"cluster", rigging.BackupSpec{}, nil},
		{"cluster-shop", rigging.BackupSpec{IncludedNamespaces: []string{"shop"}}, nil},
		{"cluster-all-versions", rigging.BackupSpec{}, []string{backup.FeatureAPIGroupVersions}},
	} {
		l, err := cluster.NewLookup(c.Config(), cluster.LookupOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var opts cluster.CollectOptions
		opts.Namespaces = tc.spec.IncludedNamespaces
		items, warnings, err := l.Collect(ctx, opts)
		if err != nil || len(warnings) > 0 {
			t.Fatalf("collect %s: %v %v", tc.name, warnings, err)
		}
		sum, err := backup.Run(ctx, backup.Options{
			Name: tc.name, Items: items, Lookup: l, Spec: tc.spec, Store: store, Plugins: m, Features: tc.features,
			Labels: map[string]string{"team": "interop"}, OperationPollInterval: 10 * time.Millisecond,
		})
		if err != nil {
			t.Fatalf("rigging backup %s: %v", tc.name, err)
		}
		if sum.Backup.Status.Phase != rigging.BackupPhaseCompleted {
			t.Fatalf("rigging backup %s: phase %s, results %+v", tc.name, sum.Backup.Status.Phase, sum.Results)
		}
		backedUp[tc.name] = sum.Backup.Status.Progress.ItemsBackedUp
		bs := veleroBackupStore(t, root)
		t.Run(tc.name, func(t *testing.T) { checkVeleroReads(t, bs, tc.name, sum) })
	}
	// Widgets are served in two versions: w1 is there twice.
	if backedUp["cluster-all-versions"] <= backedUp["cluster"] {
		t.Errorf("items backed up: %v; want more in every version than in the preferred ones", backedUp)
	}
}
