// Package webhook holds Velero's velero.io/admission-webhook-configuration
// restore action.
//
// admissionregistration.k8s.io/v1 accepts only None and NoneOnDryRun as a
// webhook's sideEffects; configurations saved from clusters that created
// them through v1beta1 may carry Unknown, Some, or nothing, and the API
// server rejects them on restore. The action resets every other value to
// None. Configurations of any other apiVersion are restored as they are.
package webhook

import (
	"context"
	"fmt"
	"log/slog"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/builtin/internal/kube"
	"github.com/rigging-dev/rigging/registry"
)

// Name is the registered name.
const Name = "velero.io/admission-webhook-configuration"

// APIVersion is the only apiVersion the action changes.
const APIVersion = "admissionregistration.k8s.io/v1"

func init() {
	registry.Register(Name, func(log *slog.Logger) (rigging.RestoreItemAction, error) {
		return New(log), nil
	})
}

// Action resets invalid sideEffects. It is safe for concurrent use.
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

// AppliesTo selects mutating and validating webhook configurations.
func (a *Action) AppliesTo(context.Context) (rigging.ResourceSelector, error) {
	return rigging.ResourceSelector{
		IncludedResources: []string{"mutatingwebhookconfigurations", "validatingwebhookconfigurations"},
	}, nil
}

// Execute returns a copy of a v1 configuration in which every webhook whose
// sideEffects is not None or NoneOnDryRun (including an absent one) has
// sideEffects None. As in Velero, an entry of webhooks that is not an object
// is dropped, with a warning. input is not modified; other apiVersions and
// configurations without webhooks come back unchanged.
func (a *Action) Execute(_ context.Context, input *rigging.RestoreItemActionExecuteInput) (*rigging.RestoreItemActionExecuteOutput, error) {
	item := input.Item
	log := a.log.With("item", item.GetKind()+" "+kube.Ref(item))
	if v := item.GetAPIVersion(); v != APIVersion {
		log.Info("apiVersion not handled, restoring as is", "apiVersion", v)
		return &rigging.RestoreItemActionExecuteOutput{UpdatedItem: item}, nil
	}
	item = item.DeepCopy()
	webhooks, found, err := unstructured.NestedSlice(item.Object, "webhooks")
	if err != nil {
		return nil, kube.Errorf(Name, item, "read webhooks: %w", err)
	}
	if !found {
		return &rigging.RestoreItemActionExecuteOutput{UpdatedItem: item}, nil
	}
	kept := make([]any, 0, len(webhooks))
	for i, w := range webhooks {
		hook, ok := w.(map[string]any)
		if !ok {
			log.Warn("dropping webhook entry that is not an object", "index", i, "type", fmt.Sprintf("%T", w))
			continue
		}
		if s, _ := hook["sideEffects"].(string); s != "None" && s != "NoneOnDryRun" {
			log.Info("resetting invalid sideEffects to None", "webhook", hook["name"], "sideEffects", s)
			hook["sideEffects"] = "None"
		}
		kept = append(kept, hook)
	}
	item.Object["webhooks"] = kept
	return &rigging.RestoreItemActionExecuteOutput{UpdatedItem: item}, nil
}

var _ rigging.RestoreItemAction = (*Action)(nil)
