package pod

import (
	"context"
	"log/slog"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/builtin/internal/kube"
)

// BackupAction is the BackupItemAction velero.io/pod: it backs up a pod's
// PriorityClass and the PersistentVolumeClaims its volumes name along with
// the pod. It is safe for concurrent use.
type BackupAction struct {
	log *slog.Logger
}

var _ rigging.BackupItemAction = (*BackupAction)(nil)

var _ rigging.InputPreserver = (*BackupAction)(nil)

// PreservesInput reports true: Execute never modifies the item it is given
// (rigging.InputPreserver), so a host need not copy a shared item for it.
func (a *BackupAction) PreservesInput() bool { return true }

// AppliesTo selects pods.
func (a *BackupAction) AppliesTo(context.Context) (rigging.ResourceSelector, error) {
	return selector(), nil
}

// Execute returns item itself, unmodified, and as additional items the
// pod's PriorityClass (group scheduling.k8s.io, when spec.priorityClassName
// is set) followed by its claims (core group, the pod's namespace) in the
// order of spec.volumes, each once.
func (a *BackupAction) Execute(ctx context.Context, item *unstructured.Unstructured, _ *rigging.Backup) (*unstructured.Unstructured, []rigging.ResourceIdentifier, error) {
	related, err := relatedItems(Name, item)
	if err != nil {
		return nil, nil, err
	}
	if kube.DebugEnabled(ctx, a.log) && len(related) > 0 {
		a.log.Debug("adding related items", "pod", kube.Ref(item), "count", len(related))
	}
	return item, related, nil
}
