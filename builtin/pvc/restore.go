package pvc

import (
	"context"
	"log/slog"

	corev1 "k8s.io/api/core/v1"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/builtin/internal/kube"
)

// Annotations the RestoreAction removes from a claim, as Velero v1.18 does:
// the binding and provisioning state of the source cluster, the node the
// source scheduler chose, and the markers of an earlier CSI snapshot or data
// upload.
var removedAnnotations = []string{
	"pv.kubernetes.io/bind-completed",
	"pv.kubernetes.io/bound-by-controller",
	"volume.kubernetes.io/storage-provisioner",
	"volume.beta.kubernetes.io/storage-provisioner",
	"volume.kubernetes.io/selected-node",
	"velero.io/volume-snapshot-name",
	"velero.io/data-upload-name",
}

// RestoreAction is the RestoreItemAction velero.io/pvc. It is safe for
// concurrent use.
type RestoreAction struct {
	log *slog.Logger
}

var _ rigging.RestoreItemAction = (*RestoreAction)(nil)

// AppliesTo selects PersistentVolumeClaims.
func (a *RestoreAction) AppliesTo(context.Context) (rigging.ResourceSelector, error) {
	return selector(), nil
}

// Execute returns a copy of input.Item (the input is not changed) without
// the annotations pv.kubernetes.io/bind-completed,
// pv.kubernetes.io/bound-by-controller,
// volume.kubernetes.io/storage-provisioner,
// volume.beta.kubernetes.io/storage-provisioner,
// volume.kubernetes.io/selected-node, velero.io/volume-snapshot-name and
// velero.io/data-upload-name (an annotation map left empty is removed),
// normalised as Velero's typed round trip normalises it (kube.Normalize).
// When the claim was bound in the backup (input.ItemFromBackup's
// status.phase Bound and spec.volumeName set; input.Item stands in when
// ItemFromBackup is nil) the PersistentVolume is the additional item, so it
// is restored before the claim.
func (a *RestoreAction) Execute(ctx context.Context, input *rigging.RestoreItemActionExecuteInput) (*rigging.RestoreItemActionExecuteOutput, error) {
	if input == nil || input.Item == nil {
		return nil, kube.Errorf(Name, nil, "%w", kube.ErrNilItem)
	}
	fromBackup := input.ItemFromBackup
	if fromBackup == nil {
		fromBackup = input.Item
	}
	var backedUp corev1.PersistentVolumeClaim
	if err := kube.Decode(Name, fromBackup, &backedUp); err != nil {
		return nil, err
	}

	pvc := input.Item.DeepCopy()
	if _, err := kube.RemoveKeys(pvc.Object, removedAnnotations, "metadata", "annotations"); err != nil {
		return nil, kube.Errorf(Name, input.Item, "%w", err)
	}
	typed, err := kube.Normalize[corev1.PersistentVolumeClaim](Name, pvc)
	if err != nil {
		return nil, err
	}
	out := &rigging.RestoreItemActionExecuteOutput{UpdatedItem: typed}
	if bound(&backedUp) {
		out.AdditionalItems = []rigging.ResourceIdentifier{kube.VolumeIdentifier(backedUp.Spec.VolumeName)}
		if kube.DebugEnabled(ctx, a.log) {
			a.log.Debug("restoring bound volume first", "claim", kube.Ref(input.Item), "volume", backedUp.Spec.VolumeName)
		}
	}
	return out, nil
}
