// Package kube holds what rigging's built-in item actions share about
// Kubernetes objects: the group-resources they name in additional and related
// items, and helpers that read items and report errors naming the item.
package kube

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/rigging-dev/rigging"
)

// Group-resources the built-in actions return, as Velero's kuberesource
// package names them.
var (
	Pods                   = schema.GroupResource{Resource: "pods"}
	PersistentVolumeClaims = schema.GroupResource{Resource: "persistentvolumeclaims"}
	PersistentVolumes      = schema.GroupResource{Resource: "persistentvolumes"}
	ServiceAccounts        = schema.GroupResource{Resource: "serviceaccounts"}
	PriorityClasses        = schema.GroupResource{Group: "scheduling.k8s.io", Resource: "priorityclasses"}
	ClusterRoleBindings    = schema.GroupResource{Group: "rbac.authorization.k8s.io", Resource: "clusterrolebindings"}
	ClusterRoles           = schema.GroupResource{Group: "rbac.authorization.k8s.io", Resource: "clusterroles"}
)

// ErrNilItem reports an action called without an item.
var ErrNilItem = errors.New("nil item")

// Ref returns "namespace/name", or "name" for a cluster-scoped object, for
// messages.
func Ref(item *unstructured.Unstructured) string {
	if item == nil {
		return "<nil>"
	}
	if ns := item.GetNamespace(); ns != "" {
		return ns + "/" + item.GetName()
	}
	return item.GetName()
}

// Errorf returns an error prefixed with the plugin's name, the item's kind
// and its namespace/name: "plugin velero.io/pod: Pod shop/web: <msg>". A %w
// verb in format wraps as fmt.Errorf does.
func Errorf(plugin string, item *unstructured.Unstructured, format string, args ...any) error {
	kind := "item"
	if item != nil && item.GetKind() != "" {
		kind = item.GetKind()
	}
	return fmt.Errorf("plugin %s: %s %s: %w", plugin, kind, Ref(item), fmt.Errorf(format, args...))
}

// Decode converts item into out, a pointer to a typed k8s.io/api struct.
// Errors name the plugin and the item and wrap the converter's error.
func Decode(plugin string, item *unstructured.Unstructured, out any) error {
	if item == nil {
		return fmt.Errorf("plugin %s: %w", plugin, ErrNilItem)
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(item.UnstructuredContent(), out); err != nil {
		return Errorf(plugin, item, "decode: %w", err)
	}
	return nil
}

// Normalize returns item as Velero's actions return the items they convert
// to a typed T and back (runtime.DefaultUnstructuredConverter both ways):
// fields T does not declare are dropped, fields at their zero value with
// omitempty are dropped (readOnly: false, an empty list or map), and
// fields without omitempty are added at their zero value (a Service's
// status.loadBalancer {}). The item is not changed. An item that does not
// decode into T is an error naming the plugin and the item.
func Normalize[T any](plugin string, item *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	var typed T
	if err := Decode(plugin, item, &typed); err != nil {
		return nil, err
	}
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&typed)
	if err != nil {
		return nil, Errorf(plugin, item, "encode: %w", err)
	}
	return &unstructured.Unstructured{Object: m}, nil
}

// ClaimIdentifier names the PersistentVolumeClaim name in namespace.
func ClaimIdentifier(namespace, name string) rigging.ResourceIdentifier {
	return rigging.ResourceIdentifier{GroupResource: PersistentVolumeClaims, Namespace: namespace, Name: name}
}

// VolumeIdentifier names the (cluster-scoped) PersistentVolume name.
func VolumeIdentifier(name string) rigging.ResourceIdentifier {
	return rigging.ResourceIdentifier{GroupResource: PersistentVolumes, Name: name}
}

// RemoveKeys deletes keys from the map at fields in obj (labels,
// annotations, a selector's matchLabels, a Secret's data) and removes that
// map when it ends up empty, as a typed round trip with omitempty would. It
// reports whether anything was deleted. A value at fields that is not a map
// is an error; a missing one is not.
func RemoveKeys(obj map[string]any, keys []string, fields ...string) (bool, error) {
	m, err := NestedMap(obj, fields...)
	if err != nil || m == nil {
		return false, err
	}
	removed := false
	for _, k := range keys {
		if _, ok := m[k]; ok {
			delete(m, k)
			removed = true
		}
	}
	if removed && len(m) == 0 {
		unstructured.RemoveNestedField(obj, fields...)
	}
	return removed, nil
}

// nested returns the value of type T at fields in obj without copying it:
// the zero T when the field is missing or null, an error naming the field
// (and what, the type wanted) when it holds another type.
func nested[T any](obj map[string]any, what string, fields ...string) (T, error) {
	var zero T
	v, found, err := unstructured.NestedFieldNoCopy(obj, fields...)
	if err != nil || !found || v == nil {
		return zero, err
	}
	t, ok := v.(T)
	if !ok {
		return zero, fmt.Errorf("%s: is %T, not %s", strings.Join(fields, "."), v, what)
	}
	return t, nil
}

// NestedSlice returns the list at fields in obj without copying it; a
// missing or null field is an empty list, a value that is not a list is an
// error naming the field.
func NestedSlice(obj map[string]any, fields ...string) ([]any, error) {
	return nested[[]any](obj, "a list", fields...)
}

// NestedMap returns the object at fields in obj without copying it; a
// missing or null field is nil, a value that is not an object is an error
// naming the field.
func NestedMap(obj map[string]any, fields ...string) (map[string]any, error) {
	return nested[map[string]any](obj, "an object", fields...)
}

// NestedString returns the string at fields in obj; a missing or null field
// is "", a value that is not a string is an error naming the field.
func NestedString(obj map[string]any, fields ...string) (string, error) {
	return nested[string](obj, "a string", fields...)
}

// PodClaimNames returns the PersistentVolumeClaims a pod's
// persistentVolumeClaim volumes name, in the order of spec.volumes, each once;
// an empty claim name is ignored. It reads the item without decoding it into
// a typed Pod. A field of the wrong type is an error naming the field.
func PodClaimNames(pod *unstructured.Unstructured) ([]string, error) {
	volumes, err := NestedSlice(pod.Object, "spec", "volumes")
	if err != nil {
		return nil, err
	}
	var names []string
	for _, v := range volumes {
		vol, ok := v.(map[string]any)
		if !ok {
			continue
		}
		name, err := NestedString(vol, "persistentVolumeClaim", "claimName")
		if err != nil {
			return nil, fmt.Errorf("spec.volumes: %w", err)
		}
		if name == "" || slices.Contains(names, name) {
			continue
		}
		if names == nil {
			names = make([]string, 0, len(volumes))
		}
		names = append(names, name)
	}
	return names, nil
}

// RemoveByNamePrefix removes from the list obj[field] (volumes, volume
// mounts, secret references) the entries whose "name" starts with prefix,
// removes the field when the list ends up empty, and returns how many
// entries it removed. A value that is not a list is an error naming the
// field; a missing one is not.
func RemoveByNamePrefix(obj map[string]any, prefix, field string) (int, error) {
	list, err := NestedSlice(obj, field)
	if err != nil || len(list) == 0 {
		return 0, err
	}
	kept := list[:0:0]
	for _, e := range list {
		if m, ok := e.(map[string]any); ok {
			if name, _ := m["name"].(string); strings.HasPrefix(name, prefix) {
				continue
			}
		}
		kept = append(kept, e)
	}
	switch {
	case len(kept) == len(list):
	case len(kept) == 0:
		delete(obj, field)
	default:
		obj[field] = kept
	}
	return len(list) - len(kept), nil
}

// DebugEnabled reports whether log (which may be nil) logs at debug level,
// so that actions build the attributes of per-item debug messages only when
// they are wanted.
func DebugEnabled(ctx context.Context, log *slog.Logger) bool {
	return log != nil && log.Enabled(ctx, slog.LevelDebug)
}
