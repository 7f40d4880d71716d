// Package pod ports Velero v1.18's built-in actions on pods:
//
//   - BackupItemAction velero.io/pod: backs up the PriorityClass and the
//     PersistentVolumeClaims a pod uses with it;
//   - ItemBlockAction velero.io/pod: puts the same objects in the pod's item
//     block;
//   - RestoreItemAction velero.io/pod: clears the node assignment and the
//     resolved priority, drops the legacy service-account token volume and
//     its mounts, and restores the PriorityClass first;
//   - RestoreItemAction velero.io/add-pvc-from-pod: restores the pod's claims
//     before the pod.
//
// The package registers all four in init; import it for its side effect.
package pod

import (
	"log/slog"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/builtin/internal/kube"
	"github.com/rigging-dev/rigging/registry"
)

// Registered plugin names (Velero's own).
const (
	// Name is the name of the pod BackupItemAction, ItemBlockAction and
	// RestoreItemAction.
	Name = "velero.io/pod"
	// AddPVCFromPodName is the name of the RestoreItemAction that restores
	// a pod's claims with it.
	AddPVCFromPodName = "velero.io/add-pvc-from-pod"
)

func init() {
	registry.Register(Name, func(log *slog.Logger) (rigging.BackupItemAction, error) {
		return &BackupAction{log: log}, nil
	})
	registry.Register(Name, func(log *slog.Logger) (rigging.ItemBlockAction, error) {
		return &ItemBlockAction{log: log}, nil
	})
	registry.Register(Name, func(log *slog.Logger) (rigging.RestoreItemAction, error) {
		return &RestoreAction{log: log}, nil
	})
	registry.Register(AddPVCFromPodName, func(log *slog.Logger) (rigging.RestoreItemAction, error) {
		return &AddPVCFromPodAction{log: log}, nil
	})
}

// selector is what every action of this package applies to.
func selector() rigging.ResourceSelector {
	return rigging.ResourceSelector{IncludedResources: []string{"pods"}}
}

// relatedItems returns, in this order, the pod's PriorityClass (when it
// names one) and the claims of its persistentVolumeClaim volumes in volume
// order, each claim once. It reads the item without decoding it into a typed
// Pod, which keeps the backup path cheap; a field of the wrong type is an
// error naming the plugin and the pod.
func relatedItems(plugin string, item *unstructured.Unstructured) ([]rigging.ResourceIdentifier, error) {
	if item == nil {
		return nil, kube.Errorf(plugin, item, "%w", kube.ErrNilItem)
	}
	priorityClass, err := kube.NestedString(item.Object, "spec", "priorityClassName")
	if err != nil {
		return nil, kube.Errorf(plugin, item, "%w", err)
	}
	claims, err := kube.PodClaimNames(item)
	if err != nil {
		return nil, kube.Errorf(plugin, item, "%w", err)
	}
	if priorityClass == "" && len(claims) == 0 {
		return nil, nil
	}
	out := make([]rigging.ResourceIdentifier, 0, len(claims)+1)
	if priorityClass != "" {
		out = append(out, rigging.ResourceIdentifier{GroupResource: kube.PriorityClasses, Name: priorityClass})
	}
	for _, c := range claims {
		out = append(out, kube.ClaimIdentifier(item.GetNamespace(), c))
	}
	return out, nil
}
