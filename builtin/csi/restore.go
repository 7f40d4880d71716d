package csi

import (
	"context"
	"errors"
	"fmt"

	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/builtin/internal/kube"
)

// skip is the output of a restore action that skips its item.
func skip(item *unstructured.Unstructured) *rigging.RestoreItemActionExecuteOutput {
	return &rigging.RestoreItemActionExecuteOutput{UpdatedItem: item, SkipRestore: true}
}

func restoreUID(r *rigging.Restore) string {
	if r == nil {
		return ""
	}
	return string(r.UID)
}

// volumeSnapshotClassRestorer is velero.io/csi-volumesnapshotclass-restorer:
// it skips classes when the restore does not restore volumes and otherwise
// restores the class's list secret first. It needs no cluster.
type volumeSnapshotClassRestorer struct {
	base
	noRestoreOperations
}

func (a *volumeSnapshotClassRestorer) AppliesTo(context.Context) (rigging.ResourceSelector, error) {
	return rigging.ResourceSelector{IncludedResources: []string{selVolumeSnapshotClasses}}, nil
}

func (a *volumeSnapshotClassRestorer) Execute(_ context.Context, input *rigging.RestoreItemActionExecuteInput) (*rigging.RestoreItemActionExecuteOutput, error) {
	if !restoresPVs(input.Restore) {
		return skip(input.Item), nil
	}
	out := &rigging.RestoreItemActionExecuteOutput{UpdatedItem: input.Item}
	if s, ok := secretRef(input.Item, AnnotationListerSecretName, AnnotationListerSecretNamespace); ok {
		out.AdditionalItems = []rigging.ResourceIdentifier{s}
	}
	return out, nil
}

// volumeSnapshotRestorer is velero.io/csi-volumesnapshot-restorer: it turns
// a VolumeSnapshot taken from a claim into one statically bound to the
// VolumeSnapshotContent the content restorer re-creates from the snapshot
// handle, both named RestoredName(restore UID, snapshot name). It needs no
// cluster.
type volumeSnapshotRestorer struct {
	base
	noRestoreOperations
}

func (a *volumeSnapshotRestorer) AppliesTo(context.Context) (rigging.ResourceSelector, error) {
	return rigging.ResourceSelector{IncludedResources: []string{selVolumeSnapshots}}, nil
}

func (a *volumeSnapshotRestorer) Execute(_ context.Context, input *rigging.RestoreItemActionExecuteInput) (*rigging.RestoreItemActionExecuteOutput, error) {
	if !restoresPVs(input.Restore) {
		return skip(input.Item), nil
	}
	fromBackup := input.ItemFromBackup
	if fromBackup == nil {
		fromBackup = input.Item
	}
	if h := fromBackup.GetAnnotations()[AnnotationVolumeGroupSnapshotHandle]; h != "" {
		a.log.Warn("VolumeSnapshot was taken in a volume group snapshot; no stub VolumeGroupSnapshotContent is created (not supported)",
			"volumesnapshot", describe(fromBackup), "groupSnapshotHandle", h)
	}
	bound, _, err := nestedString(fromBackup, "status", "boundVolumeSnapshotContentName")
	if err != nil {
		return nil, a.errorf(describe(fromBackup), "%w", err)
	}
	if bound == "" {
		return nil, a.errorf(describe(fromBackup), "it is bound to no VolumeSnapshotContent in the backup")
	}
	name := RestoredName(restoreUID(input.Restore), fromBackup.GetName())
	item := input.Item.DeepCopy()
	item.SetName(name)
	unstructured.RemoveNestedField(item.Object, "spec", "source", "persistentVolumeClaimName")
	unstructured.RemoveNestedField(item.Object, "spec", "volumeSnapshotClassName")
	if err := set(item, name, "spec", "source", "volumeSnapshotContentName"); err != nil {
		return nil, a.errorf(describe(input.Item), "%w", err)
	}
	addAnnotations(item, map[string]string{
		AnnotationVSCDeletionPolicy:                         string(snapshotv1.VolumeSnapshotContentRetain),
		rigging.AnnotationRestoreMustIncludeAdditionalItems: "true",
	})
	out, err := kube.Normalize[snapshotv1.VolumeSnapshot](a.name, item)
	if err != nil {
		return nil, err
	}
	return &rigging.RestoreItemActionExecuteOutput{
		UpdatedItem:     out,
		AdditionalItems: []rigging.ResourceIdentifier{{GroupResource: grVolumeSnapshotContents, Name: bound}},
	}, nil
}

// volumeSnapshotContentRestorer is
// velero.io/csi-volumesnapshotcontent-restorer: it re-creates a content as a
// pre-provisioned snapshot (source.snapshotHandle, deletionPolicy Retain)
// bound to the restored VolumeSnapshot. It lists the target cluster's
// VolumeSnapshotClasses to pick one of the same driver; without a cluster
// it logs a warning and leaves the class unset, as Velero does when the
// list fails.
type volumeSnapshotContentRestorer struct {
	base
	noRestoreOperations
}

func (a *volumeSnapshotContentRestorer) AppliesTo(context.Context) (rigging.ResourceSelector, error) {
	return rigging.ResourceSelector{IncludedResources: []string{selVolumeSnapshotContents}}, nil
}

func (a *volumeSnapshotContentRestorer) Execute(ctx context.Context, input *rigging.RestoreItemActionExecuteInput) (*rigging.RestoreItemActionExecuteOutput, error) {
	if !restoresPVs(input.Restore) {
		return skip(input.Item), nil
	}
	fromBackup := input.ItemFromBackup
	if fromBackup == nil {
		fromBackup = input.Item
	}
	what := describe(input.Item)
	item := input.Item.DeepCopy()

	refNS, _, err := nestedString(item, "spec", "volumeSnapshotRef", "namespace")
	if err != nil {
		return nil, a.errorf(what, "%w", err)
	}
	if input.Restore != nil {
		if to, ok := input.Restore.Spec.NamespaceMapping[refNS]; ok {
			if err := set(item, to, "spec", "volumeSnapshotRef", "namespace"); err != nil {
				return nil, a.errorf(what, "%w", err)
			}
		}
	}
	refName, _, err := nestedString(fromBackup, "spec", "volumeSnapshotRef", "name")
	if err != nil {
		return nil, a.errorf(what, "%w", err)
	}
	name := RestoredName(restoreUID(input.Restore), refName)
	item.SetName(name)
	if err := set(item, name, "spec", "volumeSnapshotRef", "name"); err != nil {
		return nil, a.errorf(what, "%w", err)
	}
	unstructured.RemoveNestedField(item.Object, "spec", "volumeSnapshotRef", "resourceVersion")
	unstructured.RemoveNestedField(item.Object, "spec", "volumeSnapshotRef", "uid")
	if err := set(item, string(snapshotv1.VolumeSnapshotContentRetain), "spec", "deletionPolicy"); err != nil {
		return nil, a.errorf(what, "%w", err)
	}
	handle, _, err := nestedString(fromBackup, "status", "snapshotHandle")
	if err != nil {
		return nil, a.errorf(what, "%w", err)
	}
	if handle == "" {
		return nil, a.errorf(what, "no status.snapshotHandle in the backup")
	}
	if err := set(item, map[string]any{"snapshotHandle": handle}, "spec", "source"); err != nil {
		return nil, a.errorf(what, "%w", err)
	}

	unstructured.RemoveNestedField(item.Object, "spec", "volumeSnapshotClassName")
	driver, _, err := nestedString(item, "spec", "driver")
	if err != nil {
		return nil, a.errorf(what, "%w", err)
	}
	if class, err := a.classForDriver(ctx, what, driver); err != nil {
		a.log.Warn("cannot pick a VolumeSnapshotClass for the restored content; leaving it unset", "content", what, "driver", driver, "error", err)
	} else if class != "" {
		if err := set(item, class, "spec", "volumeSnapshotClassName"); err != nil {
			return nil, a.errorf(what, "%w", err)
		}
	}

	normal, err := kube.Normalize[snapshotv1.VolumeSnapshotContent](a.name, item)
	if err != nil {
		return nil, err
	}
	out := &rigging.RestoreItemActionExecuteOutput{UpdatedItem: normal}
	if s, ok := secretRef(normal, AnnotationSnapshotterSecretName, AnnotationSnapshotterSecretNamespace); ok {
		out.AdditionalItems = []rigging.ResourceIdentifier{s}
	}
	return out, nil
}

// classForDriver returns the first VolumeSnapshotClass of the cluster whose
// driver is driver, or "".
func (a *volumeSnapshotContentRestorer) classForDriver(ctx context.Context, what, driver string) (string, error) {
	c, err := a.client(ctx, what)
	if err != nil {
		return "", err
	}
	list, err := c.SnapshotV1().VolumeSnapshotClasses().List(ctx, metav1.ListOptions{})
	if err != nil {
		return "", fmt.Errorf("list VolumeSnapshotClasses: %w", err)
	}
	for _, cl := range list.Items {
		if cl.Driver == driver {
			return cl.Name, nil
		}
	}
	return "", nil
}

// pvcRestorer is velero.io/csi-pvc-restorer: it points a claim whose volume
// was backed up by a CSI snapshot at the restored VolumeSnapshot, and
// restores that snapshot first. It needs no cluster.
type pvcRestorer struct {
	base
	noRestoreOperations
}

func (a *pvcRestorer) AppliesTo(context.Context) (rigging.ResourceSelector, error) {
	return rigging.ResourceSelector{IncludedResources: []string{"persistentvolumeclaims"}}, nil
}

func (a *pvcRestorer) Execute(ctx context.Context, input *rigging.RestoreItemActionExecuteInput) (*rigging.RestoreItemActionExecuteOutput, error) {
	what := describe(input.Item)
	fromBackup := input.ItemFromBackup
	if fromBackup == nil {
		fromBackup = input.Item
	}
	unchanged := &rigging.RestoreItemActionExecuteOutput{UpdatedItem: input.Item}
	item := input.Item.DeepCopy()
	if !restoresPVs(input.Restore) {
		unstructured.RemoveNestedField(item.Object, "spec", "volumeName")
		unstructured.RemoveNestedField(item.Object, "spec", "dataSource")
		unstructured.RemoveNestedField(item.Object, "spec", "dataSourceRef")
		out, err := kube.Normalize[corev1.PersistentVolumeClaim](a.name, item)
		if err != nil {
			return nil, err
		}
		return &rigging.RestoreItemActionExecuteOutput{UpdatedItem: out}, nil
	}

	annotations := fromBackup.GetAnnotations()
	moved, err := a.dataMoved(ctx, input.Restore, fromBackup)
	if err != nil {
		return nil, a.errorf(what, "%w", err)
	}
	if moved {
		if _, ok := annotations[AnnotationDataUploadName]; !ok {
			a.log.Warn("claim has no DataUpload in a data-mover backup; restoring it as it is", "pvc", what)
			return unchanged, nil
		}
		return nil, a.errorf(what, "its data was moved by DataUpload %s: %w", annotations[AnnotationDataUploadName], ErrDataMoverUnsupported)
	}

	vsName, ok := annotations[AnnotationVolumeSnapshotName]
	if !ok {
		return unchanged, nil
	}
	restored := RestoredName(restoreUID(input.Restore), vsName)
	unstructured.RemoveNestedField(item.Object, "spec", "volumeName")
	unstructured.RemoveNestedField(item.Object, "spec", "dataSourceRef")
	if err := set(item, map[string]any{"apiGroup": snapshotv1.GroupName, "kind": "VolumeSnapshot", "name": restored}, "spec", "dataSource"); err != nil {
		return nil, a.errorf(what, "%w", err)
	}
	addAnnotations(item, map[string]string{rigging.AnnotationRestoreMustIncludeAdditionalItems: "true"})
	out, err := kube.Normalize[corev1.PersistentVolumeClaim](a.name, item)
	if err != nil {
		return nil, err
	}
	a.log.Info("restoring claim from CSI snapshot", "pvc", what, "volumesnapshot", vsName, "restoredAs", restored)
	return &rigging.RestoreItemActionExecuteOutput{
		UpdatedItem:     out,
		AdditionalItems: []rigging.ResourceIdentifier{{GroupResource: grVolumeSnapshots, Namespace: item.GetNamespace(), Name: vsName}},
	}, nil
}

// dataMoved reports whether the restore's backup moved snapshot data: from
// the Backup's spec.snapshotMoveData when the Lookup has the Backup, else
// from the claim's DataUpload annotation.
func (a *pvcRestorer) dataMoved(ctx context.Context, restore *rigging.Restore, claim *unstructured.Unstructured) (bool, error) {
	if restore != nil && restore.Spec.BackupName != "" {
		b, err := rigging.LookupFrom(ctx).Get(ctx, grBackups, restore.Namespace, restore.Spec.BackupName)
		switch {
		case err == nil:
			moved, _, err := unstructured.NestedBool(b.Object, "spec", "snapshotMoveData")
			if err != nil {
				return false, fmt.Errorf("backup %s: read spec.snapshotMoveData: %w", restore.Spec.BackupName, err)
			}
			return moved, nil
		case !errors.Is(err, rigging.ErrNotFound):
			return false, fmt.Errorf("look up backup %s: %w", restore.Spec.BackupName, err)
		}
	}
	_, ok := claim.GetAnnotations()[AnnotationDataUploadName]
	return ok, nil
}

var (
	_ rigging.RestoreItemActionV2 = (*volumeSnapshotClassRestorer)(nil)
	_ rigging.RestoreItemActionV2 = (*volumeSnapshotRestorer)(nil)
	_ rigging.RestoreItemActionV2 = (*volumeSnapshotContentRestorer)(nil)
	_ rigging.RestoreItemActionV2 = (*pvcRestorer)(nil)
)
