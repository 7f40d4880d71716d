package csi

import (
	"context"
	"errors"
	"reflect"
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

func newRestore(mut ...func(*rigging.Restore)) *rigging.Restore {
	r := &rigging.Restore{
		ObjectMeta: metav1.ObjectMeta{Name: "dr-20240314", Namespace: "velero", UID: "6f3e1b2a-9c8d-4e7f-a1b2-c3d4e5f60718"},
		Spec:       rigging.RestoreSpec{BackupName: "nightly-20240314"},
	}
	for _, m := range mut {
		m(r)
	}
	return r
}

func noPVs(r *rigging.Restore) { f := false; r.Spec.RestorePVs = &f }

// stripped is item as a host passes it to restore actions.
func stripped(item *unstructured.Unstructured) *unstructured.Unstructured {
	out := item.DeepCopy()
	delete(out.Object, "status")
	for _, f := range []string{"uid", "resourceVersion", "creationTimestamp", "managedFields", "generation"} {
		unstructured.RemoveNestedField(out.Object, "metadata", f)
	}
	return out
}

func execRestore(t *testing.T, a rigging.RestoreItemActionV2, ctx context.Context, fromBackup *unstructured.Unstructured, r *rigging.Restore) (*rigging.RestoreItemActionExecuteOutput, error) {
	t.Helper()
	item := stripped(fromBackup)
	before, beforeBackup := item.DeepCopy(), fromBackup.DeepCopy()
	out, err := a.Execute(ctx, &rigging.RestoreItemActionExecuteInput{Item: item, ItemFromBackup: fromBackup, Restore: r})
	if !reflect.DeepEqual(item, before) || !reflect.DeepEqual(fromBackup, beforeBackup) {
		t.Error("Execute modified its input")
	}
	return out, err
}

// TestBackupThenRestoreChain backs a claim up through the PVC and
// VolumeSnapshot backuppers, then restores claim, snapshot and content
// through the three restorers, and checks that the restored objects point
// at each other.
func TestBackupThenRestoreChain(t *testing.T) {
	s := loadScenario(t)
	ebsClass := typed[snapshotv1.VolumeSnapshotClass](t, s.find(t, "VolumeSnapshotClass", "", "ebs-csi-snapclass"))
	c := newFake(ebsClass)
	controller{driver: "ebs.csi.aws.com", handleAfter: 1, restoreSize: 100 << 30}.install(t, c)
	backup := &rigging.Backup{ObjectMeta: metav1.ObjectMeta{Name: "nightly-20240314", Namespace: "velero"}}

	pvcB := &pvcBackupper{base: newBase(PVCBackupperName, nil), pollInterval: time.Millisecond}
	pvcB.clients = factory(c)
	pvc, extra, _, _, err := pvcB.Execute(s.ctx(), s.find(t, "PersistentVolumeClaim", "shop", "data-postgres-0"), backup)
	if err != nil {
		t.Fatal(err)
	}
	vsObj, err := c.SnapshotV1().VolumeSnapshots("shop").Get(context.Background(), extra[0].Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	vsItem := toItem(t, vsObj, "VolumeSnapshot")
	vsB := newVSBackupper(factory(c))
	vsItem, extra, _, _, err = vsB.Execute(context.Background(), vsItem, backup)
	if err != nil {
		t.Fatal(err)
	}
	vscObj, err := c.SnapshotV1().VolumeSnapshotContents().Get(context.Background(), extra[len(extra)-1].Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	vscItem := toItem(t, vscObj, "VolumeSnapshotContent")

	// Restore into another namespace, on another cluster.
	target := newFake(ebsClass)
	r := newRestore(func(r *rigging.Restore) { r.Spec.NamespaceMapping = map[string]string{"shop": "shop-dr"} })
	restored := RestoredName(string(r.UID), vsItem.GetName())

	pvcOut, err := execRestore(t, &pvcRestorer{base: newBase(PVCRestorerName, nil)}, s.ctx(), pvc, r)
	if err != nil {
		t.Fatal(err)
	}
	ds, _, _ := unstructured.NestedStringMap(pvcOut.UpdatedItem.Object, "spec", "dataSource")
	if want := map[string]string{"apiGroup": "snapshot.storage.k8s.io", "kind": "VolumeSnapshot", "name": restored}; !reflect.DeepEqual(ds, want) {
		t.Errorf("claim dataSource %v, want %v", ds, want)
	}
	if want := []rigging.ResourceIdentifier{{GroupResource: grVolumeSnapshots, Namespace: "shop", Name: vsItem.GetName()}}; !reflect.DeepEqual(pvcOut.AdditionalItems, want) {
		t.Errorf("claim additional items %v", pvcOut.AdditionalItems)
	}

	vsOut, err := execRestore(t, &volumeSnapshotRestorer{base: newBase(VolumeSnapshotRestorerName, nil)}, context.Background(), vsItem, r)
	if err != nil {
		t.Fatal(err)
	}
	if got, _, _ := unstructured.NestedString(vsOut.UpdatedItem.Object, "spec", "source", "volumeSnapshotContentName"); vsOut.UpdatedItem.GetName() != restored || got != restored {
		t.Errorf("snapshot %s bound to %s, want %s", vsOut.UpdatedItem.GetName(), got, restored)
	}

	vscR := &volumeSnapshotContentRestorer{base: newBase(VolumeSnapshotContentRestorerName, nil)}
	vscR.clients = factory(target)
	vscOut, err := execRestore(t, vscR, context.Background(), vscItem, r)
	if err != nil {
		t.Fatal(err)
	}
	ref, _, _ := unstructured.NestedStringMap(vscOut.UpdatedItem.Object, "spec", "volumeSnapshotRef")
	if vscOut.UpdatedItem.GetName() != restored || ref["name"] != restored || ref["namespace"] != "shop-dr" {
		t.Errorf("content %s refers to %v; want %s in shop-dr", vscOut.UpdatedItem.GetName(), ref, restored)
	}
	if h, _, _ := unstructured.NestedString(vscOut.UpdatedItem.Object, "spec", "source", "snapshotHandle"); h != "snap-"+vscItem.GetName() {
		t.Errorf("content snapshot handle %q", h)
	}
}

func toItem(t *testing.T, obj any, kind string) *unstructured.Unstructured {
	t.Helper()
	m, err := runtimeToUnstructured(obj)
	if err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{Object: m}
	u.SetAPIVersion(snapshotv1.SchemeGroupVersion.String())
	u.SetKind(kind)
	return u
}

func TestVolumeSnapshotRestorer(t *testing.T) {
	s := loadScenario(t)
	vs := s.find(t, "VolumeSnapshot", "shop", "data-postgres-0-snap-20240313")
	withGroup := vs.DeepCopy()
	addAnnotations(withGroup, map[string]string{AnnotationVolumeGroupSnapshotHandle: "groupsnap-1"})
	unbound := s.find(t, "VolumeSnapshot", "", "new-snapshot-demo-v1")
	r := newRestore()
	name := RestoredName(string(r.UID), "data-postgres-0-snap-20240313")
	a := &volumeSnapshotRestorer{base: newBase(VolumeSnapshotRestorerName, nil)}
	for _, item := range []*unstructured.Unstructured{vs, withGroup} {
		out, err := execRestore(t, a, context.Background(), item, r)
		if err != nil {
			t.Fatal(err)
		}
		got := out.UpdatedItem
		want := testmanifest.FromYAML(t, `
apiVersion: snapshot.storage.k8s.io/v1
kind: VolumeSnapshot
metadata: {name: `+name+`, namespace: shop}
spec:
  source: {volumeSnapshotContentName: `+name+`}
`)
		if spec := got.Object["spec"]; !reflect.DeepEqual(spec, want.Object["spec"]) {
			t.Errorf("spec %v, want %v", spec, want.Object["spec"])
		}
		if got.GetName() != name || got.GetNamespace() != "shop" {
			t.Errorf("name %s/%s", got.GetNamespace(), got.GetName())
		}
		if a := got.GetAnnotations(); a[AnnotationVSCDeletionPolicy] != "Retain" || a[rigging.AnnotationRestoreMustIncludeAdditionalItems] != "true" {
			t.Errorf("annotations %v", a)
		}
		if want := []rigging.ResourceIdentifier{{GroupResource: grVolumeSnapshotContents, Name: "snapcontent-0c41a8fe-cf4a-4a9e-a08f-5bef91d950bc"}}; !reflect.DeepEqual(out.AdditionalItems, want) {
			t.Errorf("additional %v", out.AdditionalItems)
		}
	}
	if _, err := execRestore(t, a, context.Background(), unbound, r); err == nil || !strings.Contains(err.Error(), "VolumeSnapshot new-snapshot-demo-v1: it is bound to no VolumeSnapshotContent in the backup") {
		t.Errorf("unbound: %v", err)
	}
	out, err := execRestore(t, a, context.Background(), vs, newRestore(noPVs))
	if err != nil || !out.SkipRestore {
		t.Errorf("restorePVs=false: %+v %v", out, err)
	}
}

func TestVolumeSnapshotContentRestorer(t *testing.T) {
	s := loadScenario(t)
	vsc := s.find(t, "VolumeSnapshotContent", "", "snapcontent-0c41a8fe-cf4a-4a9e-a08f-5bef91d950bc")
	withSecret := vsc.DeepCopy()
	addAnnotations(withSecret, map[string]string{AnnotationSnapshotterSecretName: "ebs-snapshotter", AnnotationSnapshotterSecretNamespace: "kube-system"})
	noHandle := vsc.DeepCopy()
	unstructured.RemoveNestedField(noHandle.Object, "status", "snapshotHandle")
	ebs := typed[snapshotv1.VolumeSnapshotClass](t, s.find(t, "VolumeSnapshotClass", "", "ebs-csi-snapclass"))
	ebs.Name = "ebs-target"
	hostpath := typed[snapshotv1.VolumeSnapshotClass](t, s.find(t, "VolumeSnapshotClass", "", "csi-hostpath-snapclass-v1"))
	r := newRestore(func(r *rigging.Restore) { r.Spec.NamespaceMapping = map[string]string{"shop": "shop-dr"} })
	name := RestoredName(string(r.UID), "data-postgres-0-snap-20240313")
	noCluster := func() (versioned.Interface, error) { return nil, errors.New("no kubeconfig") }

	tests := []struct {
		name      string
		item      *unstructured.Unstructured
		restore   *rigging.Restore
		clients   ClientFactory
		class     string
		secret    bool
		skip      bool
		errSubstr string
	}{
		{"target has a class of the driver", vsc, r, factory(newFake(hostpath, ebs)), "ebs-target", false, false, ""},
		{"target has no class of the driver", vsc, r, factory(newFake(hostpath)), "", false, false, ""},
		{"no cluster: class left unset", vsc, r, noCluster, "", false, false, ""},
		{"delete secret restored first", withSecret, r, factory(newFake()), "", true, false, ""},
		{"no snapshot handle", noHandle, r, factory(newFake()), "", false, false, "VolumeSnapshotContent snapcontent-0c41a8fe-cf4a-4a9e-a08f-5bef91d950bc: no status.snapshotHandle in the backup"},
		{"restorePVs=false", vsc, newRestore(noPVs), nil, "", false, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &volumeSnapshotContentRestorer{base: newBase(VolumeSnapshotContentRestorerName, nil)}
			a.clients = tt.clients
			out, err := execRestore(t, a, context.Background(), tt.item, tt.restore)
			if tt.errSubstr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errSubstr) {
					t.Errorf("error %v, want %q", err, tt.errSubstr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if out.SkipRestore != tt.skip {
				t.Fatalf("skip %v", out.SkipRestore)
			}
			if tt.skip {
				return
			}
			spec := out.UpdatedItem.Object["spec"].(map[string]any)
			want := map[string]any{
				"deletionPolicy": "Retain",
				"driver":         "ebs.csi.aws.com",
				"source":         map[string]any{"snapshotHandle": "snap-0c1d2e3f4a5b6c7d8"},
				// The typed struct declares sourceVolumeMode without
				// omitempty: Velero's round trip writes it as null.
				"sourceVolumeMode": nil,
				"volumeSnapshotRef": map[string]any{
					"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshot", "name": name, "namespace": "shop-dr",
				},
			}
			if tt.class != "" {
				want["volumeSnapshotClassName"] = tt.class
			}
			if !reflect.DeepEqual(spec, want) {
				t.Errorf("spec %v\nwant %v", spec, want)
			}
			if out.UpdatedItem.GetName() != name {
				t.Errorf("name %s", out.UpdatedItem.GetName())
			}
			if got := len(out.AdditionalItems) == 1 && out.AdditionalItems[0] == (rigging.ResourceIdentifier{GroupResource: grSecrets, Namespace: "kube-system", Name: "ebs-snapshotter"}); got != tt.secret {
				t.Errorf("additional %v", out.AdditionalItems)
			}
		})
	}
}

func TestPVCRestorer(t *testing.T) {
	s := loadScenario(t)
	claim := s.find(t, "PersistentVolumeClaim", "shop", "data-postgres-0")
	snapshotted := claim.DeepCopy()
	addAnnotations(snapshotted, map[string]string{AnnotationVolumeSnapshotName: "velero-data-postgres-0-ax7k2q"})
	moved := claim.DeepCopy()
	addAnnotations(moved, map[string]string{AnnotationDataUploadName: "velero/nightly-20240314-8fz2c"})
	restoreExample := s.find(t, "PersistentVolumeClaim", "", "hpvc-restore")
	movingBackup := testmanifest.FromYAML(t, `
apiVersion: velero.io/v1
kind: Backup
metadata: {name: nightly-20240314, namespace: velero}
spec: {snapshotMoveData: true}
`)
	plainBackup := testmanifest.FromYAML(t, `
apiVersion: velero.io/v1
kind: Backup
metadata: {name: nightly-20240314, namespace: velero}
spec: {snapshotMoveData: false}
`)
	r := newRestore()
	restored := RestoredName(string(r.UID), "velero-data-postgres-0-ax7k2q")
	tests := []struct {
		name       string
		item       *unstructured.Unstructured
		restore    *rigging.Restore
		lookup     []*unstructured.Unstructured
		dataSource string // "" when none; "-" when the item must be unchanged
		volumeName bool
		err        error
	}{
		{"snapshotted claim", snapshotted, r, nil, restored, false, nil},
		{"snapshotted claim, plain backup in the lookup", snapshotted, r, []*unstructured.Unstructured{plainBackup}, restored, false, nil},
		{"claim without snapshot", claim, r, nil, "-", true, nil},
		{"restorePVs=false drops volume and source", restoreExample, newRestore(noPVs), nil, "", false, nil},
		{"data-mover claim (annotation)", moved, r, nil, "", false, ErrDataMoverUnsupported},
		{"data-mover claim (backup in the lookup)", moved, r, []*unstructured.Unstructured{movingBackup}, "", false, ErrDataMoverUnsupported},
		{"data-mover backup, claim without upload", snapshotted, r, []*unstructured.Unstructured{movingBackup}, "-", true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &pvcRestorer{base: newBase(PVCRestorerName, nil)}
			a.clients = func() (versioned.Interface, error) {
				t.Error("the PVC restorer asked for the cluster")
				return nil, errors.New("no")
			}
			out, err := execRestore(t, a, testmanifest.NewLookup(tt.lookup...).Context(context.Background()), tt.item, tt.restore)
			if tt.err != nil {
				if !errors.Is(err, tt.err) || !strings.Contains(err.Error(), "plugin velero.io/csi-pvc-restorer: PersistentVolumeClaim shop/data-postgres-0: ") {
					t.Errorf("error %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := out.UpdatedItem
			if tt.dataSource == "-" {
				if !reflect.DeepEqual(got, stripped(tt.item)) || len(out.AdditionalItems) != 0 {
					t.Error("item changed")
				}
				return
			}
			ds, _, _ := unstructured.NestedString(got.Object, "spec", "dataSource", "name")
			_, hasRef, _ := unstructured.NestedFieldNoCopy(got.Object, "spec", "dataSourceRef")
			_, hasVolume, _ := unstructured.NestedFieldNoCopy(got.Object, "spec", "volumeName")
			if ds != tt.dataSource || hasRef || hasVolume != tt.volumeName {
				t.Errorf("dataSource %q, dataSourceRef %v, volumeName %v", ds, hasRef, hasVolume)
			}
			if tt.dataSource != "" && got.GetAnnotations()[rigging.AnnotationRestoreMustIncludeAdditionalItems] != "true" {
				t.Error("must-include annotation missing")
			}
		})
	}
}

func TestVolumeSnapshotClassRestorer(t *testing.T) {
	s := loadScenario(t)
	class := s.find(t, "VolumeSnapshotClass", "", "ebs-csi-snapclass")
	withSecret := class.DeepCopy()
	addAnnotations(withSecret, map[string]string{AnnotationListerSecretName: "lister", AnnotationListerSecretNamespace: "kube-system"})
	a := &volumeSnapshotClassRestorer{base: newBase(VolumeSnapshotClassRestorerName, nil)}
	out, err := execRestore(t, a, context.Background(), class, newRestore())
	if err != nil || out.SkipRestore || len(out.AdditionalItems) != 0 {
		t.Errorf("plain class: %+v %v", out, err)
	}
	out, err = execRestore(t, a, context.Background(), withSecret, newRestore())
	if err != nil || !reflect.DeepEqual(out.AdditionalItems, []rigging.ResourceIdentifier{{GroupResource: grSecrets, Namespace: "kube-system", Name: "lister"}}) {
		t.Errorf("class with secret: %+v %v", out, err)
	}
	out, err = execRestore(t, a, context.Background(), class, newRestore(noPVs))
	if err != nil || !out.SkipRestore {
		t.Errorf("restorePVs=false: %+v %v", out, err)
	}
	if ok, err := a.AreAdditionalItemsReady(context.Background(), nil, newRestore()); !ok || err != nil {
		t.Errorf("AreAdditionalItemsReady = %v, %v", ok, err)
	}
	if _, err := a.Progress(context.Background(), "x", newRestore()); !errors.Is(err, rigging.ErrAsyncNotSupported) {
		t.Errorf("Progress: %v", err)
	}
}

func TestNames(t *testing.T) {
	// Reference values from sha256sum(1).
	if got := RestoredName("6f3e1b2a-9c8d-4e7f-a1b2-c3d4e5f60718", "data-postgres-0-snap-20240313"); got != "3e15e54f8519dbfc902fc99613ef80404d1340b25ac6f6963d849b25a72e43d4" {
		t.Errorf("RestoredName = %s", got)
	}
	long := "nightly-backup-of-the-production-shop-cluster-taken-every-night-at-0100"
	if got, want := validLabelValue(long), long[:57]+"37fab8"; got != want {
		t.Errorf("validLabelValue = %s, want %s", got, want)
	}
	if got := validLabelValue("nightly"); got != "nightly" {
		t.Errorf("validLabelValue(short) = %s", got)
	}
}
