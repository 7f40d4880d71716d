package testcluster

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	"github.com/kubernetes-csi/external-snapshotter/client/v8/clientset/versioned"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"

	"github.com/rigging-dev/rigging/manifest"
)

// CSIClaim names the objects SeedCSIClaim creates.
type CSIClaim struct {
	// Namespace and Name are the claim's.
	Namespace, Name string
	// Volume is the name of its PersistentVolume, a CSI volume of Driver
	// with handle "vol-<namespace>-<name>".
	Volume string
	// Driver is the CSI driver, "<namespace>.csi.example.com": of the
	// namespace alone, so that no other test's classes are candidates.
	Driver string
	// StorageClass is the claim's class ("<namespace>-sc", provisioner
	// Driver); SnapshotClass is the driver's VolumeSnapshotClass
	// ("<namespace>-snapclass", deletion policy Delete), labelled
	// velero.io/csi-volumesnapshot-class as Velero picks it.
	StorageClass, SnapshotClass string
}

// csiClaimManifests is what SeedCSIClaim creates; NS and NAME are replaced.
const csiClaimManifests = `
apiVersion: v1
kind: Namespace
metadata: {name: NS}
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: NS-sc}
provisioner: NS.csi.example.com
---
apiVersion: snapshot.storage.k8s.io/v1
kind: VolumeSnapshotClass
metadata:
  name: NS-snapclass
  labels: {velero.io/csi-volumesnapshot-class: "true"}
driver: NS.csi.example.com
deletionPolicy: Delete
---
apiVersion: v1
kind: PersistentVolume
metadata: {name: NS-NAME}
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Delete
  storageClassName: NS-sc
  claimRef: {apiVersion: v1, kind: PersistentVolumeClaim, namespace: NS, name: NAME}
  csi: {driver: NS.csi.example.com, volumeHandle: vol-NS-NAME}
status: {phase: Bound}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: NAME, namespace: NS, labels: {app: db}}
spec:
  accessModes: [ReadWriteOnce]
  storageClassName: NS-sc
  volumeName: NS-NAME
  resources: {requests: {storage: 1Gi}}
status: {phase: Bound, accessModes: [ReadWriteOnce], capacity: {storage: 1Gi}}
`

// SeedCSIClaim creates namespace ns holding claim name, bound (its status
// set as the volume controller would) to a CSI volume of a driver of its
// own, with that driver's StorageClass and VolumeSnapshotClass: what
// Velero's CSI actions snapshot. ns must be new (the test cluster never
// deletes a namespace). It fails t on error.
func (c *Cluster) SeedCSIClaim(t testing.TB, ns, name string) CSIClaim {
	t.Helper()
	text := strings.NewReplacer("NS", ns, "NAME", name).Replace(csiClaimManifests)
	objs, err := manifest.Decode(strings.NewReader(text), "SeedCSIClaim")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Seed(context.Background(), objs); err != nil {
		t.Fatal(err)
	}
	return CSIClaim{Namespace: ns, Name: name, Volume: ns + "-" + name, Driver: ns + ".csi.example.com",
		StorageClass: ns + "-sc", SnapshotClass: ns + "-snapclass"}
}

// SnapshotController says how RunSnapshotController plays the
// external-snapshotter's snapshot controller and a CSI driver.
type SnapshotController struct {
	// Namespace is the namespace whose VolumeSnapshots it serves.
	Namespace string
	// RestoreSize is the size, in bytes, of every snapshot it takes.
	RestoreSize int64
	// ReadyWhen says whether a bound snapshot of a claim is ready to use
	// now; it is asked again at each change of the VolumeSnapshot. Nil: at
	// once.
	ReadyWhen func(*snapshotv1.VolumeSnapshot) bool
}

// SnapshotContentName is the name RunSnapshotController gives the
// VolumeSnapshotContent of the VolumeSnapshot with uid (the snapshot
// controller's "snapcontent-<uid>").
func SnapshotContentName(uid string) string { return "snapcontent-" + uid }

// SnapshotHandle is the storage snapshot handle RunSnapshotController's
// driver gives the snapshot of the VolumeSnapshot with uid.
func SnapshotHandle(uid string) string { return "snap-" + uid }

// RunSnapshotController acts, until t ends, as the snapshot controller and
// the CSI driver do for the VolumeSnapshots of sc.Namespace, through the API
// server (the test cluster runs no controllers):
//
//   - a snapshot of a claim (spec.source.persistentVolumeClaimName) gets a
//     VolumeSnapshotContent SnapshotContentName(uid) of the claim's CSI
//     volume's driver, with the deletion policy of its VolumeSnapshotClass;
//     the content's status gets SnapshotHandle(uid), the restore size and a
//     creation time, and the snapshot's status is bound to it, both not
//     ready; once sc.ReadyWhen says so, both are marked ready to use;
//   - a pre-provisioned snapshot (spec.source.volumeSnapshotContentName)
//     is bound to its content, whose status gets the handle of its
//     spec.source.snapshotHandle, both ready to use.
//
// A snapshot it cannot serve (no such claim, volume or content) fails t.
func (c *Cluster) RunSnapshotController(t testing.TB, sc SnapshotController) {
	t.Helper()
	snaps, err := versioned.NewForConfig(c.Config())
	if err != nil {
		t.Fatal(err)
	}
	core, err := kubernetes.NewForConfig(c.Config())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() {
		cancel()
		wg.Wait()
	})
	p := &snapshotPlayer{sc: sc, snaps: snaps, core: core}
	wg.Go(func() {
		if err := p.run(ctx); err != nil && ctx.Err() == nil {
			t.Errorf("testcluster snapshot controller: %v", err)
		}
	})
}

type snapshotPlayer struct {
	sc    SnapshotController
	snaps versioned.Interface
	core  kubernetes.Interface
}

// run serves the namespace's snapshots until ctx ends: it lists them, then
// follows a watch from the list's resourceVersion, listing again when the
// watch ends.
func (p *snapshotPlayer) run(ctx context.Context) error {
	api := p.snaps.SnapshotV1().VolumeSnapshots(p.sc.Namespace)
	for ctx.Err() == nil {
		list, err := api.List(ctx, metav1.ListOptions{})
		if err != nil {
			return fmt.Errorf("list VolumeSnapshots of %s: %w", p.sc.Namespace, err)
		}
		for i := range list.Items {
			if err := p.serve(ctx, &list.Items[i]); err != nil {
				return err
			}
		}
		w, err := api.Watch(ctx, metav1.ListOptions{ResourceVersion: list.ResourceVersion})
		if err != nil {
			return fmt.Errorf("watch VolumeSnapshots of %s: %w", p.sc.Namespace, err)
		}
		err = p.follow(ctx, w)
		w.Stop()
		if err != nil {
			return err
		}
	}
	return nil
}

func (p *snapshotPlayer) follow(ctx context.Context, w watch.Interface) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.ResultChan():
			if !ok {
				return nil
			}
			vs, isVS := ev.Object.(*snapshotv1.VolumeSnapshot)
			if !isVS || (ev.Type != watch.Added && ev.Type != watch.Modified) {
				continue
			}
			if err := p.serve(ctx, vs); err != nil {
				return err
			}
		}
	}
}

// serve does what the controller would do next for vs. An object that
// is gone meanwhile is not an error.
func (p *snapshotPlayer) serve(ctx context.Context, vs *snapshotv1.VolumeSnapshot) error {
	if vs.DeletionTimestamp != nil {
		return nil
	}
	var err error
	switch src := vs.Spec.Source; {
	case src.VolumeSnapshotContentName != nil:
		err = p.bindStatic(ctx, vs, *src.VolumeSnapshotContentName)
	case src.PersistentVolumeClaimName != nil && (vs.Status == nil || vs.Status.BoundVolumeSnapshotContentName == nil):
		err = p.take(ctx, vs, *src.PersistentVolumeClaimName)
	case src.PersistentVolumeClaimName != nil && (vs.Status.ReadyToUse == nil || !*vs.Status.ReadyToUse):
		if p.sc.ReadyWhen == nil || p.sc.ReadyWhen(vs) {
			err = p.setStatus(ctx, vs, *vs.Status.BoundVolumeSnapshotContentName, nil, true)
		}
	}
	if apierrors.IsNotFound(err) && ctx.Err() == nil {
		if _, getErr := p.snaps.SnapshotV1().VolumeSnapshots(vs.Namespace).Get(ctx, vs.Name, metav1.GetOptions{}); apierrors.IsNotFound(getErr) {
			return nil
		}
	}
	if err != nil {
		return fmt.Errorf("VolumeSnapshot %s/%s: %w", vs.Namespace, vs.Name, err)
	}
	return nil
}

// take snapshots the claim's volume: a new content and both statuses,
// not ready.
func (p *snapshotPlayer) take(ctx context.Context, vs *snapshotv1.VolumeSnapshot, claim string) error {
	pvc, err := p.core.CoreV1().PersistentVolumeClaims(vs.Namespace).Get(ctx, claim, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("get its claim: %w", err)
	}
	pv, err := p.core.CoreV1().PersistentVolumes().Get(ctx, pvc.Spec.VolumeName, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("get the claim's volume: %w", err)
	}
	if pv.Spec.CSI == nil {
		return fmt.Errorf("volume %s is not a CSI volume", pv.Name)
	}
	policy := snapshotv1.VolumeSnapshotContentDelete
	if vs.Spec.VolumeSnapshotClassName != nil {
		class, err := p.snaps.SnapshotV1().VolumeSnapshotClasses().Get(ctx, *vs.Spec.VolumeSnapshotClassName, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("get its class: %w", err)
		}
		policy = class.DeletionPolicy
	}
	uid := string(vs.UID)
	mode := corev1.PersistentVolumeFilesystem
	if pvc.Spec.VolumeMode != nil {
		mode = *pvc.Spec.VolumeMode
	}
	content := &snapshotv1.VolumeSnapshotContent{
		ObjectMeta: metav1.ObjectMeta{Name: SnapshotContentName(uid)},
		Spec: snapshotv1.VolumeSnapshotContentSpec{
			DeletionPolicy:          policy,
			Driver:                  pv.Spec.CSI.Driver,
			Source:                  snapshotv1.VolumeSnapshotContentSource{VolumeHandle: &pv.Spec.CSI.VolumeHandle},
			SourceVolumeMode:        &mode,
			VolumeSnapshotClassName: vs.Spec.VolumeSnapshotClassName,
			VolumeSnapshotRef: corev1.ObjectReference{
				APIVersion: snapshotv1.SchemeGroupVersion.String(), Kind: "VolumeSnapshot",
				Namespace: vs.Namespace, Name: vs.Name, UID: vs.UID, ResourceVersion: vs.ResourceVersion,
			},
		},
	}
	if _, err := p.snaps.SnapshotV1().VolumeSnapshotContents().Create(ctx, content, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create its content: %w", err)
	}
	handle := SnapshotHandle(uid)
	return p.setStatus(ctx, vs, content.Name, &handle, false)
}

// bindStatic binds a pre-provisioned snapshot to its content, ready.
func (p *snapshotPlayer) bindStatic(ctx context.Context, vs *snapshotv1.VolumeSnapshot, name string) error {
	if vs.Status != nil && vs.Status.ReadyToUse != nil && *vs.Status.ReadyToUse {
		return nil
	}
	content, err := p.snaps.SnapshotV1().VolumeSnapshotContents().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("get its content: %w", err)
	}
	if content.Spec.Source.SnapshotHandle == nil {
		return fmt.Errorf("content %s has no spec.source.snapshotHandle", name)
	}
	return p.setStatus(ctx, vs, name, content.Spec.Source.SnapshotHandle, true)
}

// setStatus writes the content's status (its handle when handle is not
// nil, the restore size, readiness) and then the snapshot's, through the
// status subresource.
func (p *snapshotPlayer) setStatus(ctx context.Context, vs *snapshotv1.VolumeSnapshot, content string, handle *string, ready bool) error {
	contents := p.snaps.SnapshotV1().VolumeSnapshotContents()
	size := p.sc.RestoreSize
	var created *int64
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := contents.Get(ctx, content, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if cur.Status == nil {
			cur.Status = &snapshotv1.VolumeSnapshotContentStatus{}
		}
		if handle != nil {
			cur.Status.SnapshotHandle = handle
		}
		if cur.Status.CreationTime == nil {
			now := metav1.Now().UnixNano()
			cur.Status.CreationTime = &now
		}
		created = cur.Status.CreationTime
		cur.Status.RestoreSize = &size
		cur.Status.ReadyToUse = &ready
		_, err = contents.UpdateStatus(ctx, cur, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return fmt.Errorf("set the status of content %s: %w", content, err)
	}
	snaps := p.snaps.SnapshotV1().VolumeSnapshots(vs.Namespace)
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := snaps.Get(ctx, vs.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if cur.Status == nil {
			cur.Status = &snapshotv1.VolumeSnapshotStatus{}
		}
		at := metav1.Unix(0, *created)
		cur.Status.BoundVolumeSnapshotContentName = &content
		cur.Status.CreationTime = &at
		cur.Status.ReadyToUse = &ready
		cur.Status.RestoreSize = resource.NewQuantity(size, resource.BinarySI)
		_, err = snaps.UpdateStatus(ctx, cur, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return fmt.Errorf("set its status: %w", err)
	}
	return nil
}
