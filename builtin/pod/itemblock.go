package pod

import (
	"context"
	"log/slog"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rigging-dev/rigging"
)

// ItemBlockAction is the ItemBlockAction velero.io/pod: a pod's item block
// holds its PriorityClass and its PersistentVolumeClaims, so that a claim
// shared by several pods is backed up once, with all of them. It is safe for
// concurrent use.
type ItemBlockAction struct {
	log *slog.Logger
}

var _ rigging.ItemBlockAction = (*ItemBlockAction)(nil)

// Name returns the registered name, velero.io/pod.
func (a *ItemBlockAction) Name() string { return Name }

// AppliesTo selects pods.
func (a *ItemBlockAction) AppliesTo(context.Context) (rigging.ResourceSelector, error) {
	return selector(), nil
}

// GetRelatedItems returns what BackupAction.Execute returns as additional
// items: the PriorityClass, then the claims in volume order.
func (a *ItemBlockAction) GetRelatedItems(_ context.Context, item *unstructured.Unstructured, _ *rigging.Backup) ([]rigging.ResourceIdentifier, error) {
	return relatedItems(Name, item)
}
