package serviceaccount

import (
	"context"
	"log/slog"

	corev1 "k8s.io/api/core/v1"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/builtin/internal/kube"
)

// RestoreAction is the RestoreItemAction velero.io/service-account. It is
// safe for concurrent use.
type RestoreAction struct {
	log *slog.Logger
}

var _ rigging.RestoreItemAction = (*RestoreAction)(nil)

// AppliesTo selects ServiceAccounts.
func (a *RestoreAction) AppliesTo(context.Context) (rigging.ResourceSelector, error) {
	return selector(), nil
}

// Execute returns a copy of input.Item (the input is not changed) whose
// secrets list no longer names the Secrets whose name starts with
// "<service account name>-token-" (a list left empty is removed). Velero
// removes only the last such entry; a service account has at most one
// auto-generated token Secret in practice, and none of them can be restored,
// so rigging removes all. The result is normalised as Velero's typed round
// trip normalises it (kube.Normalize).
func (a *RestoreAction) Execute(ctx context.Context, input *rigging.RestoreItemActionExecuteInput) (*rigging.RestoreItemActionExecuteOutput, error) {
	if input == nil || input.Item == nil {
		return nil, kube.Errorf(Name, nil, "%w", kube.ErrNilItem)
	}
	sa := input.Item.DeepCopy()
	removed, err := kube.RemoveByNamePrefix(sa.Object, sa.GetName()+"-token-", "secrets")
	if err != nil {
		return nil, kube.Errorf(Name, input.Item, "%w", err)
	}
	if kube.DebugEnabled(ctx, a.log) && removed > 0 {
		a.log.Debug("dropped token secret references", "serviceaccount", kube.Ref(input.Item), "count", removed)
	}
	typed, err := kube.Normalize[corev1.ServiceAccount](Name, sa)
	if err != nil {
		return nil, err
	}
	return &rigging.RestoreItemActionExecuteOutput{UpdatedItem: typed}, nil
}
