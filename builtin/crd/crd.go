// Package crd holds Velero's two actions on CustomResourceDefinitions:
//
//   - BackupItemAction velero.io/crd-remap-version (RemapVersionAction),
//     which saves a CRD that was created through apiextensions.k8s.io/v1beta1
//     in its v1beta1 form, so it restores onto clusters that still validate it
//     with v1beta1's looser rules;
//   - RestoreItemAction velero.io/crd-preserve-fields
//     (PreserveFieldsAction), which moves a v1 CRD's deprecated
//     spec.preserveUnknownFields into each version's schema, as v1 requires.
//
// Velero round-trips the CRDs these actions change through the typed
// apiextensions structs, and so do they (PreserveFieldsAction every v1 CRD,
// RemapVersionAction the v1beta1 form it computes where Velero fetches it
// from the API server), so their results are Velero's to the field, zero
// values and unknown fields included.
package crd

import (
	"log/slog"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/builtin/internal/kube"
	"github.com/rigging-dev/rigging/registry"
)

// Registered names.
const (
	RemapVersionName   = "velero.io/crd-remap-version"
	PreserveFieldsName = "velero.io/crd-preserve-fields"
)

// API versions of CustomResourceDefinition.
const (
	V1      = "apiextensions.k8s.io/v1"
	V1beta1 = "apiextensions.k8s.io/v1beta1"
)

// resource is how both actions select CRDs (Velero's spelling).
const resource = "customresourcedefinition.apiextensions.k8s.io"

func init() {
	registry.Register(RemapVersionName, func(log *slog.Logger) (rigging.BackupItemAction, error) {
		return NewRemapVersionAction(log), nil
	})
	registry.Register(PreserveFieldsName, func(log *slog.Logger) (rigging.RestoreItemAction, error) {
		return NewPreserveFieldsAction(log), nil
	})
}

func orDiscard(log *slog.Logger) *slog.Logger {
	if log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return log
}

// itemError names the plugin and the CRD in err.
func itemError(plugin string, item *unstructured.Unstructured, format string, args ...any) error {
	return kube.Errorf(plugin, item, format, args...)
}
