package crd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strconv"
	"sync/atomic"

	apiextv1beta1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1beta1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rigging-dev/rigging"
)

// ConfigServesV1beta1 is RemapVersionAction's configuration key: "true" when
// the cluster being backed up serves apiextensions.k8s.io/v1beta1
// (Kubernetes 1.21 and older). It defaults to false.
const ConfigServesV1beta1 = "servesV1beta1"

// ErrInvalidConfig reports a configuration Configure rejects.
var ErrInvalidConfig = errors.New("invalid configuration")

// RemapVersionAction is velero.io/crd-remap-version. It is safe for
// concurrent use.
//
// Velero, on a v1 CRD that looks as if it was created through v1beta1 (its
// first version has no schema, it carries a NonStructuralSchema condition,
// or spec.preserveUnknownFields is true), fetches the CRD again from the API
// server's v1beta1 endpoint and saves that instead, provided discovery shows
// the cluster serves that endpoint. Such a CRD could not be re-created
// through v1, which demands structural schemas.
//
// rigging has no API server at hand, and converts nothing it saves as it
// is, so it differs in three ways:
//   - whether the source cluster serves v1beta1 comes from configuration
//     (ConfigServesV1beta1), not discovery; unconfigured, the action behaves
//     as Velero does against every cluster from Kubernetes 1.22 on: it
//     saves every CRD as it is;
//   - the v1beta1 form is computed from the item by the rules the API
//     server applies when converting v1 to v1beta1 (Convert), instead of
//     being fetched, then round-tripped through the typed v1beta1 struct as
//     Velero's fetched object is (fields at their zero value with omitempty
//     and fields the struct lacks dropped). For an unchanged CRD the result
//     is the object Velero saves; it cannot pick up a change made to the
//     CRD between the listing and the fetch, which Velero's extra GET could;
//   - Velero decodes every v1 CRD into the typed struct before deciding and
//     fails one that does not decode; rigging reads only the three fields
//     it decides on (a wrong type there is an error), so that CRDs saved as
//     they are cost no conversion.
type RemapVersionAction struct {
	log           *slog.Logger
	servesV1beta1 atomic.Bool
}

// NewRemapVersionAction returns the action, unconfigured. A nil log
// discards logs.
func NewRemapVersionAction(log *slog.Logger) *RemapVersionAction {
	return &RemapVersionAction{log: orDiscard(log)}
}

// Configure reads ConfigServesV1beta1 (any strconv.ParseBool spelling).
// Unknown keys and a bad value are errors wrapping ErrInvalidConfig.
func (a *RemapVersionAction) Configure(config map[string]string) error {
	serves := false
	for k, v := range config {
		if k != ConfigServesV1beta1 {
			return fmt.Errorf("plugin %s: %w: unknown key %q (want %q)", RemapVersionName, ErrInvalidConfig, k, ConfigServesV1beta1)
		}
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("plugin %s: %w: %s: %q is not a boolean", RemapVersionName, ErrInvalidConfig, k, v)
		}
		serves = b
	}
	a.servesV1beta1.Store(serves)
	return nil
}

// AppliesTo selects CRDs.
func (a *RemapVersionAction) AppliesTo(context.Context) (rigging.ResourceSelector, error) {
	return rigging.ResourceSelector{IncludedResources: []string{resource}}, nil
}

// Execute returns the v1beta1 form of a v1 CRD that needs it (see the type's
// documentation) and the item unchanged otherwise. It never names
// additional items and does not modify item.
func (a *RemapVersionAction) Execute(_ context.Context, item *unstructured.Unstructured, _ *rigging.Backup) (*unstructured.Unstructured, []rigging.ResourceIdentifier, error) {
	if v := item.GetAPIVersion(); v != "" && v != V1 {
		return item, nil, nil
	}
	if !a.servesV1beta1.Load() {
		return item, nil, nil
	}
	reason, err := v1beta1Reason(item)
	if err != nil {
		return nil, nil, itemError(RemapVersionName, item, "%w", err)
	}
	if reason == "" {
		return item, nil, nil
	}
	a.log.Info("saving CustomResourceDefinition as v1beta1", "crd", item.GetName(), "reason", reason)
	out, err := Convert(item)
	if err != nil {
		return nil, nil, itemError(RemapVersionName, item, "convert to v1beta1: %w", err)
	}
	// Velero saves the server's answer decoded into the typed v1beta1 CRD
	// and converted back: so does this.
	out, err = viaTyped[apiextv1beta1.CustomResourceDefinition](RemapVersionName, out, nil)
	if err != nil {
		return nil, nil, err
	}
	return out, nil, nil
}

// v1beta1Reason says why crd looks created through v1beta1, or "".
func v1beta1Reason(crd *unstructured.Unstructured) (string, error) {
	versions, _, err := unstructured.NestedSlice(crd.Object, "spec", "versions")
	if err != nil {
		return "", fmt.Errorf("read spec.versions: %w", err)
	}
	if len(versions) > 0 {
		first, _ := versions[0].(map[string]any)
		if s, _, _ := unstructured.NestedFieldNoCopy(first, "schema", "openAPIV3Schema"); s == nil {
			return "its first version has no schema", nil
		}
	}
	conditions, _, err := unstructured.NestedSlice(crd.Object, "status", "conditions")
	if err != nil {
		return "", fmt.Errorf("read status.conditions: %w", err)
	}
	for _, c := range conditions {
		if m, _ := c.(map[string]any); m != nil && m["type"] == "NonStructuralSchema" {
			return "it has a NonStructuralSchema condition", nil
		}
	}
	preserve, _, err := unstructured.NestedBool(crd.Object, "spec", "preserveUnknownFields")
	if err != nil {
		return "", fmt.Errorf("read spec.preserveUnknownFields: %w", err)
	}
	if preserve {
		return "spec.preserveUnknownFields is true", nil
	}
	return "", nil
}

// Convert returns the apiextensions.k8s.io/v1beta1 form of a v1
// CustomResourceDefinition, as the API server computes it:
//   - spec.preserveUnknownFields is set explicitly (v1's default is false,
//     v1beta1's is true);
//   - spec.version is the first version's name;
//   - per-version schema, subresources and additionalPrinterColumns that
//     are identical across all versions move to spec.validation,
//     spec.subresources and spec.additionalPrinterColumns;
//   - printer columns' jsonPath is spelled JSONPath;
//   - spec.conversion.webhook.{clientConfig,conversionReviewVersions} become
//     spec.conversion.{webhookClientConfig,conversionReviewVersions}.
//
// Everything else, metadata and status included, is copied. crd is not
// modified.
func Convert(crd *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	out := crd.DeepCopy()
	out.SetAPIVersion(V1beta1)
	out.SetKind("CustomResourceDefinition")
	spec, _, err := unstructured.NestedMap(out.Object, "spec")
	if err != nil {
		return nil, fmt.Errorf("read spec: %w", err)
	}
	if spec == nil {
		spec = map[string]any{}
	}
	preserve, _, err := unstructured.NestedBool(spec, "preserveUnknownFields")
	if err != nil {
		return nil, fmt.Errorf("read spec.preserveUnknownFields: %w", err)
	}
	spec["preserveUnknownFields"] = preserve

	rawVersions, _ := spec["versions"].([]any)
	if spec["versions"] != nil && rawVersions == nil {
		return nil, fmt.Errorf("spec.versions is a %T, not a list", spec["versions"])
	}
	versions := make([]map[string]any, len(rawVersions))
	for i, v := range rawVersions {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("spec.versions[%d] is a %T, not an object", i, v)
		}
		versions[i] = m
	}
	if len(versions) > 0 {
		spec["version"] = versions[0]["name"]
		for _, f := range []struct{ perVersion, top string }{
			{"schema", "validation"},
			{"subresources", "subresources"},
			{"additionalPrinterColumns", "additionalPrinterColumns"},
		} {
			first := versions[0][f.perVersion]
			identical := true
			for _, v := range versions[1:] {
				if !reflect.DeepEqual(v[f.perVersion], first) {
					identical = false
					break
				}
			}
			if !identical {
				continue
			}
			if first != nil {
				spec[f.top] = first
			}
			for _, v := range versions {
				delete(v, f.perVersion)
			}
		}
	}
	renameColumns(spec)
	for _, v := range versions {
		renameColumns(v)
	}

	if conv, ok := spec["conversion"].(map[string]any); ok {
		if webhook, ok := conv["webhook"].(map[string]any); ok {
			if cc, ok := webhook["clientConfig"]; ok {
				conv["webhookClientConfig"] = cc
			}
			if rv, ok := webhook["conversionReviewVersions"]; ok {
				conv["conversionReviewVersions"] = rv
			}
		}
		delete(conv, "webhook")
	}
	out.Object["spec"] = spec
	return out, nil
}

// renameColumns spells jsonPath as JSONPath in obj's additionalPrinterColumns.
func renameColumns(obj map[string]any) {
	cols, _ := obj["additionalPrinterColumns"].([]any)
	for _, c := range cols {
		if col, ok := c.(map[string]any); ok {
			if p, ok := col["jsonPath"]; ok {
				col["JSONPath"] = p
				delete(col, "jsonPath")
			}
		}
	}
}

var (
	_ rigging.BackupItemAction = (*RemapVersionAction)(nil)
	_ rigging.Configurable     = (*RemapVersionAction)(nil)
)
