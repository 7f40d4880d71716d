package csi

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	"github.com/kubernetes-csi/external-snapshotter/client/v8/clientset/versioned"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/cluster"
	"github.com/rigging-dev/rigging/internal/testcluster"
)

// The tests in this file run the actions against a real API server with
// the external-snapshotter v8 CRDs (internal/testcluster); the test plays
// the snapshot controller and the CSI driver (testcluster's
// RunSnapshotController), which the test cluster does not run.

func TestMain(m *testing.M) {
	os.Exit(testcluster.Main(m, testcluster.Options{}))
}

var gvrPersistentVolumeClaims = corev1.SchemeGroupVersion.WithResource("persistentvolumeclaims")

// liveEnv is a namespace of the test API server holding claim "data"
// (testcluster.SeedCSIClaim).
type liveEnv struct {
	testcluster.CSIClaim
	cluster *testcluster.Cluster
	snaps   versioned.Interface
	core    kubernetes.Interface
	dyn     dynamic.Interface
}

// newLiveEnv makes a liveEnv in a namespace of its own.
func newLiveEnv(t *testing.T) *liveEnv {
	t.Helper()
	c := testcluster.Get(t)
	e := &liveEnv{cluster: c}
	var err error
	if e.snaps, err = versioned.NewForConfig(c.Config()); err != nil {
		t.Fatal(err)
	}
	if e.core, err = kubernetes.NewForConfig(c.Config()); err != nil {
		t.Fatal(err)
	}
	if e.dyn, err = dynamic.NewForConfig(c.Config()); err != nil {
		t.Fatal(err)
	}
	e.CSIClaim = c.SeedCSIClaim(t, uniqueName("csi"), "data")
	return e
}

// uniqueName is prefix-<random>: nothing in the test cluster deletes a
// namespace, so every test makes its own.
func uniqueName(prefix string) string {
	return prefix + "-" + strings.ToLower(rand.Text()[:10])
}

// get reads an object as a backup collects it: through the dynamic client,
// with apiVersion and kind.
func (e *liveEnv) get(t *testing.T, gvr schema.GroupVersionResource, ns, name string) *unstructured.Unstructured {
	t.Helper()
	obj, err := e.dyn.Resource(gvr).Namespace(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get %s %s/%s: %v", gvr.Resource, ns, name, err)
	}
	return obj
}

// liveWait bounds each wait for the API server or the snapshot controller
// (a failure, not a sleep: the waits end at the event they wait for).
const liveWait = 2 * time.Minute

// waitSnapshot watches VolumeSnapshot ns/name until cond holds for it.
func (e *liveEnv) waitSnapshot(t *testing.T, ns, name string, cond func(*snapshotv1.VolumeSnapshot) bool) *snapshotv1.VolumeSnapshot {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), liveWait)
	defer cancel()
	w, err := e.snaps.SnapshotV1().VolumeSnapshots(ns).Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + name})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	for ev := range w.ResultChan() {
		if vs, ok := ev.Object.(*snapshotv1.VolumeSnapshot); ok && cond(vs) {
			return vs
		}
	}
	t.Fatalf("VolumeSnapshot %s/%s: what the test waited for did not happen within %v", ns, name, liveWait)
	return nil
}

// typedToItem is obj through a typed round trip, with apiVersion and kind.
func typedToItem(t *testing.T, obj runtime.Object, apiVersion, kind string) *unstructured.Unstructured {
	t.Helper()
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{Object: m}
	if apiVersion != "" {
		u.SetAPIVersion(apiVersion)
		u.SetKind(kind)
	}
	return u
}

func jsonOf(t *testing.T, u *unstructured.Unstructured) string {
	t.Helper()
	b, err := json.Marshal(u.Object)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func ready(vs *snapshotv1.VolumeSnapshot) bool {
	return vs.Status != nil && vs.Status.ReadyToUse != nil && *vs.Status.ReadyToUse
}

// TestLiveVolumeSnapshotBackupperReturnsPatchReply: the VolumeSnapshot
// backupper returns what Velero's does, the API server's answer to its
// annotation patch (with the item's apiVersion and kind when it has them)
// plus the must-include annotation: the live object's status and
// resourceVersion, not the item's, which the backup read before the
// snapshot controller made the snapshot ready.
func TestLiveVolumeSnapshotBackupperReturnsPatchReply(t *testing.T) {
	e := newLiveEnv(t)
	tests := []struct {
		name     string
		typeMeta bool
	}{
		{"as collected", true},
		{"without apiVersion and kind", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			vs := &snapshotv1.VolumeSnapshot{
				ObjectMeta: metav1.ObjectMeta{GenerateName: "velero-data-", Namespace: e.Namespace},
				Spec:       snapshotv1.VolumeSnapshotSpec{Source: snapshotv1.VolumeSnapshotSource{PersistentVolumeClaimName: new("data")}, VolumeSnapshotClassName: &e.SnapshotClass},
			}
			vs, err := e.snaps.SnapshotV1().VolumeSnapshots(e.Namespace).Create(ctx, vs, metav1.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			// The snapshot controller binds it; the backup reads it then.
			e.cluster.RunSnapshotController(t, testcluster.SnapshotController{Namespace: e.Namespace, RestoreSize: 1 << 30,
				ReadyWhen: func(v *snapshotv1.VolumeSnapshot) bool { return v.Labels["test/ready"] == "yes" }})
			bound := e.waitSnapshot(t, e.Namespace, vs.Name, func(v *snapshotv1.VolumeSnapshot) bool {
				return v.Status != nil && v.Status.BoundVolumeSnapshotContentName != nil
			})
			item := e.get(t, gvrVolumeSnapshots, e.Namespace, vs.Name)
			if !tt.typeMeta {
				delete(item.Object, "apiVersion")
				delete(item.Object, "kind")
			}
			// Then the snapshot becomes ready, after the backup read it.
			if _, err := e.snaps.SnapshotV1().VolumeSnapshots(e.Namespace).Patch(ctx, vs.Name, types.MergePatchType,
				[]byte(`{"metadata":{"labels":{"test/ready":"yes"}}}`), metav1.PatchOptions{}); err != nil {
				t.Fatal(err)
			}
			e.waitSnapshot(t, e.Namespace, vs.Name, ready)

			a := &volumeSnapshotBackupper{base: newBase(VolumeSnapshotBackupperName, nil)}
			a.clients = factory(e.snaps)
			backup := &rigging.Backup{ObjectMeta: metav1.ObjectMeta{Name: "nightly", Namespace: "velero"}}
			out, _, _, _, err := a.Execute(ctx, item, backup)
			if err != nil {
				t.Fatal(err)
			}
			// Nothing changed the snapshot since the patch: the patch's
			// answer is the object as it is now.
			live, err := e.snaps.SnapshotV1().VolumeSnapshots(e.Namespace).Get(ctx, vs.Name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			live.Annotations[rigging.AnnotationBackupMustIncludeAdditionalItems] = "true"
			apiVersion := ""
			if tt.typeMeta {
				apiVersion = snapshotv1.SchemeGroupVersion.String()
			}
			want := typedToItem(t, live, apiVersion, "VolumeSnapshot")
			if got, w := jsonOf(t, out), jsonOf(t, want); got != w {
				t.Errorf("item\n got %s\nwant %s", got, w)
			}
			if out.GetResourceVersion() == bound.ResourceVersion || !ready(typed[snapshotv1.VolumeSnapshot](t, out)) {
				t.Errorf("item is the snapshot as the backup read it (resourceVersion %s, status %v), not as the API server answered", out.GetResourceVersion(), out.Object["status"])
			}
		})
	}
}

// readyOnLabel is a testcluster.SnapshotController ReadyWhen: the test
// says when the snapshot is ready by labelling it.
func readyOnLabel(vs *snapshotv1.VolumeSnapshot) bool { return vs.Labels["test/ready"] == "yes" }

// markReady labels VolumeSnapshot ns/name for readyOnLabel and waits
// until the controller made it ready.
func (e *liveEnv) markReady(t *testing.T, ns, name string) {
	t.Helper()
	if _, err := e.snaps.SnapshotV1().VolumeSnapshots(ns).Patch(context.Background(), name, types.MergePatchType,
		[]byte(`{"metadata":{"labels":{"test/ready":"yes"}}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	e.waitSnapshot(t, ns, name, ready)
}

// watchContents starts a watch of every VolumeSnapshotContent from now on.
func (e *liveEnv) watchContents(t *testing.T) watch.Interface {
	t.Helper()
	list, err := e.snaps.SnapshotV1().VolumeSnapshotContents().List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), liveWait)
	w, err := e.snaps.SnapshotV1().VolumeSnapshotContents().Watch(ctx, metav1.ListOptions{ResourceVersion: list.ResourceVersion})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Stop(); cancel() })
	return w
}

// until reads w's events until one makes keep return false, and returns
// the events it read of the contents keep accepted.
func until(t *testing.T, w watch.Interface, keep func(watch.EventType, *snapshotv1.VolumeSnapshotContent) (bool, bool)) []string {
	t.Helper()
	var seen []string
	for ev := range w.ResultChan() {
		vsc, ok := ev.Object.(*snapshotv1.VolumeSnapshotContent)
		if !ok {
			continue
		}
		mine, more := keep(ev.Type, vsc)
		if mine {
			seen = append(seen, string(ev.Type)+" "+string(vsc.Spec.DeletionPolicy))
		}
		if !more {
			return seen
		}
	}
	t.Fatalf("VolumeSnapshotContents: what the test waited for did not happen within %v", liveWait)
	return nil
}

// TestLiveBackupRestoreDelete runs the CSI actions as Velero's server
// does, against the API server, with the test playing the snapshot
// controller: the claim backupper creates a VolumeSnapshot and waits for
// its content; the VolumeSnapshot backupper annotates it and starts an
// operation whose Progress completes when the content is ready; the
// finalize pass deletes snapshot and content, keeping the storage snapshot;
// the three restorers turn the backed-up objects into ones that, created
// in a mapped namespace, the snapshot controller binds to the same storage
// snapshot; and the deleter deletes the storage snapshot through a
// temporary content.
func TestLiveBackupRestoreDelete(t *testing.T) {
	e := newLiveEnv(t)
	ns := e.Namespace
	e.cluster.RunSnapshotController(t, testcluster.SnapshotController{Namespace: ns, RestoreSize: 2 << 30, ReadyWhen: readyOnLabel})
	lookup, err := cluster.NewLookup(e.cluster.Config(), cluster.LookupOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// The cluster comes with the context, as the rigging command gives it.
	ctx := WithClientFactory(rigging.WithLookup(context.Background(), lookup), ConfigClient(e.cluster.Config()))
	backup := &rigging.Backup{ObjectMeta: metav1.ObjectMeta{Name: "nightly", Namespace: "velero"}}

	// The claim: a VolumeSnapshot in the API server, waited for.
	pvcAction := &pvcBackupper{base: newBase(PVCBackupperName, nil), pollInterval: 20 * time.Millisecond}
	claimOut, extra, opID, _, err := pvcAction.Execute(ctx, e.get(t, gvrPersistentVolumeClaims, ns, "data"), backup)
	if err != nil || opID != "" || len(extra) != 1 || extra[0].GroupResource != grVolumeSnapshots || extra[0].Namespace != ns {
		t.Fatalf("claim: additional %v, operation %q, %v", extra, opID, err)
	}
	vs, err := e.snaps.SnapshotV1().VolumeSnapshots(ns).Get(ctx, extra[0].Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(vs.Name, "velero-data-") || *vs.Spec.Source.PersistentVolumeClaimName != "data" || *vs.Spec.VolumeSnapshotClassName != e.SnapshotClass ||
		vs.Labels[LabelBackupName] != "nightly" || vs.Labels["app"] != "db" {
		t.Errorf("VolumeSnapshot %s: labels %v, spec %+v", vs.Name, vs.Labels, vs.Spec)
	}
	claim := typed[corev1.PersistentVolumeClaim](t, claimOut)
	if claim.Annotations[AnnotationVolumeSnapshotName] != vs.Name || claim.Labels[LabelVolumeSnapshotName] != vs.Name || claim.Labels[LabelBackupName] != "nightly" {
		t.Errorf("claim metadata %v %v", claim.Labels, claim.Annotations)
	}
	if got := claim.Spec.Resources.Requests[corev1.ResourceStorage]; got.String() != "2Gi" {
		t.Errorf("claim request %s, want the snapshot's restore size 2Gi", got.String())
	}

	// The snapshot: annotated in the API server, an operation started.
	vsAction := &volumeSnapshotBackupper{base: newBase(VolumeSnapshotBackupperName, nil)}
	_, extra, opID, post, err := vsAction.Execute(ctx, e.get(t, gvrVolumeSnapshots, ns, vs.Name), backup)
	if err != nil {
		t.Fatal(err)
	}
	uid := string(vs.UID)
	content, handle := testcluster.SnapshotContentName(uid), testcluster.SnapshotHandle(uid)
	wantExtra := []rigging.ResourceIdentifier{{GroupResource: grVolumeSnapshotClasses, Name: e.SnapshotClass}, {GroupResource: grVolumeSnapshotContents, Name: content}}
	wantPost := []rigging.ResourceIdentifier{{GroupResource: grVolumeSnapshots, Namespace: ns, Name: vs.Name}, {GroupResource: grVolumeSnapshotContents, Name: content}}
	if !reflect.DeepEqual(extra, wantExtra) || !reflect.DeepEqual(post, wantPost) || !strings.HasPrefix(opID, ns+"/"+vs.Name+"/") {
		t.Errorf("snapshot: additional %v, post-operation %v, operation %q", extra, post, opID)
	}
	if vs, err = e.snaps.SnapshotV1().VolumeSnapshots(ns).Get(ctx, vs.Name, metav1.GetOptions{}); err != nil {
		t.Fatal(err)
	}
	wantAnn := map[string]string{AnnotationSnapshotHandle: handle, AnnotationDriverName: e.Driver, AnnotationVSCDeletionPolicy: "Delete", AnnotationRestoreSize: "2Gi"}
	for k, v := range wantAnn {
		if vs.Annotations[k] != v {
			t.Errorf("live VolumeSnapshot annotation %s=%q, want %q", k, vs.Annotations[k], v)
		}
	}
	if vsc, err := e.snaps.SnapshotV1().VolumeSnapshotContents().Get(ctx, content, metav1.GetOptions{}); err != nil || vsc.Labels[LabelBackupName] != "nightly" {
		t.Errorf("live VolumeSnapshotContent not labelled with the backup: %v", err)
	}

	// The operation completes when the snapshot controller says ready.
	if p, err := vsAction.Progress(ctx, opID, backup); err != nil || p.Completed {
		t.Fatalf("progress before ready: %+v, %v", p, err)
	}
	e.markReady(t, ns, vs.Name)
	if p, err := vsAction.Progress(ctx, opID, backup); err != nil || !p.Completed || p.Err != "" || p.Description != "snapshot ready; snapshot taken at "+vs.Status.CreationTime.UTC().Format(time.RFC3339) {
		t.Fatalf("progress after ready: %+v, %v", p, err)
	}
	vsFinal := e.get(t, gvrVolumeSnapshots, ns, vs.Name)
	vscFinal := e.get(t, gvrVolumeSnapshotContents, "", content)

	// Finalizing: content set to Retain, then content and snapshot deleted.
	w := e.watchContents(t)
	finalizing := *backup
	finalizing.Status.Phase = rigging.BackupPhaseFinalizing
	if _, _, _, _, err := vsAction.Execute(ctx, vsFinal, &finalizing); err != nil {
		t.Fatal(err)
	}
	seen := until(t, w, func(ev watch.EventType, vsc *snapshotv1.VolumeSnapshotContent) (bool, bool) {
		return vsc.Name == content, !(vsc.Name == content && ev == watch.Deleted)
	})
	if want := []string{"MODIFIED Retain", "DELETED Retain"}; !reflect.DeepEqual(seen, want) {
		t.Errorf("content events %v, want %v", seen, want)
	}
	if _, err := e.snaps.SnapshotV1().VolumeSnapshots(ns).Get(ctx, vs.Name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("VolumeSnapshot still there after finalizing: %v", err)
	}

	// Restore into another namespace.
	target := uniqueName("restored")
	if _, err := e.core.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: target}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.cluster.RunSnapshotController(t, testcluster.SnapshotController{Namespace: target, RestoreSize: 2 << 30})
	restore := &rigging.Restore{
		ObjectMeta: metav1.ObjectMeta{Name: "nightly-restore", Namespace: "velero", UID: types.UID(uniqueName("uid"))},
		Spec:       rigging.RestoreSpec{BackupName: "nightly", NamespaceMapping: map[string]string{ns: target}},
	}
	restoredName := RestoredName(string(restore.UID), vs.Name)
	restoreOne := func(a rigging.RestoreItemActionV2, fromBackup *unstructured.Unstructured) *rigging.RestoreItemActionExecuteOutput {
		t.Helper()
		item := stripped(fromBackup)
		if item.GetNamespace() != "" {
			item.SetNamespace(target)
		}
		out, err := a.Execute(ctx, &rigging.RestoreItemActionExecuteInput{Item: item, ItemFromBackup: fromBackup, Restore: restore})
		if err != nil {
			t.Fatalf("%s: %v", a.Name(), err)
		}
		return out
	}
	claimR := restoreOne(&pvcRestorer{base: newBase(PVCRestorerName, nil)}, claimOut)
	vsR := restoreOne(&volumeSnapshotRestorer{base: newBase(VolumeSnapshotRestorerName, nil)}, vsFinal)
	vscR := restoreOne(&volumeSnapshotContentRestorer{base: newBase(VolumeSnapshotContentRestorerName, nil)}, vscFinal)
	if want := []rigging.ResourceIdentifier{{GroupResource: grVolumeSnapshots, Namespace: target, Name: vs.Name}}; !reflect.DeepEqual(claimR.AdditionalItems, want) {
		t.Errorf("claim restore: additional %v, want %v", claimR.AdditionalItems, want)
	}
	if want := []rigging.ResourceIdentifier{{GroupResource: grVolumeSnapshotContents, Name: content}}; !reflect.DeepEqual(vsR.AdditionalItems, want) {
		t.Errorf("snapshot restore: additional %v, want %v", vsR.AdditionalItems, want)
	}
	restoredVSC := typed[snapshotv1.VolumeSnapshotContent](t, vscR.UpdatedItem)
	if restoredVSC.Spec.VolumeSnapshotClassName == nil || *restoredVSC.Spec.VolumeSnapshotClassName != e.SnapshotClass {
		t.Errorf("restored content's class %v, want %s (the target cluster's class of the driver)", restoredVSC.Spec.VolumeSnapshotClassName, e.SnapshotClass)
	}
	// Created as the restore creates them, content first.
	for _, obj := range []*unstructured.Unstructured{vscR.UpdatedItem, vsR.UpdatedItem, claimR.UpdatedItem} {
		if err := e.cluster.Seed(ctx, []*unstructured.Unstructured{obj}); err != nil {
			t.Fatal(err)
		}
	}
	restoredVS := e.waitSnapshot(t, target, restoredName, ready)
	if *restoredVS.Status.BoundVolumeSnapshotContentName != restoredName {
		t.Errorf("restored snapshot bound to %s, want %s", *restoredVS.Status.BoundVolumeSnapshotContentName, restoredName)
	}
	liveVSC, err := e.snaps.SnapshotV1().VolumeSnapshotContents().Get(ctx, restoredName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ref := liveVSC.Spec.VolumeSnapshotRef; ref.Namespace != target || ref.Name != restoredName || *liveVSC.Spec.Source.SnapshotHandle != handle ||
		liveVSC.Spec.DeletionPolicy != snapshotv1.VolumeSnapshotContentRetain || *liveVSC.Status.SnapshotHandle != handle {
		t.Errorf("restored content: spec %+v, status %+v", liveVSC.Spec, liveVSC.Status)
	}
	liveClaim, err := e.core.CoreV1().PersistentVolumeClaims(target).Get(ctx, "data", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ds := liveClaim.Spec.DataSource; ds == nil || *ds.APIGroup != snapshotv1.GroupName || ds.Kind != "VolumeSnapshot" || ds.Name != restoredName || liveClaim.Spec.VolumeName != "" {
		t.Errorf("restored claim: dataSource %+v, volumeName %q", ds, liveClaim.Spec.VolumeName)
	}

	// Deleting the backup deletes the storage snapshot: a temporary
	// content of its handle with policy Delete, created and deleted.
	w = e.watchContents(t)
	deleter := &volumeSnapshotContentDeleter{base: newBase(VolumeSnapshotContentDeleteName, nil)}
	if err := deleter.Execute(ctx, &rigging.DeleteItemActionExecuteInput{Item: vscFinal, Backup: backup}); err != nil {
		t.Fatal(err)
	}
	var temp string
	seen = until(t, w, func(ev watch.EventType, vsc *snapshotv1.VolumeSnapshotContent) (bool, bool) {
		if temp == "" && strings.HasPrefix(vsc.Name, "vsc-") && vsc.Spec.Source.SnapshotHandle != nil && *vsc.Spec.Source.SnapshotHandle == handle {
			temp = vsc.Name
			if ref := vsc.Spec.VolumeSnapshotRef; ref.Namespace != "ns-"+string(vscFinal.GetUID()) || vsc.Spec.Driver != e.Driver || vsc.Labels[LabelBackupName] != "nightly" {
				t.Errorf("temporary content %s: %+v, labels %v", vsc.Name, vsc.Spec, vsc.Labels)
			}
		}
		return vsc.Name == temp, !(vsc.Name == temp && ev == watch.Deleted)
	})
	if want := []string{"ADDED Delete", "DELETED Delete"}; !reflect.DeepEqual(seen, want) {
		t.Errorf("temporary content events %v, want %v", seen, want)
	}
}
