// Package storageclass holds Velero's velero.io/change-storage-class restore
// action: it renames the storage class of PersistentVolumeClaims,
// PersistentVolumes and StatefulSet volumeClaimTemplates, so a backup taken
// on one cluster restores onto another's classes.
//
// Configuration is Velero's: the data of the plugin ConfigMap (labelled
// velero.io/plugin-config and velero.io/change-storage-class:
// RestoreItemAction), one key per old class whose value is the new class,
// passed by the host through rigging.Configurable.
//
// Differences from Velero v1.18.3:
//   - Velero re-reads its ConfigMap on every Execute; here the mapping is
//     fixed when the host calls Configure.
//   - Velero fails an item when the new class does not exist in the target
//     cluster (it asks the API server). rigging runs without a cluster, so
//     the new class is not checked; Configure rejects an empty new class
//     name, the one value that can never be right.
//   - Velero round-trips StatefulSets through the typed struct; here the
//     item is edited in place, so fields unknown to k8s.io/api survive.
//
// As in Velero, only spec.storageClassName is read: the legacy annotation
// volume.beta.kubernetes.io/storage-class is left as it is, and an item
// without a class (or with the empty class "") is restored unchanged.
package storageclass

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/builtin/internal/kube"
	"github.com/rigging-dev/rigging/registry"
)

// Name is the registered name.
const Name = "velero.io/change-storage-class"

// ErrInvalidConfig reports a configuration Configure rejects.
var ErrInvalidConfig = errors.New("invalid storage class mapping")

func init() {
	registry.Register(Name, func(log *slog.Logger) (rigging.RestoreItemAction, error) {
		return New(log), nil
	})
}

// Action renames storage classes. Configure it before the first Execute;
// after that it is safe for concurrent use.
type Action struct {
	log *slog.Logger

	mu      sync.RWMutex
	mapping map[string]string
}

// New returns an action with an empty mapping (every item is restored
// unchanged until Configure). A nil log discards logs.
func New(log *slog.Logger) *Action {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Action{log: log}
}

// Configure sets the old-to-new class mapping: each key is a class name as
// found in the backup, its value the class to restore with. An empty key or
// value is an error wrapping ErrInvalidConfig. config is copied.
func (a *Action) Configure(config map[string]string) error {
	for from, to := range config {
		if from == "" {
			return fmt.Errorf("plugin %s: %w: empty storage class name as key (mapped to %q)", Name, ErrInvalidConfig, to)
		}
		if to == "" {
			return fmt.Errorf("plugin %s: %w: storage class %q mapped to an empty name", Name, ErrInvalidConfig, from)
		}
	}
	a.mu.Lock()
	a.mapping = maps.Clone(config)
	a.mu.Unlock()
	return nil
}

// AppliesTo selects PVCs, PVs and StatefulSets.
func (a *Action) AppliesTo(context.Context) (rigging.ResourceSelector, error) {
	return rigging.ResourceSelector{
		IncludedResources: []string{"persistentvolumeclaims", "persistentvolumes", "statefulsets"},
	}, nil
}

// Execute returns a copy of the item with its storage class(es) mapped: for
// a StatefulSet each volumeClaimTemplate's spec.storageClassName (a
// StatefulSet with templates is normalised as Velero's typed round trip
// normalises it, kube.Normalize, mapped or not), for any other kind
// spec.storageClassName. input is not modified. A field of the
// wrong type is an error naming the item.
func (a *Action) Execute(_ context.Context, input *rigging.RestoreItemActionExecuteInput) (*rigging.RestoreItemActionExecuteOutput, error) {
	a.mu.RLock()
	mapping := a.mapping
	a.mu.RUnlock()
	unchanged := &rigging.RestoreItemActionExecuteOutput{UpdatedItem: input.Item}
	if len(mapping) == 0 {
		return unchanged, nil
	}
	item := input.Item.DeepCopy()
	log := a.log.With("item", item.GetKind()+" "+kube.Ref(item))

	if item.GetKind() == "StatefulSet" {
		templates, found, err := unstructured.NestedSlice(item.Object, "spec", "volumeClaimTemplates")
		if err != nil {
			return nil, a.errorf(item, "read spec.volumeClaimTemplates: %w", err)
		}
		if !found {
			return unchanged, nil
		}
		changed := false
		for i, tmpl := range templates {
			t, ok := tmpl.(map[string]any)
			if !ok {
				return nil, a.errorf(item, "spec.volumeClaimTemplates[%d] is a %T, not an object", i, tmpl)
			}
			ok, err := remap(t, mapping, log)
			if err != nil {
				return nil, a.errorf(item, "spec.volumeClaimTemplates[%d]: %w", i, err)
			}
			changed = changed || ok
		}
		if len(templates) == 0 {
			return unchanged, nil
		}
		if changed {
			if err := unstructured.SetNestedSlice(item.Object, templates, "spec", "volumeClaimTemplates"); err != nil {
				return nil, a.errorf(item, "set spec.volumeClaimTemplates: %w", err)
			}
		}
		// Velero converts a StatefulSet with templates to the typed object
		// and back, changed or not.
		typed, err := kube.Normalize[appsv1.StatefulSet](Name, item)
		if err != nil {
			return nil, err
		}
		return &rigging.RestoreItemActionExecuteOutput{UpdatedItem: typed}, nil
	}

	changed, err := remap(item.Object, mapping, log)
	if err != nil {
		return nil, a.errorf(item, "%w", err)
	}
	if !changed {
		return unchanged, nil
	}
	return &rigging.RestoreItemActionExecuteOutput{UpdatedItem: item}, nil
}

// remap maps obj's spec.storageClassName in place and reports whether it
// changed it.
func remap(obj map[string]any, mapping map[string]string, log *slog.Logger) (bool, error) {
	class, _, err := unstructured.NestedString(obj, "spec", "storageClassName")
	if err != nil {
		return false, fmt.Errorf("read spec.storageClassName: %w", err)
	}
	if class == "" {
		return false, nil
	}
	to, ok := mapping[class]
	if !ok {
		return false, nil
	}
	log.Info("changing storage class", "from", class, "to", to)
	if err := unstructured.SetNestedField(obj, to, "spec", "storageClassName"); err != nil {
		return false, fmt.Errorf("set spec.storageClassName: %w", err)
	}
	return true, nil
}

func (a *Action) errorf(item *unstructured.Unstructured, format string, args ...any) error {
	return kube.Errorf(Name, item, format, args...)
}

var (
	_ rigging.RestoreItemAction = (*Action)(nil)
	_ rigging.Configurable      = (*Action)(nil)
)
