// Package pv ports Velero v1.18's BackupItemAction velero.io/pv: when a
// PersistentVolumeClaim is backed up, its bound PersistentVolume is backed up
// with it, and the claim is stored in the form that restores cleanly (no
// data source of an earlier restore, no stale selector, no stale Velero
// labels). The package registers the action in init; import it for its side
// effect.
package pv

import (
	"context"
	"log/slog"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/builtin/internal/kube"
	"github.com/rigging-dev/rigging/registry"
)

// Name is the registered name of the BackupItemAction.
const Name = "velero.io/pv"

// Velero labels a claim may carry from an earlier backup or restore.
const (
	labelVolumeSnapshotName = "velero.io/volume-snapshot-name"
	veleroLabelPrefix       = "velero.io/"
)

func init() {
	registry.Register(Name, func(log *slog.Logger) (rigging.BackupItemAction, error) {
		return &BackupAction{log: log}, nil
	})
}

// BackupAction is the BackupItemAction velero.io/pv. It is safe for
// concurrent use.
type BackupAction struct {
	log *slog.Logger
}

var _ rigging.BackupItemAction = (*BackupAction)(nil)

// AppliesTo selects PersistentVolumeClaims.
func (a *BackupAction) AppliesTo(context.Context) (rigging.ResourceSelector, error) {
	return rigging.ResourceSelector{IncludedResources: []string{"persistentvolumeclaims"}}, nil
}

// Execute returns an unbound claim (status.phase not Bound, or no
// spec.volumeName) itself, unmodified, with no additional items. For a bound
// claim it returns the PersistentVolume spec.volumeName as the additional
// item, and a copy of the claim (the input is not changed) where, as in
// Velero v1.18:
//   - spec.dataSource and spec.dataSourceRef are removed (left by an earlier
//     CSI restore);
//   - spec.selector is removed unless spec.storageClassName is "" (a claim
//     reserving a static volume keeps it); label keys starting with
//     "velero.io/" are removed from a kept selector's matchLabels;
//   - the labels velero.io/restore-name, velero.io/volume-snapshot-name,
//     backup.velero.io/must-include-additional-items, and
//     velero.io/backup-name when it names another backup, are removed.
func (a *BackupAction) Execute(ctx context.Context, item *unstructured.Unstructured, backup *rigging.Backup) (*unstructured.Unstructured, []rigging.ResourceIdentifier, error) {
	var pvc corev1.PersistentVolumeClaim
	if err := kube.Decode(Name, item, &pvc); err != nil {
		return nil, nil, err
	}
	if pvc.Status.Phase != corev1.ClaimBound || pvc.Spec.VolumeName == "" {
		return item, nil, nil
	}

	out := item.DeepCopy()
	unstructured.RemoveNestedField(out.Object, "spec", "dataSource")
	unstructured.RemoveNestedField(out.Object, "spec", "dataSourceRef")
	if pvc.Spec.StorageClassName == nil || *pvc.Spec.StorageClassName != "" {
		unstructured.RemoveNestedField(out.Object, "spec", "selector")
	} else if pvc.Spec.Selector != nil {
		var stale []string
		for k := range pvc.Spec.Selector.MatchLabels {
			if strings.HasPrefix(k, veleroLabelPrefix) {
				stale = append(stale, k)
			}
		}
		if _, err := kube.RemoveKeys(out.Object, stale, "spec", "selector", "matchLabels"); err != nil {
			return nil, nil, kube.Errorf(Name, item, "%w", err)
		}
	}

	backupName := ""
	if backup != nil {
		backupName = backup.Name
	}
	stale := []string{rigging.LabelRestoreName, labelVolumeSnapshotName, rigging.AnnotationBackupMustIncludeAdditionalItems}
	if v, ok := pvc.Labels[rigging.LabelBackupName]; ok && v != backupName {
		stale = append(stale, rigging.LabelBackupName)
	}
	if _, err := kube.RemoveKeys(out.Object, stale, "metadata", "labels"); err != nil {
		return nil, nil, kube.Errorf(Name, item, "%w", err)
	}
	if kube.DebugEnabled(ctx, a.log) {
		a.log.Debug("adding bound volume", "claim", kube.Ref(item), "volume", pvc.Spec.VolumeName)
	}
	return out, []rigging.ResourceIdentifier{kube.VolumeIdentifier(pvc.Spec.VolumeName)}, nil
}
