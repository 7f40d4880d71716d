package csi

import (
	"log/slog"
	"testing"

	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	"github.com/kubernetes-csi/external-snapshotter/client/v8/clientset/versioned"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/manager"
)

// TestThroughManager runs the two backup actions of a CSI backup as a host
// does: obtained from a Manager (with its middleware), the clientset given
// with SetClientFactory, the other objects in the context's Lookup. The
// operation's Progress goes from not ready to ready as the fake snapshot
// controller works.
func TestThroughManager(t *testing.T) {
	s := loadScenario(t)
	c := newFake(typed[snapshotv1.VolumeSnapshotClass](t, s.find(t, "VolumeSnapshotClass", "", "ebs-csi-snapclass")))
	controller{driver: "ebs.csi.aws.com", handleAfter: 1, restoreSize: 8 << 30}.install(t, c)
	SetClientFactory(func() (versioned.Interface, error) { return c, nil })
	t.Cleanup(func() { SetClientFactory(nil) })

	m := manager.New(manager.Options{Logger: slog.New(slog.DiscardHandler)})
	t.Cleanup(func() { _ = m.Close() })
	ctx := s.ctx()
	pvcAction, err := manager.Get[rigging.BackupItemActionV2](ctx, m, "csi-pvc-backupper")
	if err != nil {
		t.Fatal(err)
	}
	vsAction, err := manager.Get[rigging.BackupItemActionV2](ctx, m, "velero.io/csi-volumesnapshot-backupper")
	if err != nil {
		t.Fatal(err)
	}
	if pvcAction.Name() != PVCBackupperName || vsAction.Name() != VolumeSnapshotBackupperName {
		t.Errorf("names %s, %s", pvcAction.Name(), vsAction.Name())
	}
	backup := &rigging.Backup{ObjectMeta: metav1.ObjectMeta{Name: "nightly-20240314", Namespace: "velero"}}

	// The fake controller gives the handle on the first look, so the
	// default 5 s poll interval is never waited for.
	_, extra, _, _, err := pvcAction.Execute(ctx, s.find(t, "PersistentVolumeClaim", "shop", "data-postgres-0"), backup)
	if err != nil {
		t.Fatal(err)
	}
	vs, err := c.SnapshotV1().VolumeSnapshots("shop").Get(ctx, extra[0].Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, _, opID, _, err := vsAction.Execute(ctx, toItem(t, vs, "VolumeSnapshot"), backup)
	if err != nil || opID == "" {
		t.Fatalf("operation %q, %v", opID, err)
	}
	p, err := vsAction.Progress(ctx, opID, backup)
	if err != nil || p.Completed {
		t.Fatalf("before the content is ready: %+v, %v", p, err)
	}
	content, err := c.SnapshotV1().VolumeSnapshotContents().Get(ctx, *vs.Status.BoundVolumeSnapshotContentName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ready := true
	content.Status.ReadyToUse = &ready
	if _, err := c.SnapshotV1().VolumeSnapshotContents().Update(ctx, content, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if p, err = vsAction.Progress(ctx, opID, backup); err != nil || !p.Completed || p.Err != "" {
		t.Fatalf("after: %+v, %v", p, err)
	}
}
