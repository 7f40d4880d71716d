package serviceaccount

import (
	"context"
	"log/slog"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

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
// so rigging removes all.
func (a *RestoreAction) Execute(_ context.Context, input *rigging.RestoreItemActionExecuteInput) (*rigging.RestoreItemActionExecuteOutput, error) {
	if input == nil || input.Item == nil {
		return nil, kube.Errorf(Name, nil, "%w", kube.ErrNilItem)
	}
	sa := input.Item.DeepCopy()
	secrets, err := kube.NestedSlice(sa.Object, "secrets")
	if err != nil {
		return nil, kube.Errorf(Name, input.Item, "%w", err)
	}
	prefix := sa.GetName() + "-token-"
	kept := secrets[:0:0]
	for _, s := range secrets {
		if ref, ok := s.(map[string]any); ok {
			if name, _ := ref["name"].(string); strings.HasPrefix(name, prefix) {
				continue
			}
		}
		kept = append(kept, s)
	}
	switch {
	case len(kept) == len(secrets):
	case len(kept) == 0:
		unstructured.RemoveNestedField(sa.Object, "secrets")
	default:
		sa.Object["secrets"] = kept
	}
	if a.log != nil && len(kept) != len(secrets) {
		a.log.Debug("dropped token secret references", "serviceaccount", kube.Ref(input.Item), "count", len(secrets)-len(kept))
	}
	return &rigging.RestoreItemActionExecuteOutput{UpdatedItem: sa}, nil
}
