package csi

import (
	"context"
	"crypto/rand"
	"fmt"
	"time"

	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/builtin/internal/kube"
)

// tempContentGap is how long the deleter leaves its temporary content in
// place before deleting it (Velero's gap, which lets the snapshot
// controller see the content before its deletion).
const tempContentGap = 2 * time.Second

// volumeSnapshotContentDeleter is velero.io/csi-volumesnapshotcontent-delete.
// For a VolumeSnapshotContent that the deleted backup took (labelled
// velero.io/backup-name with the backup's name), it deletes the storage
// snapshot: it creates a temporary pre-provisioned content
// "vsc-<random UUID>" for the same snapshot handle with deletion policy
// Delete, bound to a VolumeSnapshot that does not exist, waits a short gap,
// and deletes it, letting the CSI snapshotter delete the snapshot. The
// content's labels and annotations (the delete secret's among them) are
// kept. Contents of other backups are left alone.
type volumeSnapshotContentDeleter struct {
	base
	// gap is the wait between creating and deleting the temporary content.
	gap time.Duration
}

func (a *volumeSnapshotContentDeleter) AppliesTo(context.Context) (rigging.ResourceSelector, error) {
	return rigging.ResourceSelector{IncludedResources: []string{selVolumeSnapshotContents}}, nil
}

func (a *volumeSnapshotContentDeleter) Execute(ctx context.Context, input *rigging.DeleteItemActionExecuteInput) error {
	var vsc snapshotv1.VolumeSnapshotContent
	if err := kube.Decode(a.name, input.Item, &vsc); err != nil {
		return err
	}
	what := describe(input.Item)
	backupName := ""
	if input.Backup != nil {
		backupName = input.Backup.Name
	}
	if backupName == "" || vsc.Labels[LabelBackupName] != validLabelValue(backupName) {
		a.log.Info("VolumeSnapshotContent was not taken by this backup; not deleting its snapshot", "content", vsc.Name, "backup", backupName)
		return nil
	}
	if vsc.Status == nil || vsc.Status.SnapshotHandle == nil || *vsc.Status.SnapshotHandle == "" {
		return a.errorf(what, "no status.snapshotHandle: cannot tell which snapshot to delete")
	}
	id, err := randomUUID()
	if err != nil {
		return a.errorf(what, "generate a name: %w", err)
	}
	temp := &snapshotv1.VolumeSnapshotContent{
		ObjectMeta: metav1.ObjectMeta{Name: "vsc-" + id, Labels: vsc.Labels, Annotations: vsc.Annotations},
		Spec: snapshotv1.VolumeSnapshotContentSpec{
			DeletionPolicy:   snapshotv1.VolumeSnapshotContentDelete,
			Driver:           vsc.Spec.Driver,
			Source:           snapshotv1.VolumeSnapshotContentSource{SnapshotHandle: vsc.Status.SnapshotHandle},
			SourceVolumeMode: vsc.Spec.SourceVolumeMode,
			VolumeSnapshotRef: corev1.ObjectReference{
				APIVersion: snapshotv1.SchemeGroupVersion.String(),
				Kind:       "VolumeSnapshot",
				Namespace:  "ns-" + string(vsc.UID),
				Name:       "name-" + string(vsc.UID),
			},
		},
	}
	c, err := a.client(ctx, what)
	if err != nil {
		return err
	}
	if _, err := c.SnapshotV1().VolumeSnapshotContents().Create(ctx, temp, metav1.CreateOptions{}); err != nil {
		return a.errorf(what, "create temporary VolumeSnapshotContent %s: %w", temp.Name, err)
	}
	a.log.Info("deleting storage snapshot through a temporary VolumeSnapshotContent", "content", vsc.Name, "temporary", temp.Name, "snapshotHandle", *vsc.Status.SnapshotHandle)
	if a.gap > 0 {
		t := time.NewTimer(a.gap)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
	}
	// Delete even if ctx ended during the gap: the temporary content must
	// not outlive the call.
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	if err := c.SnapshotV1().VolumeSnapshotContents().Delete(dctx, temp.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return a.errorf(what, "delete temporary VolumeSnapshotContent %s: %w", temp.Name, err)
	}
	return nil
}

// randomUUID returns a random (version 4) UUID.
func randomUUID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:]), nil
}

var _ rigging.DeleteItemAction = (*volumeSnapshotContentDeleter)(nil)
