package csi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	"github.com/kubernetes-csi/external-snapshotter/client/v8/clientset/versioned"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/builtin/internal/testmanifest"
)

// The tests in this file check that every item the CSI actions change comes
// back as Velero v1.18.3's counterpart returns it, through a typed round
// trip (runtime.DefaultUnstructuredConverter): explicit zero values with
// omitempty, empty lists and maps and undeclared fields are dropped, fields
// without omitempty are written at their zero value (a content's
// sourceVolumeMode: null, a restored claim's status: {}), quantities are
// canonical. Items Velero returns as they are come back as they are (the
// same pointer).

// asIs marks a case whose item must come back unchanged.
const asIs = "as is"

// checkItem compares out with want, a JSON document or asIs.
func checkItem(t *testing.T, in, out *unstructured.Unstructured, want string) {
	t.Helper()
	if want == asIs {
		if out != in {
			b, _ := json.Marshal(out.Object)
			t.Errorf("item changed to %s, want it as it is", b)
		}
		return
	}
	got, err := json.Marshal(out.Object)
	if err != nil {
		t.Fatal(err)
	}
	var w any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("want: %v", err)
	}
	canon, _ := json.Marshal(w)
	if string(got) != string(canon) {
		t.Errorf("item\n got %s\nwant %s", got, canon)
	}
}

// zeroClaim is a bound claim with explicit zero values, empty collections
// and a field the typed claim does not declare.
func zeroClaim(t testing.TB, volume string, annotations string) *unstructured.Unstructured {
	return testmanifest.FromYAML(t, `
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: hpvc
  namespace: default
  labels: {}
  annotations: {`+annotations+`}
  finalizers: []
spec:
  accessModes: []
  storageClassName: csi-hostpath-sc
  volumeName: `+volume+`
  volumeMode: ""
  resources: {requests: {storage: 1024Mi}, limits: {}}
  selector: {matchLabels: {}}
  dataSource: {apiGroup: snapshot.storage.k8s.io, kind: VolumeSnapshot, name: old}
  unknownField: dropped
status: {phase: Bound, conditions: [], capacity: {}}
`)
}

func TestPVCBackupperTypedRoundTrip(t *testing.T) {
	s := loadScenario(t)
	hostpathClass := typed[snapshotv1.VolumeSnapshotClass](t, s.find(t, "VolumeSnapshotClass", "", "csi-hostpath-snapclass-v1"))
	nfsPV := testmanifest.FromYAML(t, `
apiVersion: v1
kind: PersistentVolume
metadata: {name: pv-nfs}
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteMany]
  storageClassName: csi-hostpath-sc
  claimRef: {kind: PersistentVolumeClaim, namespace: default, name: hpvc}
  nfs: {server: nfs.example, path: /exports/a}
`)
	f := false
	tests := []struct {
		name   string
		item   *unstructured.Unstructured
		backup func(*rigging.Backup)
		want   string
	}{
		{
			name: "snapshotted: request raised, labels and annotations added",
			item: zeroClaim(t, "pvc-1f0e9a4c", ""),
			want: `{"apiVersion":"v1","kind":"PersistentVolumeClaim",
"metadata":{"name":"hpvc","namespace":"default",
 "labels":{"velero.io/backup-name":"nightly-20240314","velero.io/volume-snapshot-name":"velero-hpvc-ax7k2q"},
 "annotations":{"backup.velero.io/must-include-additional-items":"true","velero.io/volume-snapshot-name":"velero-hpvc-ax7k2q"}},
"spec":{"storageClassName":"csi-hostpath-sc","volumeName":"pvc-1f0e9a4c","volumeMode":"",
 "resources":{"requests":{"storage":"2Gi"}},"selector":{},
 "dataSource":{"apiGroup":"snapshot.storage.k8s.io","kind":"VolumeSnapshot","name":"old"}},
"status":{"phase":"Bound"}}`,
		},
		{
			name: "volume not CSI: skip annotation added",
			item: zeroClaim(t, "pv-nfs", `keep: ""`),
			want: `{"apiVersion":"v1","kind":"PersistentVolumeClaim",
"metadata":{"name":"hpvc","namespace":"default",
 "annotations":{"backup.velero.io/skipped-no-csi-pv":"true","keep":""}},
"spec":{"storageClassName":"csi-hostpath-sc","volumeName":"pv-nfs","volumeMode":"",
 "resources":{"requests":{"storage":"1Gi"}},"selector":{},
 "dataSource":{"apiGroup":"snapshot.storage.k8s.io","kind":"VolumeSnapshot","name":"old"}},
"status":{"phase":"Bound"}}`,
		},
		{
			name:   "snapshotVolumes=false",
			item:   zeroClaim(t, "pvc-1f0e9a4c", ""),
			backup: func(b *rigging.Backup) { b.Spec.SnapshotVolumes = &f },
			want:   asIs,
		},
		{
			name:   "finalizing",
			item:   zeroClaim(t, "pvc-1f0e9a4c", ""),
			backup: func(b *rigging.Backup) { b.Status.Phase = rigging.BackupPhaseFinalizing },
			want:   asIs,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newFake(hostpathClass)
			controller{driver: "hostpath.csi.k8s.io", handleAfter: 1, restoreSize: 2 << 30}.install(t, c)
			a := &pvcBackupper{base: newBase(PVCBackupperName, nil), pollInterval: time.Millisecond}
			a.clients = factory(c)
			backup := &rigging.Backup{ObjectMeta: metav1.ObjectMeta{Name: "nightly-20240314", Namespace: "velero"}}
			if tt.backup != nil {
				tt.backup(backup)
			}
			out, _, _, _, err := a.Execute(s.ctx(hostpathPV(t), nfsPV), tt.item, backup)
			if err != nil {
				t.Fatal(err)
			}
			checkItem(t, tt.item, out, tt.want)
		})
	}
}

func TestVolumeSnapshotBackupperTypedRoundTrip(t *testing.T) {
	vs := testmanifest.FromYAML(t, `
apiVersion: snapshot.storage.k8s.io/v1
kind: VolumeSnapshot
metadata: {name: snap, namespace: shop, labels: {}, finalizers: []}
spec:
  source: {persistentVolumeClaimName: data, volumeSnapshotContentName: null}
  volumeSnapshotClassName: ""
  unknownField: dropped
status: {boundVolumeSnapshotContentName: content-1, readyToUse: false, restoreSize: 1024Mi}
`)
	vsc := testmanifest.FromYAML(t, `
apiVersion: snapshot.storage.k8s.io/v1
kind: VolumeSnapshotContent
metadata: {name: content-1}
spec:
  deletionPolicy: Delete
  driver: ebs.csi.aws.com
  source: {volumeHandle: vol-1}
  volumeSnapshotRef: {namespace: shop, name: snap}
status: {snapshotHandle: snap-1}
`)
	tests := []struct {
		name   string
		backup *rigging.Backup
		want   string
	}{
		{
			name:   "annotated",
			backup: &rigging.Backup{ObjectMeta: metav1.ObjectMeta{Name: "nightly"}},
			want: `{"apiVersion":"snapshot.storage.k8s.io/v1","kind":"VolumeSnapshot",
"metadata":{"name":"snap","namespace":"shop",
 "annotations":{"backup.velero.io/must-include-additional-items":"true","velero.io/csi-driver-name":"ebs.csi.aws.com",
  "velero.io/csi-volumesnapshot-handle":"snap-1","velero.io/csi-vsc-deletion-policy":"Delete"}},
"spec":{"source":{"persistentVolumeClaimName":"data"},"volumeSnapshotClassName":""},
"status":{"boundVolumeSnapshotContentName":"content-1","readyToUse":false,"restoreSize":"1Gi"}}`,
		},
		{
			name:   "finalizing",
			backup: &rigging.Backup{Status: rigging.BackupStatus{Phase: rigging.BackupPhaseFinalizing}},
			want:   asIs,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newFake(typed[snapshotv1.VolumeSnapshot](t, vs), typed[snapshotv1.VolumeSnapshotContent](t, vsc))
			a := newVSBackupper(factory(c))
			out, _, _, _, err := a.Execute(context.Background(), vs, tt.backup)
			if err != nil {
				t.Fatal(err)
			}
			checkItem(t, vs, out, tt.want)
		})
	}
}

func TestSecretRefBackuppersTypedRoundTrip(t *testing.T) {
	class := func(annotations string) *unstructured.Unstructured {
		return testmanifest.FromYAML(t, `
apiVersion: snapshot.storage.k8s.io/v1
kind: VolumeSnapshotClass
metadata: {name: hostpath, labels: {}, annotations: {`+annotations+`}}
driver: hostpath.csi.k8s.io
deletionPolicy: Delete
parameters: {}
unknownField: dropped
`)
	}
	content := func(annotations string) *unstructured.Unstructured {
		return testmanifest.FromYAML(t, `
apiVersion: snapshot.storage.k8s.io/v1
kind: VolumeSnapshotContent
metadata: {name: content-1, labels: {}, annotations: {`+annotations+`}, finalizers: []}
spec:
  deletionPolicy: Retain
  driver: ebs.csi.aws.com
  source: {snapshotHandle: snap-1}
  volumeSnapshotClassName: ""
  volumeSnapshotRef: {namespace: shop, name: snap, uid: ""}
status: {readyToUse: false, restoreSize: 0}
`)
	}
	const secret = AnnotationSnapshotterSecretName + ": s, " + AnnotationSnapshotterSecretNamespace + ": kube-system"
	const lister = AnnotationListerSecretName + ": l, " + AnnotationListerSecretNamespace + ": default"
	finalizing := &rigging.Backup{Status: rigging.BackupStatus{Phase: rigging.BackupPhaseFinalizing}}
	const contentWant = `{"apiVersion":"snapshot.storage.k8s.io/v1","kind":"VolumeSnapshotContent",
"metadata":{"name":"content-1"%s},
"spec":{"deletionPolicy":"Retain","driver":"ebs.csi.aws.com","source":{"snapshotHandle":"snap-1"},"sourceVolumeMode":null,
 "volumeSnapshotClassName":"","volumeSnapshotRef":{"namespace":"shop","name":"snap"}},
"status":{"readyToUse":false,"restoreSize":0}}`
	const classWant = `{"apiVersion":"snapshot.storage.k8s.io/v1","kind":"VolumeSnapshotClass",
"metadata":{"name":"hostpath"%s},"driver":"hostpath.csi.k8s.io","deletionPolicy":"Delete"}`
	tests := []struct {
		name   string
		action string
		item   *unstructured.Unstructured
		backup *rigging.Backup
		want   string
	}{
		{"content without secret", VolumeSnapshotContentBackupperName, content(""), &rigging.Backup{}, fmt.Sprintf(contentWant, "")},
		{"content with delete secret", VolumeSnapshotContentBackupperName, content(secret), &rigging.Backup{},
			fmt.Sprintf(contentWant, `,"annotations":{"backup.velero.io/must-include-additional-items":"true","csi.storage.k8s.io/snapshotter-secret-name":"s","csi.storage.k8s.io/snapshotter-secret-namespace":"kube-system"}`)},
		{"content while finalizing", VolumeSnapshotContentBackupperName, content(secret), finalizing, asIs},
		{"class without secret", VolumeSnapshotClassBackupperName, class(""), &rigging.Backup{}, fmt.Sprintf(classWant, "")},
		{"class with list secret while finalizing", VolumeSnapshotClassBackupperName, class(lister), finalizing,
			fmt.Sprintf(classWant, `,"annotations":{"backup.velero.io/must-include-additional-items":"true","csi.storage.k8s.io/snapshotter-list-secret-name":"l","csi.storage.k8s.io/snapshotter-list-secret-namespace":"default"}`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, _, _, _, err := newSecretRefAction(t, tt.action).Execute(context.Background(), tt.item, tt.backup)
			if err != nil {
				t.Fatal(err)
			}
			checkItem(t, tt.item, out, tt.want)
		})
	}
}

func TestRestorersTypedRoundTrip(t *testing.T) {
	r := newRestore()
	noCluster := func() (versioned.Interface, error) { return nil, errors.New("no kubeconfig") }
	claim := func(annotations string) *unstructured.Unstructured {
		return testmanifest.FromYAML(t, `
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data, namespace: shop, labels: {}, annotations: {`+annotations+`}}
spec:
  accessModes: []
  volumeName: pv-1
  volumeMode: ""
  resources: {requests: {storage: 1024Mi}, limits: {}}
  dataSourceRef: {kind: VolumeSnapshot, name: old}
  unknownField: dropped
`)
	}
	vs := testmanifest.FromYAML(t, `
apiVersion: snapshot.storage.k8s.io/v1
kind: VolumeSnapshot
metadata: {name: snap, namespace: shop, labels: {}, finalizers: []}
spec:
  source: {persistentVolumeClaimName: data}
  volumeSnapshotClassName: ebs
  unknownField: dropped
status: {boundVolumeSnapshotContentName: content-1, readyToUse: false}
`)
	vsc := testmanifest.FromYAML(t, `
apiVersion: snapshot.storage.k8s.io/v1
kind: VolumeSnapshotContent
metadata: {name: content-1, labels: {}, finalizers: []}
spec:
  deletionPolicy: Delete
  driver: ebs.csi.aws.com
  source: {volumeHandle: vol-1}
  sourceVolumeMode: Filesystem
  volumeSnapshotClassName: ebs
  volumeSnapshotRef: {namespace: shop, name: snap, uid: u-1, resourceVersion: "7", fieldPath: ""}
  unknownField: dropped
status: {snapshotHandle: snap-1, readyToUse: false}
`)
	restoredVS := RestoredName(string(r.UID), "snap")
	restoredClaimSource := RestoredName(string(r.UID), "velero-data-ax7k2q")
	tests := []struct {
		name    string
		action  rigging.RestoreItemActionV2
		item    *unstructured.Unstructured
		restore *rigging.Restore
		want    string
	}{
		{
			name:    "pvc restorer: snapshotted claim",
			action:  &pvcRestorer{base: newBase(PVCRestorerName, nil)},
			item:    claim(AnnotationVolumeSnapshotName + ": velero-data-ax7k2q"),
			restore: r,
			want: `{"apiVersion":"v1","kind":"PersistentVolumeClaim",
"metadata":{"name":"data","namespace":"shop",
 "annotations":{"restore.velero.io/must-include-additional-items":"true","velero.io/volume-snapshot-name":"velero-data-ax7k2q"}},
"spec":{"volumeMode":"","resources":{"requests":{"storage":"1Gi"}},
 "dataSource":{"apiGroup":"snapshot.storage.k8s.io","kind":"VolumeSnapshot","name":"` + restoredClaimSource + `"}},
"status":{}}`,
		},
		{
			name:    "pvc restorer: restorePVs=false",
			action:  &pvcRestorer{base: newBase(PVCRestorerName, nil)},
			item:    claim(""),
			restore: newRestore(noPVs),
			want: `{"apiVersion":"v1","kind":"PersistentVolumeClaim",
"metadata":{"name":"data","namespace":"shop"},
"spec":{"volumeMode":"","resources":{"requests":{"storage":"1Gi"}}},"status":{}}`,
		},
		{
			name:    "pvc restorer: claim without snapshot",
			action:  &pvcRestorer{base: newBase(PVCRestorerName, nil)},
			item:    claim(""),
			restore: r,
			want:    asIs,
		},
		{
			name:    "volumesnapshot restorer",
			action:  &volumeSnapshotRestorer{base: newBase(VolumeSnapshotRestorerName, nil)},
			item:    vs,
			restore: r,
			want: `{"apiVersion":"snapshot.storage.k8s.io/v1","kind":"VolumeSnapshot",
"metadata":{"name":"` + restoredVS + `","namespace":"shop",
 "annotations":{"velero.io/csi-vsc-deletion-policy":"Retain","restore.velero.io/must-include-additional-items":"true"}},
"spec":{"source":{"volumeSnapshotContentName":"` + restoredVS + `"}}}`,
		},
		{
			name:    "volumesnapshotcontent restorer",
			action:  &volumeSnapshotContentRestorer{base: base{name: VolumeSnapshotContentRestorerName, log: newBase("", nil).log, clients: noCluster}},
			item:    vsc,
			restore: r,
			want: `{"apiVersion":"snapshot.storage.k8s.io/v1","kind":"VolumeSnapshotContent",
"metadata":{"name":"` + restoredVS + `"},
"spec":{"deletionPolicy":"Retain","driver":"ebs.csi.aws.com","source":{"snapshotHandle":"snap-1"},"sourceVolumeMode":"Filesystem",
 "volumeSnapshotRef":{"namespace":"shop","name":"` + restoredVS + `"}}}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			item := stripped(tt.item)
			// A Lookup without the Backup: the claim's annotation decides.
			ctx := testmanifest.NewLookup().Context(context.Background())
			out, err := tt.action.Execute(ctx, &rigging.RestoreItemActionExecuteInput{Item: item, ItemFromBackup: tt.item, Restore: tt.restore})
			if err != nil {
				t.Fatal(err)
			}
			checkItem(t, item, out.UpdatedItem, tt.want)
		})
	}
}

// BenchmarkPVCBackupper measures velero.io/csi-pvc-backupper on a claim per
// call, the action of this package that runs once per claim of a backup:
// "snapshot" on a CSI volume against a fake snapshot clientset that binds
// and readies the snapshot at the first look (so the figure is the
// in-process cost, without a cluster's latency), "not-csi" on a volume of
// another kind (no cluster call).
func BenchmarkPVCBackupper(b *testing.B) {
	s := loadScenario(b)
	nfsPV := testmanifest.FromYAML(b, `
apiVersion: v1
kind: PersistentVolume
metadata: {name: pv-nfs}
spec:
  claimRef: {kind: PersistentVolumeClaim, namespace: default, name: hpvc}
  nfs: {server: nfs.example, path: /exports/a}
`)
	ctx := s.ctx(hostpathPV(b), nfsPV)
	backup := &rigging.Backup{ObjectMeta: metav1.ObjectMeta{Name: "nightly-20240314", Namespace: "velero"}}
	for _, bc := range []struct{ name, volume string }{{"snapshot", "pvc-1f0e9a4c"}, {"not-csi", "pv-nfs"}} {
		b.Run(bc.name, func(b *testing.B) {
			c := newFake(typed[snapshotv1.VolumeSnapshotClass](b, s.find(b, "VolumeSnapshotClass", "", "csi-hostpath-snapclass-v1")))
			controller{driver: "hostpath.csi.k8s.io", handleAfter: 1, restoreSize: 2 << 30}.install(b, c)
			a := &pvcBackupper{base: newBase(PVCBackupperName, nil), pollInterval: time.Millisecond}
			a.clients = factory(c)
			item := zeroClaim(b, bc.volume, "")
			b.ReportAllocs()
			for b.Loop() {
				if _, _, _, _, err := a.Execute(ctx, item, backup); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestPVCBackupperLongSnapshotName: Velero's AddLabels shortens every label
// value it sets as label.GetValidName does, the snapshot's name too; the
// annotation keeps the full name.
func TestPVCBackupperLongSnapshotName(t *testing.T) {
	s := loadScenario(t)
	c := newFake(typed[snapshotv1.VolumeSnapshotClass](t, s.find(t, "VolumeSnapshotClass", "", "csi-hostpath-snapclass-v1")))
	controller{driver: "hostpath.csi.k8s.io", handleAfter: 1}.install(t, c)
	a := &pvcBackupper{base: newBase(PVCBackupperName, nil), pollInterval: time.Millisecond}
	a.clients = factory(c)
	item := zeroClaim(t, "pvc-1f0e9a4c", "")
	item.SetName("data-of-the-postgres-statefulset-replica-number-0000")
	out, _, _, _, err := a.Execute(s.ctx(hostpathPV(t)), item, &rigging.Backup{ObjectMeta: metav1.ObjectMeta{Name: "nightly"}})
	if err != nil {
		t.Fatal(err)
	}
	full := "velero-data-of-the-postgres-statefulset-replica-number-0000-ax7k2q"
	if got := out.GetAnnotations()[AnnotationVolumeSnapshotName]; got != full {
		t.Errorf("annotation %q, want %q", got, full)
	}
	if got := out.GetLabels()[LabelVolumeSnapshotName]; got != validLabelValue(full) || len(got) != 63 {
		t.Errorf("label %q (%d characters), want %q", got, len(got), validLabelValue(full))
	}
}

// TestSecretRefBackupperUndecodable: an item that does not decode into its
// typed struct fails, as Velero's does, with an error naming the plugin and
// the item.
func TestSecretRefBackupperUndecodable(t *testing.T) {
	bad := testmanifest.FromYAML(t, `
apiVersion: snapshot.storage.k8s.io/v1
kind: VolumeSnapshotClass
metadata: {name: hostpath}
driver: hostpath.csi.k8s.io
deletionPolicy: Delete
parameters: not-a-map
`)
	_, _, _, _, err := newSecretRefAction(t, VolumeSnapshotClassBackupperName).Execute(context.Background(), bad, &rigging.Backup{})
	if err == nil || !strings.Contains(err.Error(), "plugin "+VolumeSnapshotClassBackupperName+": VolumeSnapshotClass hostpath: decode") {
		t.Errorf("error %v", err)
	}
}
