package crd

import (
	"context"
	"encoding/json"
	"log/slog"

	apiextv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/builtin/internal/kube"
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

// Execute returns every v1 CRD as Velero's action returns it, decoded
// through encoding/json into the typed apiextensions.k8s.io/v1
// CustomResourceDefinition and converted back to unstructured: fields the
// typed CRD does not declare are dropped, fields at their zero value with
// omitempty are dropped (preserveUnknownFields: false, an empty list or
// map, deprecated: false), fields without omitempty are kept or added at
// their zero value (status.acceptedNames, status.conditions: []), and
// numbers in float fields of schemas (minimum, maximum, multipleOf) come
// back as float64. When spec.preserveUnknownFields is true the result also
// lacks it (Velero sets it to false) and has
// x-kubernetes-preserve-unknown-fields: true at the top of every version's
// openAPIV3Schema (versions without a schema are left alone). A CRD of
// another apiVersion, v1beta1 included, comes back unchanged. A v1 CRD
// that does not decode into the typed CRD (a field of the wrong type) is an
// error naming the CRD, as in Velero. input is not modified.
func (a *PreserveFieldsAction) Execute(_ context.Context, input *rigging.RestoreItemActionExecuteInput) (*rigging.RestoreItemActionExecuteOutput, error) {
	item := input.Item
	if item == nil {
		return nil, kube.Errorf(PreserveFieldsName, nil, "%w", kube.ErrNilItem)
	}
	apiVersion, err := kube.NestedString(item.Object, "apiVersion")
	if err != nil {
		return nil, itemError(PreserveFieldsName, item, "read apiVersion: %w", err)
	}
	if apiVersion != V1 {
		return &rigging.RestoreItemActionExecuteOutput{UpdatedItem: item}, nil
	}
	out, err := viaTyped(PreserveFieldsName, item, func(crd *apiextv1.CustomResourceDefinition) {
		if !crd.Spec.PreserveUnknownFields {
			return
		}
		crd.Spec.PreserveUnknownFields = false
		preserve := true
		for i := range crd.Spec.Versions {
			v := &crd.Spec.Versions[i]
			if v.Schema == nil || v.Schema.OpenAPIV3Schema == nil {
				continue
			}
			v.Schema.OpenAPIV3Schema.XPreserveUnknownFields = &preserve
			a.log.Debug("set x-preserve-unknown-fields", "crd", item.GetName(), "version", v.Name)
		}
	})
	if err != nil {
		return nil, err
	}
	return &rigging.RestoreItemActionExecuteOutput{UpdatedItem: out}, nil
}

// viaTyped returns item as Velero returns a CRD it decodes through
// encoding/json into T (a typed apiextensions CustomResourceDefinition) and
// converts back with the unstructured converter, with edit (if not nil)
// applied to the typed object in between. Velero decodes through JSON
// rather than the unstructured converter, and so does this, to match it on
// every input (JSON's case-insensitive field names, whole numbers in float
// fields). Errors name plugin and the item; item is not modified.
func viaTyped[T any](plugin string, item *unstructured.Unstructured, edit func(*T)) (*unstructured.Unstructured, error) {
	data, err := json.Marshal(item.Object)
	if err != nil {
		return nil, itemError(plugin, item, "encode: %w", err)
	}
	var typed T
	if err := json.Unmarshal(data, &typed); err != nil {
		return nil, itemError(plugin, item, "decode into %T: %w", typed, err)
	}
	if edit != nil {
		edit(&typed)
	}
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&typed)
	if err != nil {
		return nil, itemError(plugin, item, "encode %T: %w", typed, err)
	}
	return &unstructured.Unstructured{Object: m}, nil
}

var _ rigging.RestoreItemAction = (*PreserveFieldsAction)(nil)
