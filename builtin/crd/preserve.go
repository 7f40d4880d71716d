package crd

import (
	"context"
	"log/slog"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rigging-dev/rigging"
)

// PreserveFieldsAction is velero.io/crd-preserve-fields. It is safe for
// concurrent use.
type PreserveFieldsAction struct {
	log *slog.Logger
}

// NewPreserveFieldsAction returns the action. A nil log discards logs.
func NewPreserveFieldsAction(log *slog.Logger) *PreserveFieldsAction {
	return &PreserveFieldsAction{log: orDiscard(log)}
}

// AppliesTo selects CRDs.
func (a *PreserveFieldsAction) AppliesTo(context.Context) (rigging.ResourceSelector, error) {
	return rigging.ResourceSelector{IncludedResources: []string{resource}}, nil
}

// Execute handles a v1 CRD whose spec.preserveUnknownFields is true: it
// returns a copy without spec.preserveUnknownFields (Velero sets it to
// false, which its typed round trip then omits) and with
// x-preserve-unknown-fields: true at the top of every version's
// openAPIV3Schema (versions without a schema are left alone). Every other
// CRD, including v1beta1 ones, comes back unchanged. input is not modified.
func (a *PreserveFieldsAction) Execute(_ context.Context, input *rigging.RestoreItemActionExecuteInput) (*rigging.RestoreItemActionExecuteOutput, error) {
	unchanged := &rigging.RestoreItemActionExecuteOutput{UpdatedItem: input.Item}
	if input.Item.GetAPIVersion() != V1 {
		return unchanged, nil
	}
	preserve, _, err := unstructured.NestedBool(input.Item.Object, "spec", "preserveUnknownFields")
	if err != nil {
		return nil, itemError(PreserveFieldsName, input.Item, "read spec.preserveUnknownFields: %w", err)
	}
	if !preserve {
		return unchanged, nil
	}
	item := input.Item.DeepCopy()
	unstructured.RemoveNestedField(item.Object, "spec", "preserveUnknownFields")
	versions, _, err := unstructured.NestedFieldNoCopy(item.Object, "spec", "versions")
	if err != nil {
		return nil, itemError(PreserveFieldsName, item, "read spec.versions: %w", err)
	}
	list, _ := versions.([]any)
	if versions != nil && list == nil {
		return nil, itemError(PreserveFieldsName, item, "spec.versions is a %T, not a list", versions)
	}
	for i, v := range list {
		version, ok := v.(map[string]any)
		if !ok {
			return nil, itemError(PreserveFieldsName, item, "spec.versions[%d] is a %T, not an object", i, v)
		}
		schema, found, err := unstructured.NestedFieldNoCopy(version, "schema", "openAPIV3Schema")
		if err != nil {
			return nil, itemError(PreserveFieldsName, item, "spec.versions[%d].schema: %w", i, err)
		}
		if !found || schema == nil {
			continue
		}
		s, ok := schema.(map[string]any)
		if !ok {
			return nil, itemError(PreserveFieldsName, item, "spec.versions[%d].schema.openAPIV3Schema is a %T, not an object", i, schema)
		}
		s["x-preserve-unknown-fields"] = true
		a.log.Debug("set x-preserve-unknown-fields", "crd", item.GetName(), "version", version["name"])
	}
	return &rigging.RestoreItemActionExecuteOutput{UpdatedItem: item}, nil
}

var _ rigging.RestoreItemAction = (*PreserveFieldsAction)(nil)
