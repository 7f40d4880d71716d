package pod

import (
	"context"
	"log/slog"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/builtin/internal/kube"
)

// AddPVCFromPodAction is the RestoreItemAction velero.io/add-pvc-from-pod:
// it restores the PersistentVolumeClaims a pod's volumes name before the
// pod, so that a claim left out of the restore's filters still comes back
// with the pod that needs it. It is safe for concurrent use.
type AddPVCFromPodAction struct {
	log *slog.Logger
}

var _ rigging.RestoreItemAction = (*AddPVCFromPodAction)(nil)

// AppliesTo selects pods.
func (a *AddPVCFromPodAction) AppliesTo(context.Context) (rigging.ResourceSelector, error) {
	return selector(), nil
}

// Execute returns input.Item itself, unmodified, with the pod's claims
// (core group, the pod's namespace, in volume order, each once) as
// additional items. Unlike BackupAction it does not name the PriorityClass;
// the pod RestoreItemAction does.
func (a *AddPVCFromPodAction) Execute(ctx context.Context, input *rigging.RestoreItemActionExecuteInput) (*rigging.RestoreItemActionExecuteOutput, error) {
	if input == nil || input.Item == nil {
		return nil, kube.Errorf(AddPVCFromPodName, nil, "%w", kube.ErrNilItem)
	}
	claims, err := kube.PodClaimNames(input.Item)
	if err != nil {
		return nil, kube.Errorf(AddPVCFromPodName, input.Item, "%w", err)
	}
	out := &rigging.RestoreItemActionExecuteOutput{UpdatedItem: input.Item}
	for _, c := range claims {
		out.AdditionalItems = append(out.AdditionalItems, kube.ClaimIdentifier(input.Item.GetNamespace(), c))
	}
	if kube.DebugEnabled(ctx, a.log) && len(claims) > 0 {
		a.log.Debug("restoring claims with pod", "pod", kube.Ref(input.Item), "claims", claims)
	}
	return out, nil
}
