// Package pvc ports Velero v1.18's built-in actions on
// PersistentVolumeClaims:
//
//   - ItemBlockAction velero.io/pvc: a bound claim's item block holds its
//     PersistentVolume, the running pods that mount it, and the other claims
//     of its volume group;
//   - RestoreItemAction velero.io/pvc: removes the annotations that tie a
//     claim to its old volume, node and provisioner, and restores the bound
//     PersistentVolume first.
//
// Velero v1.18 removes the selected-node annotation unconditionally (the
// node-mapping ConfigMap of earlier releases is no longer read), so neither
// action takes configuration. The package registers both in init; import it
// for its side effect.
package pvc

import (
	"log/slog"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/builtin/internal/kube"
	"github.com/rigging-dev/rigging/registry"
)

// Name is the registered name of the ItemBlockAction and of the
// RestoreItemAction.
const Name = "velero.io/pvc"

// DefaultVolumeGroupLabelKey is the label whose value groups claims into one
// volume group when the backup's spec.volumeGroupSnapshotLabelKey is empty:
// the default of the Velero server's --volume-group-snapshot-label-key,
// which Velero copies into every backup it creates.
const DefaultVolumeGroupLabelKey = "velero.io/volume-group"

func init() {
	registry.Register(Name, func(log *slog.Logger) (rigging.ItemBlockAction, error) {
		return &ItemBlockAction{log: log}, nil
	})
	registry.Register(Name, func(log *slog.Logger) (rigging.RestoreItemAction, error) {
		return &RestoreAction{log: log}, nil
	})
}

func selector() rigging.ResourceSelector {
	return rigging.ResourceSelector{IncludedResources: []string{"persistentvolumeclaims"}}
}

// boundVolume returns spec.volumeName of a claim bound to a named volume
// (status.phase Bound), else "", reading the item in place; either field
// not being a string is an error naming it.
func boundVolume(item *unstructured.Unstructured) (string, error) {
	phase, err := kube.NestedString(item.Object, "status", "phase")
	if err != nil {
		return "", err
	}
	volume, err := kube.NestedString(item.Object, "spec", "volumeName")
	if err != nil || phase != string(corev1.ClaimBound) {
		return "", err
	}
	return volume, nil
}

// bound reports whether the claim is bound to a named volume.
func bound(pvc *corev1.PersistentVolumeClaim) bool {
	return pvc.Status.Phase == corev1.ClaimBound && pvc.Spec.VolumeName != ""
}
