// Package job ports Velero v1.18's RestoreItemAction velero.io/job: a Job
// is restored without the controller-uid selector and template label the Job
// controller derived from the old Job's uid, so the new cluster's controller
// sets them from the new uid. The package registers the action in init;
// import it for its side effect.
package job

import (
	"context"
	"log/slog"

	batchv1 "k8s.io/api/batch/v1"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/builtin/internal/kube"
	"github.com/rigging-dev/rigging/registry"
)

// Name is the registered name of the RestoreItemAction.
const Name = "velero.io/job"

// controllerUIDLabels are the label keys the Job controller sets to the
// Job's uid: the current one (Kubernetes 1.27 and later) and the legacy one.
var controllerUIDLabels = []string{"batch.kubernetes.io/controller-uid", "controller-uid"}

func init() {
	registry.Register(Name, func(log *slog.Logger) (rigging.RestoreItemAction, error) {
		return &RestoreAction{log: log}, nil
	})
}

// RestoreAction is the RestoreItemAction velero.io/job. It is safe for
// concurrent use.
type RestoreAction struct {
	log *slog.Logger
}

var _ rigging.RestoreItemAction = (*RestoreAction)(nil)

// AppliesTo selects Jobs.
func (a *RestoreAction) AppliesTo(context.Context) (rigging.ResourceSelector, error) {
	return rigging.ResourceSelector{IncludedResources: []string{"jobs"}}, nil
}

// Execute returns a copy of input.Item (the input is not changed) without
// the keys batch.kubernetes.io/controller-uid and controller-uid in
// spec.selector.matchLabels and spec.template.metadata.labels; a map left
// empty is removed. Other labels (job-name, batch.kubernetes.io/job-name) are
// kept. The result is normalised as Velero's typed round trip normalises it
// (kube.Normalize: fields at their zero value are dropped).
func (a *RestoreAction) Execute(_ context.Context, input *rigging.RestoreItemActionExecuteInput) (*rigging.RestoreItemActionExecuteOutput, error) {
	if input == nil || input.Item == nil {
		return nil, kube.Errorf(Name, nil, "%w", kube.ErrNilItem)
	}
	job := input.Item.DeepCopy()
	for _, fields := range [][]string{
		{"spec", "selector", "matchLabels"},
		{"spec", "template", "metadata", "labels"},
	} {
		if _, err := kube.RemoveKeys(job.Object, controllerUIDLabels, fields...); err != nil {
			return nil, kube.Errorf(Name, input.Item, "%w", err)
		}
	}
	typed, err := kube.Normalize[batchv1.Job](Name, job)
	if err != nil {
		return nil, err
	}
	return &rigging.RestoreItemActionExecuteOutput{UpdatedItem: typed}, nil
}
