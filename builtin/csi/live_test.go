package csi

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"os"
	"strings"
	"testing"

	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	"github.com/kubernetes-csi/external-snapshotter/client/v8/clientset/versioned"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/internal/testcluster"
)

// The tests in this file run the actions against a real API server with
// the external-snapshotter v8 CRDs (internal/testcluster); the test plays
// the snapshot controller and the CSI driver (testcluster's
// RunSnapshotController), which the test cluster does not run.

func TestMain(m *testing.M) {
	os.Exit(testcluster.Main(m, testcluster.Options{}))
}

// liveEnv is a namespace of the test API server holding claim "data",
// bound to a CSI volume of a driver of its own, with a StorageClass and a
// VolumeSnapshotClass (labelled as Velero picks it) of that driver.
type liveEnv struct {
	cluster *testcluster.Cluster
	snaps   versioned.Interface
	core    kubernetes.Interface
	dyn     dynamic.Interface
	ns      string
	driver  string
	class   string
}

// newLiveEnv makes a liveEnv; names are unique to the test (nothing in the
// test cluster deletes a namespace).
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
	e.ns = newNamespace(t, e.core, "csi")
	e.driver = e.ns + ".csi.example.com"
	e.class = e.ns + "-snapclass"
	ctx := context.Background()
	sc := &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: e.ns + "-sc"}, Provisioner: e.driver}
	if _, err := e.core.StorageV1().StorageClasses().Create(ctx, sc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	vsc := &snapshotv1.VolumeSnapshotClass{
		ObjectMeta:     metav1.ObjectMeta{Name: e.class, Labels: map[string]string{LabelVolumeSnapshotClassSelector: "true"}},
		Driver:         e.driver,
		DeletionPolicy: snapshotv1.VolumeSnapshotContentDelete,
	}
	if _, err := e.snaps.SnapshotV1().VolumeSnapshotClasses().Create(ctx, vsc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.claim(t, e.ns, "data")
	return e
}

// newNamespace creates a namespace named prefix-<random>.
func newNamespace(t *testing.T, core kubernetes.Interface, prefix string) string {
	t.Helper()
	name := prefix + "-" + strings.ToLower(rand.Text()[:10])
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if _, err := core.CoreV1().Namespaces().Create(context.Background(), ns, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return name
}

// claim creates claim name of 1Gi in namespace ns, bound (status set as
// the volume controller would) to a new CSI volume of the env's driver.
func (e *liveEnv) claim(t *testing.T, ns, name string) {
	t.Helper()
	ctx := context.Background()
	scName := e.ns + "-sc"
	size := resource.MustParse("1Gi")
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: ns + "-" + name},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: size},
			AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimDelete,
			StorageClassName:              scName,
			ClaimRef:                      &corev1.ObjectReference{Kind: "PersistentVolumeClaim", APIVersion: "v1", Namespace: ns, Name: name},
			PersistentVolumeSource: corev1.PersistentVolumeSource{
				CSI: &corev1.CSIPersistentVolumeSource{Driver: e.driver, VolumeHandle: "vol-" + ns + "-" + name},
			},
		},
	}
	pv, err := e.core.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pv.Status.Phase = corev1.VolumeBound
	if _, err := e.core.CoreV1().PersistentVolumes().UpdateStatus(ctx, pv, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	pvc := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"app": "db"}},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			StorageClassName: &scName,
			VolumeName:       pv.Name,
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: size}},
		},
	}
	pvc, err = e.core.CoreV1().PersistentVolumeClaims(ns).Create(ctx, pvc, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pvc.Status.Phase = corev1.ClaimBound
	pvc.Status.Capacity = corev1.ResourceList{corev1.ResourceStorage: size}
	pvc.Status.AccessModes = pvc.Spec.AccessModes
	if _, err := e.core.CoreV1().PersistentVolumeClaims(ns).UpdateStatus(ctx, pvc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
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

// waitSnapshot watches VolumeSnapshot ns/name until cond holds for it.
func (e *liveEnv) waitSnapshot(t *testing.T, ns, name string, cond func(*snapshotv1.VolumeSnapshot) bool) *snapshotv1.VolumeSnapshot {
	t.Helper()
	ctx := t.Context()
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
	t.Fatalf("watch of VolumeSnapshot %s/%s ended", ns, name)
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
				ObjectMeta: metav1.ObjectMeta{GenerateName: "velero-data-", Namespace: e.ns},
				Spec:       snapshotv1.VolumeSnapshotSpec{Source: snapshotv1.VolumeSnapshotSource{PersistentVolumeClaimName: new("data")}, VolumeSnapshotClassName: &e.class},
			}
			vs, err := e.snaps.SnapshotV1().VolumeSnapshots(e.ns).Create(ctx, vs, metav1.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			// The snapshot controller binds it; the backup reads it then.
			e.cluster.RunSnapshotController(t, testcluster.SnapshotController{Namespace: e.ns, RestoreSize: 1 << 30,
				ReadyWhen: func(v *snapshotv1.VolumeSnapshot) bool { return v.Labels["test/ready"] == "yes" }})
			bound := e.waitSnapshot(t, e.ns, vs.Name, func(v *snapshotv1.VolumeSnapshot) bool {
				return v.Status != nil && v.Status.BoundVolumeSnapshotContentName != nil
			})
			item := e.get(t, gvrVolumeSnapshots, e.ns, vs.Name)
			if !tt.typeMeta {
				delete(item.Object, "apiVersion")
				delete(item.Object, "kind")
			}
			// Then the snapshot becomes ready, after the backup read it.
			if _, err := e.snaps.SnapshotV1().VolumeSnapshots(e.ns).Patch(ctx, vs.Name, "application/merge-patch+json",
				[]byte(`{"metadata":{"labels":{"test/ready":"yes"}}}`), metav1.PatchOptions{}); err != nil {
				t.Fatal(err)
			}
			e.waitSnapshot(t, e.ns, vs.Name, ready)

			a := &volumeSnapshotBackupper{base: newBase(VolumeSnapshotBackupperName, nil)}
			a.clients = factory(e.snaps)
			backup := &rigging.Backup{ObjectMeta: metav1.ObjectMeta{Name: "nightly", Namespace: "velero"}}
			out, _, _, _, err := a.Execute(ctx, item, backup)
			if err != nil {
				t.Fatal(err)
			}
			// Nothing changed the snapshot since the patch: the patch's
			// answer is the object as it is now.
			live, err := e.snaps.SnapshotV1().VolumeSnapshots(e.ns).Get(ctx, vs.Name, metav1.GetOptions{})
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
