package backup_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"testing"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/archive"
	"github.com/rigging-dev/rigging/backup"
	"github.com/rigging-dev/rigging/manager"

	_ "github.com/rigging-dev/rigging/builtin/crd"
	_ "github.com/rigging-dev/rigging/builtin/pod"
	_ "github.com/rigging-dev/rigging/builtin/pv"
	_ "github.com/rigging-dev/rigging/builtin/pvc"
	_ "github.com/rigging-dev/rigging/builtin/serviceaccount"
)

func builtins(t testing.TB) *manager.Manager {
	m := manager.New(manager.Options{Logger: slog.New(slog.DiscardHandler)})
	t.Cleanup(func() { _ = m.Close() })
	return m
}

// TestClusterExportWholeCluster backs up every object of the cluster-export
// scenario with the built-in actions, but for its VolumeSnapshot and
// VolumeSnapshotContent, which Velero keeps out of every backup.
func TestClusterExportWholeCluster(t *testing.T) {
	items := clusterExport(t)
	s, sum, err := run(t, backup.Options{Items: items, Plugins: builtins(t)})
	if err != nil {
		t.Fatal(err)
	}
	st := sum.Backup.Status
	if st.Phase != rigging.BackupPhaseCompleted || st.Errors != 0 {
		t.Fatalf("phase %s errors %d: %+v", st.Phase, st.Errors, sum.Results.Errors)
	}
	if st.Progress.ItemsBackedUp != 129 {
		t.Errorf("items backed up %d, want the 131 objects of the export less its 2 snapshot objects", st.Progress.ItemsBackedUp)
	}
	c := contents(t, s, "b1")
	if c.Len() != 129 {
		t.Errorf("tarball holds %d items", c.Len())
	}
	for _, gr := range c.Resources() {
		if dirs := c.VersionDirs(gr); len(dirs) != 1 || !slices.Contains([]string{"v1-preferredversion", "v2-preferredversion"}, dirs[0]) {
			t.Errorf("%s: version folders %v", gr, dirs)
		}
	}
}

// TestClusterExportNamespace backs up namespace shop and checks what the
// built-in actions pull in, from the scenario's README: the volumes bound to
// the claims, the service account's ClusterRoleBinding and ClusterRole, the
// pod's PriorityClass, the FeatureFlag CRD, and nothing else cluster-scoped.
func TestClusterExportNamespace(t *testing.T) {
	s, sum, err := run(t, backup.Options{Items: clusterExport(t), Plugins: builtins(t),
		Spec: rigging.BackupSpec{IncludedNamespaces: []string{"shop"}}})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Backup.Status.Errors != 0 {
		t.Fatalf("errors: %+v", sum.Results.Errors)
	}
	c := contents(t, s, "b1")
	has := func(gr, ns, name string) bool { return c.Get(gr, ns, name) != nil }
	for _, want := range [][3]string{
		{"namespaces", "", "shop"},
		{"persistentvolumes", "", "pvc-ed173a47-6f0a-45a4-831a-17d847759f56"},
		{"persistentvolumes", "", "pvc-fdaa0c8d-a004-43bb-8405-675f02589234"},
		{"persistentvolumes", "", "shop-assets-nfs"},
		{"clusterrolebindings.rbac.authorization.k8s.io", "", "storefront-node-reader"},
		{"clusterroles.rbac.authorization.k8s.io", "", "node-reader"},
		{"priorityclasses.scheduling.k8s.io", "", "shop-critical"},
		{"customresourcedefinitions.apiextensions.k8s.io", "", "featureflags.shop.example.com"},
		{"featureflags.shop.example.com", "shop", "dark-mode"},
		{"persistentvolumeclaims", "shop", "data-postgres-0"},
		{"pods", "shop", "postgres-0"},
	} {
		if !has(want[0], want[1], want[2]) {
			t.Errorf("missing %v", want)
		}
	}
	for _, notWant := range [][3]string{
		{"namespaces", "", "kube-system"},
		{"namespaces", "", "monitoring"},
		{"nodes", "", "ip-10-0-1-23.eu-west-1.compute.internal"},
		{"clusterrolebindings.rbac.authorization.k8s.io", "", "system:coredns"},
		{"persistentvolumes", "", "pvc-6799d81d-c5fd-4290-b3ba-9ca9c35cdfcf"}, // monitoring's
		{"storageclasses.storage.k8s.io", "", "gp2"},
		{"volumesnapshots.snapshot.storage.k8s.io", "shop", "data-postgres-0-snap-20240313"}, // Velero excludes snapshots
	} {
		if has(notWant[0], notWant[1], notWant[2]) {
			t.Errorf("unexpected %v", notWant)
		}
	}
	for _, ns := range c.Namespaces("pods") {
		if ns != "shop" {
			t.Errorf("pods of namespace %q backed up", ns)
		}
	}
	// Items keep their status and identity.
	var pvc map[string]any
	if err := json.Unmarshal(c.Get("persistentvolumeclaims", "shop", "data-postgres-0").Data, &pvc); err != nil {
		t.Fatal(err)
	}
	if pvc["status"].(map[string]any)["phase"] != "Bound" || pvc["kind"] != "PersistentVolumeClaim" {
		t.Errorf("claim stored as %v", pvc)
	}
	var list map[string][]string
	if err := s.ReadBackupJSON(context.Background(), "b1", archive.BackupResourceList, &list); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(list["v1/PersistentVolume"], "shop-assets-nfs") || !slices.Contains(list["v1/Pod"], "shop/postgres-0") {
		t.Errorf("resource list %v", list)
	}
}
