package csi

import (
	"context"
	"fmt"
	"maps"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/builtin/internal/kube"
)

// noBackupOperations is the Progress and Cancel of a backup action that
// starts no operations.
type noBackupOperations struct{}

// Progress always fails: the action starts no operations.
func (noBackupOperations) Progress(_ context.Context, id string, _ *rigging.Backup) (rigging.OperationProgress, error) {
	return rigging.OperationProgress{}, fmt.Errorf("operation %q: %w", id, rigging.ErrAsyncNotSupported)
}

// Cancel does nothing, as in Velero.
func (noBackupOperations) Cancel(context.Context, string, *rigging.Backup) error { return nil }

// noRestoreOperations is the Progress, Cancel and AreAdditionalItemsReady of
// a restore action that starts no operations and waits for nothing.
type noRestoreOperations struct{}

// Progress always fails: the action starts no operations.
func (noRestoreOperations) Progress(_ context.Context, id string, _ *rigging.Restore) (rigging.OperationProgress, error) {
	return rigging.OperationProgress{}, fmt.Errorf("operation %q: %w", id, rigging.ErrAsyncNotSupported)
}

// Cancel does nothing, as in Velero.
func (noRestoreOperations) Cancel(context.Context, string, *rigging.Restore) error { return nil }

// AreAdditionalItemsReady is always true: the action never asks to wait.
func (noRestoreOperations) AreAdditionalItemsReady(context.Context, []rigging.ResourceIdentifier, *rigging.Restore) (bool, error) {
	return true, nil
}

// describe names an item in messages: "Kind namespace/name".
func describe(item *unstructured.Unstructured) string {
	if item == nil {
		return "<nil item>"
	}
	return item.GetKind() + " " + kube.Ref(item)
}

// addAnnotations merges add into item's annotations.
func addAnnotations(item *unstructured.Unstructured, add map[string]string) {
	a := item.GetAnnotations()
	if a == nil {
		a = map[string]string{}
	}
	maps.Copy(a, add)
	item.SetAnnotations(a)
}

// addLabels merges add into item's labels.
func addLabels(item *unstructured.Unstructured, add map[string]string) {
	l := item.GetLabels()
	if l == nil {
		l = map[string]string{}
	}
	maps.Copy(l, add)
	item.SetLabels(l)
}

// addTo merges add into *m, making the map when it is nil: Velero's
// AddAnnotations and AddLabels on a typed object's metadata.
func addTo(m *map[string]string, add map[string]string) {
	if *m == nil {
		*m = make(map[string]string, len(add))
	}
	maps.Copy(*m, add)
}

// encode returns obj, the typed form of item after the action's edits, as
// Velero's action returns it: converted back by
// runtime.DefaultUnstructuredConverter, so fields at their zero value with
// omitempty and fields the type does not declare are gone. It is the cheap
// half of kube.Normalize for actions that decoded item already.
func (b *base) encode(item *unstructured.Unstructured, obj any) (*unstructured.Unstructured, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, kube.Errorf(b.name, item, "encode: %w", err)
	}
	return &unstructured.Unstructured{Object: m}, nil
}

// finalizing reports whether backup is in a phase in which Velero's CSI
// backup actions only clean up.
func finalizing(backup *rigging.Backup) bool {
	if backup == nil {
		return false
	}
	p := backup.Status.Phase
	return p == rigging.BackupPhaseFinalizing || p == rigging.BackupPhaseFinalizingPartiallyFailed
}

// restoresPVs reports whether restore restores volumes (spec.restorePVs is
// not false).
func restoresPVs(restore *rigging.Restore) bool {
	return restore == nil || restore.Spec.RestorePVs == nil || *restore.Spec.RestorePVs
}

// secretRef returns the Secret named by the nameKey and namespaceKey
// annotations of item, when both are present.
func secretRef(item *unstructured.Unstructured, nameKey, namespaceKey string) (rigging.ResourceIdentifier, bool) {
	a := item.GetAnnotations()
	name, ok1 := a[nameKey]
	ns, ok2 := a[namespaceKey]
	if !ok1 || !ok2 {
		return rigging.ResourceIdentifier{}, false
	}
	return rigging.ResourceIdentifier{GroupResource: grSecrets, Namespace: ns, Name: name}, true
}

// nestedString reads a string field of item, naming the field on error.
func nestedString(item *unstructured.Unstructured, fields ...string) (string, bool, error) {
	s, found, err := unstructured.NestedString(item.Object, fields...)
	if err != nil {
		return "", false, fmt.Errorf("read %s: %w", dotted(fields), err)
	}
	return s, found, nil
}

func dotted(fields []string) string {
	out := ""
	for i, f := range fields {
		if i > 0 {
			out += "."
		}
		out += f
	}
	return out
}

// set sets a field of item, naming the field on error.
func set(item *unstructured.Unstructured, value any, fields ...string) error {
	if err := unstructured.SetNestedField(item.Object, value, fields...); err != nil {
		return fmt.Errorf("set %s: %w", dotted(fields), err)
	}
	return nil
}
