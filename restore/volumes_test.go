package restore_test

import (
	"context"
	"io"
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/archive"
	"github.com/rigging-dev/rigging/restore"
)

const boundPV = `
apiVersion: v1
kind: PersistentVolume
metadata:
  name: pv-data
  annotations:
    pv.kubernetes.io/bound-by-controller: "yes"
    pv.kubernetes.io/provisioned-by: nfs.csi.k8s.io
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: POLICY
  nfs: {server: nfs.example.com, path: /exports/data}
  claimRef:
    apiVersion: v1
    kind: PersistentVolumeClaim
    namespace: shop
    name: data
    uid: 5f0c3a2e-0000-4000-8000-000000000001
    resourceVersion: "4711"
status: {phase: Bound}
`

const boundPVC = `
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: data
  namespace: shop
  annotations:
    pv.kubernetes.io/bind-completed: "yes"
    pv.kubernetes.io/bound-by-controller: "yes"
    team: storage
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
  volumeName: pv-data
status: {phase: Bound}
`

func decodeYAML(t *testing.T, s string) *unstructured.Unstructured {
	t.Helper()
	var m map[string]any
	if err := yaml.Unmarshal([]byte(s), &m); err != nil {
		t.Fatal(err)
	}
	return &unstructured.Unstructured{Object: m}
}

// putSidecar replaces a JSON sidecar of backup b1.
func putSidecar(t *testing.T, store *archive.Store, f archive.BackupFile, v any) {
	t.Helper()
	if err := store.Put(context.Background(), store.Layout.BackupKey("b1", f), func(w io.Writer) error { return archive.WriteJSONGzip(w, v) }); err != nil {
		t.Fatal(err)
	}
}

// TestPersistentVolumeBinding follows each branch of Velero v1.18's
// restore of a PersistentVolume and of the claim bound to it: which volumes
// are restored (binding reset, claim namespace mapped) and which are
// provisioned again (not restored; the claim loses spec.volumeName).
func TestPersistentVolumeBinding(t *testing.T) {
	type sidecar struct {
		file archive.BackupFile
		v    any
	}
	volumeInfo := func(method string) sidecar {
		return sidecar{archive.BackupVolumeInfo, []map[string]any{{"pvcName": "data", "pvcNamespace": "shop", "pvName": "pv-data", "backupMethod": method, "skipped": method == ""}}}
	}
	pvb := func(phase string) sidecar {
		return sidecar{archive.BackupPodVolumeBackups, []map[string]any{{
			"metadata": map[string]any{"name": "pvb-1", "namespace": "velero", "annotations": map[string]any{"velero.io/pvc-name": "data"}},
			"spec":     map[string]any{"pod": map[string]any{"namespace": "shop", "name": "db-0"}, "volume": "data"},
			"status":   map[string]any{"phase": phase, "snapshotID": "abc123"},
		}}}
	}
	f := false
	for _, tc := range []struct {
		name       string
		policy     string
		sidecars   []sidecar
		mapping    map[string]string
		restorePVs *bool
		restored   bool   // the volume is restored (else provisioned again)
		reason     string // why it is not, in the summary
		warning    bool
	}{
		{name: "retain, no snapshot", policy: "Retain", restored: true},
		{name: "retain, no snapshot, namespace mapped", policy: "Retain", mapping: map[string]string{"shop": "shop-copy"}, restored: true},
		{name: "recycle, no snapshot", policy: "Recycle", restored: true},
		{name: "delete, no snapshot", policy: "Delete", reason: "provisioned again: no snapshot and reclaim policy Delete"},
		{name: "volume info: native snapshot", policy: "Delete", sidecars: []sidecar{volumeInfo("NativeSnapshot")}, mapping: map[string]string{"shop": "shop-copy"}, restored: true, warning: true},
		{name: "volume info: native snapshot, restorePVs false", policy: "Delete", sidecars: []sidecar{volumeInfo("NativeSnapshot")}, restorePVs: &f, restored: true},
		{name: "volume info: pod volume backup", policy: "Retain", sidecars: []sidecar{volumeInfo("PodVolumeBackup")}, reason: "provisioned again: its data is in a pod volume backup"},
		{name: "volume info: CSI snapshot", policy: "Retain", sidecars: []sidecar{volumeInfo("CSISnapshot")}, reason: "provisioned again: its data is in a CSI snapshot"},
		{name: "volume info: data skipped, retain", policy: "Retain", sidecars: []sidecar{volumeInfo("")}, restored: true},
		{name: "volume info: data skipped, delete", policy: "Delete", sidecars: []sidecar{volumeInfo("")}, reason: "provisioned again: no snapshot and reclaim policy Delete"},
		{name: "volume info wins over the legacy files", policy: "Retain", sidecars: []sidecar{volumeInfo(""), pvb("Completed")}, restored: true},
		{name: "legacy: native snapshot", policy: "Delete", sidecars: []sidecar{{archive.BackupVolumeSnapshots, []map[string]any{{"spec": map[string]any{"persistentVolumeName": "pv-data", "location": "default"}}}}}, restored: true, warning: true},
		{name: "legacy: completed pod volume backup", policy: "Retain", sidecars: []sidecar{pvb("Completed")}, reason: "provisioned again: its data is in a pod volume backup"},
		{name: "legacy: failed pod volume backup", policy: "Retain", sidecars: []sidecar{pvb("Failed")}, restored: true},
		{name: "legacy: CSI VolumeSnapshot", policy: "Retain", sidecars: []sidecar{{archive.BackupCSIVolumeSnapshots, []map[string]any{{"metadata": map[string]any{"name": "vs-1", "namespace": "shop"}, "spec": map[string]any{"source": map[string]any{"persistentVolumeClaimName": "data"}}}}}}, reason: "provisioned again: its data is in a CSI snapshot"},
		{name: "legacy: CSI VolumeSnapshot of another claim", policy: "Retain", sidecars: []sidecar{{archive.BackupCSIVolumeSnapshots, []map[string]any{{"metadata": map[string]any{"name": "vs-1", "namespace": "other"}, "spec": map[string]any{"source": map[string]any{"persistentVolumeClaimName": "data"}}}}}}, restored: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pv := decodeYAML(t, strings.Replace(boundPV, "POLICY", tc.policy, 1))
			store := backupOf(t, []*unstructured.Unstructured{pv, decodeYAML(t, boundPVC)}, nil)
			for _, s := range tc.sidecars {
				putSidecar(t, store, s.file, s.v)
			}
			out, sum := runRestore(t, store, restore.Options{Spec: rigging.RestoreSpec{NamespaceMapping: tc.mapping, RestorePVs: tc.restorePVs}})
			claimNS := "shop"
			if tc.mapping != nil {
				claimNS = tc.mapping["shop"]
			}
			gotPV := out.find("PersistentVolume", "", "pv-data")
			pvc := out.find("PersistentVolumeClaim", claimNS, "data")
			if pvc == nil {
				t.Fatalf("claim not restored in %s", claimNS)
			}
			if ann := pvc.GetAnnotations(); !reflect.DeepEqual(ann, map[string]string{"team": "storage"}) {
				t.Errorf("claim annotations %v, want only team", ann)
			}
			volumeName, _, _ := unstructured.NestedString(pvc.Object, "spec", "volumeName")
			if gotWarn := sum.Restore.Status.Warnings > 0; gotWarn != tc.warning {
				t.Errorf("warnings %+v, want a warning: %t", sum.Results.Warnings, tc.warning)
			}
			if !tc.restored {
				if gotPV != nil {
					t.Errorf("volume restored, want it provisioned again")
				}
				if volumeName != "" {
					t.Errorf("claim keeps spec.volumeName %q", volumeName)
				}
				want := []restore.NotRestored{{Resource: "persistentvolumes", Reason: tc.reason, Count: 1}}
				if !reflect.DeepEqual(sum.NotRestored, want) {
					t.Errorf("not restored %+v, want %+v", sum.NotRestored, want)
				}
				return
			}
			if gotPV == nil {
				t.Fatal("volume not restored")
			}
			if volumeName != "pv-data" {
				t.Errorf("claim spec.volumeName %q, want pv-data", volumeName)
			}
			wantRef := map[string]any{"apiVersion": "v1", "kind": "PersistentVolumeClaim", "namespace": claimNS, "name": "data"}
			if ref, _, _ := unstructured.NestedMap(gotPV.Object, "spec", "claimRef"); !reflect.DeepEqual(ref, wantRef) {
				t.Errorf("claimRef %v, want %v", ref, wantRef)
			}
			if ann := gotPV.GetAnnotations(); !reflect.DeepEqual(ann, map[string]string{"pv.kubernetes.io/provisioned-by": "nfs.csi.k8s.io"}) {
				t.Errorf("volume annotations %v", ann)
			}
			if len(sum.NotRestored) != 0 {
				t.Errorf("not restored %+v", sum.NotRestored)
			}
		})
	}
}

// TestPersistentVolumeWithoutClaim: an unclaimed volume is restored as it
// is (namespace mappings have nothing to move), its annotations reset.
func TestPersistentVolumeWithoutClaim(t *testing.T) {
	pv := decodeYAML(t, strings.Replace(boundPV, "POLICY", "Retain", 1))
	unstructured.RemoveNestedField(pv.Object, "spec", "claimRef")
	store := backupOf(t, []*unstructured.Unstructured{pv}, nil)
	out, _ := runRestore(t, store, restore.Options{Spec: rigging.RestoreSpec{NamespaceMapping: map[string]string{"shop": "shop-copy"}}})
	got := out.find("PersistentVolume", "", "pv-data")
	if got == nil {
		t.Fatal("volume not restored")
	}
	if _, ok, _ := unstructured.NestedFieldNoCopy(got.Object, "spec", "claimRef"); ok {
		t.Error("claimRef appeared")
	}
	if _, ok := got.GetAnnotations()["pv.kubernetes.io/bound-by-controller"]; ok {
		t.Error("bound-by-controller kept")
	}
}

// TestPersistentVolumeBadClaimRef: a claimRef that is not an object fails
// the volume, recorded as an error, and the restore goes on.
func TestPersistentVolumeBadClaimRef(t *testing.T) {
	pv := decodeYAML(t, strings.Replace(boundPV, "POLICY", "Retain", 1))
	pv.Object["spec"].(map[string]any)["claimRef"] = "shop/data"
	store := backupOf(t, []*unstructured.Unstructured{pv, decodeYAML(t, boundPVC)}, nil)
	out, sum := runRestore(t, store, restore.Options{})
	if out.find("PersistentVolume", "", "pv-data") != nil || sum.Restore.Status.Phase != rigging.RestorePhasePartiallyFailed {
		t.Errorf("phase %s, volume restored: %t", sum.Restore.Status.Phase, out.find("PersistentVolume", "", "pv-data") != nil)
	}
	if !strings.Contains(strings.Join(sum.Results.Errors.Cluster, "\n"), "spec.claimRef") {
		t.Errorf("errors %+v", sum.Results.Errors)
	}
	want := []restore.NotRestored{{Resource: "persistentvolumes", Reason: restore.ReasonFailed, Count: 1}}
	if !reflect.DeepEqual(sum.NotRestored, want) {
		t.Errorf("not restored %+v", sum.NotRestored)
	}
}
