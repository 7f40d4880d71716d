// Package apiservice holds Velero's velero.io/apiservice restore action: it
// keeps APIServices that the kube-aggregator manages out of a restore.
//
// The API server registers an APIService for each built-in group and
// version and for each CRD version, labelled
// kube-aggregator.kubernetes.io/automanaged; the target cluster creates its
// own, so restoring them would conflict or resurrect stale versions.
// APIServices a user created (metrics adapters, say) carry no such label
// and are restored.
package apiservice

import (
	"context"
	"log/slog"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/registry"
)

// Name is the registered name.
const Name = "velero.io/apiservice"

// ManagedLabel marks an APIService managed by the kube-aggregator (its value
// is "true" or "onstart"; only its presence matters).
const ManagedLabel = "kube-aggregator.kubernetes.io/automanaged"

func init() {
	registry.Register(Name, func(log *slog.Logger) (rigging.RestoreItemAction, error) {
		return New(log), nil
	})
}

// Action skips managed APIServices. It is safe for concurrent use.
type Action struct {
	log *slog.Logger
}

// New returns the action. A nil log discards logs.
func New(log *slog.Logger) *Action {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Action{log: log}
}

// AppliesTo selects APIServices carrying ManagedLabel, as Velero does.
func (a *Action) AppliesTo(context.Context) (rigging.ResourceSelector, error) {
	return rigging.ResourceSelector{
		IncludedResources: []string{"apiservices"},
		LabelSelector:     ManagedLabel,
	}, nil
}

// Execute skips the restore of an APIService carrying ManagedLabel. Velero
// relies on AppliesTo alone and skips whatever it is given; this action also
// checks the label, so a host that calls it on an unlabelled APIService (as
// `rigging exec` may) gets the item back unchanged rather than a skip.
func (a *Action) Execute(_ context.Context, input *rigging.RestoreItemActionExecuteInput) (*rigging.RestoreItemActionExecuteOutput, error) {
	if _, managed := input.Item.GetLabels()[ManagedLabel]; !managed {
		return &rigging.RestoreItemActionExecuteOutput{UpdatedItem: input.Item}, nil
	}
	a.log.Info("skipping restore of APIService managed by the kube-aggregator", "apiservice", input.Item.GetName())
	return &rigging.RestoreItemActionExecuteOutput{UpdatedItem: input.Item, SkipRestore: true}, nil
}

var _ rigging.RestoreItemAction = (*Action)(nil)
