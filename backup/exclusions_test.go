package backup_test

import (
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/archive"
	"github.com/rigging-dev/rigging/backup"
)

// TestVeleroExclusions: what Velero's backup controller keeps out of every
// backup: VolumeSnapshots and VolumeSnapshotContents (collected never, as
// additional items only when the action says they must be included), and
// the namespaces labelled velero.io/exclude-from-backup=true (added to the
// spec's excluded namespaces, so that the backup is no longer one of the
// whole cluster, as in Velero). Without such a namespace, cluster-scoped
// resources stay in a backup without filters.
func TestVeleroExclusions(t *testing.T) {
	vscID := rigging.ResourceIdentifier{GroupResource: schemaGR("snapshot.storage.k8s.io", "volumesnapshotcontents"), Name: "vsc"}
	items := []*unstructured.Unstructured{
		obj("v1", "Namespace", "", "app", nil),
		obj("v1", "ConfigMap", "app", "cm", nil),
		obj("snapshot.storage.k8s.io/v1", "VolumeSnapshot", "app", "vs", nil),
		obj("snapshot.storage.k8s.io/v1", "VolumeSnapshotContent", "", "vsc", nil),
		obj("storage.k8s.io/v1", "StorageClass", "", "gp2", nil),
	}
	quiet := append(slices.Clone(items),
		obj("v1", "Namespace", "", "quiet", map[string]string{rigging.LabelExcludeFromBackup: "true"}),
		obj("v1", "ConfigMap", "quiet", "cm", nil))
	base := []string{"configmaps/app/cm", "namespaces//app", "storageclasses.storage.k8s.io//gp2"}
	vsc := "volumesnapshotcontents.snapshot.storage.k8s.io//vsc"
	for _, tc := range []struct {
		name        string
		items       []*unstructured.Unstructured
		annotations map[string]string // on the item the action returns; nil: no action
		want        []string
		excludedNS  []string
	}{
		{"collected", items, nil, base, nil},
		{"additional item", items, map[string]string{}, base, nil},
		{"additional item it must include", items, map[string]string{rigging.AnnotationBackupMustIncludeAdditionalItems: "true"},
			append(slices.Clone(base), vsc), nil},
		{"labelled namespace", quiet, nil, []string{"configmaps/app/cm", "namespaces//app"}, []string{"quiet"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := backup.Options{Items: tc.items}
			if tc.annotations != nil {
				act := &fakeAction{name: "a.example.com/adds-vsc", sel: rigging.ResourceSelector{IncludedResources: []string{"configmaps"}},
					exec: func(item *unstructured.Unstructured) (*unstructured.Unstructured, []rigging.ResourceIdentifier, string, []rigging.ResourceIdentifier, error) {
						out := item.DeepCopy()
						out.SetAnnotations(tc.annotations)
						return out, []rigging.ResourceIdentifier{vscID}, "", nil, nil
					}}
				opts.Plugins = plugins{act}
			}
			s, sum, err := run(t, opts)
			if err != nil {
				t.Fatal(err)
			}
			checkItems(t, s, tc.want)
			if ex := sum.Backup.Spec.ExcludedNamespaces; !slices.Equal(ex, tc.excludedNS) {
				t.Errorf("spec.excludedNamespaces = %v, want %v", ex, tc.excludedNS)
			}
		})
	}
}

// checkItems checks that backup b1 of s holds the items want ("gr/ns/name",
// sorted), and no others.
func checkItems(t *testing.T, s *archive.Store, want []string) {
	t.Helper()
	got := itemSet(contents(t, s, "b1"))
	slices.Sort(got)
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("items\n got %v\nwant %v", got, want)
	}
}
