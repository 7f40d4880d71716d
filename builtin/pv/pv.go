// Package pv ports Velero v1.18's BackupItemAction velero.io/pv: when a
// PersistentVolumeClaim is backed up, its bound PersistentVolume is backed up
// with it, and the claim is stored in the form that restores cleanly (no
// data source of an earlier restore, no stale selector, no stale Velero
// labels). The package registers the action in init; import it for its side
// effect.
package pv

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/builtin/internal/kube"
	"github.com/rigging-dev/rigging/registry"
)

// Name is the registered name of the BackupItemAction.
const Name = "velero.io/pv"

// Velero labels a claim may carry from an earlier backup or restore.
const (
	labelVolumeSnapshotName = "velero.io/volume-snapshot-name"
	veleroLabelPrefix       = "velero.io/"
)

func init() {
	registry.Register(Name, func(log *slog.Logger) (rigging.BackupItemAction, error) {
		return &BackupAction{log: log}, nil
	})
}

// BackupAction is the BackupItemAction velero.io/pv. It is safe for
// concurrent use.
type BackupAction struct {
	log *slog.Logger
}

var _ rigging.BackupItemAction = (*BackupAction)(nil)

var _ rigging.InputPreserver = (*BackupAction)(nil)

// PreservesInput reports true: Execute never modifies the item it is given
// (rigging.InputPreserver), so a host need not copy a shared item for it.
func (a *BackupAction) PreservesInput() bool { return true }

// AppliesTo selects PersistentVolumeClaims.
func (a *BackupAction) AppliesTo(context.Context) (rigging.ResourceSelector, error) {
	return rigging.ResourceSelector{IncludedResources: []string{"persistentvolumeclaims"}}, nil
}

// Execute returns an unbound claim (status.phase not Bound, or no
// spec.volumeName) itself, unmodified, with no additional items. For a bound
// claim it returns the PersistentVolume spec.volumeName as the additional
// item, and a copy of the claim (the input is not changed) where, as in
// Velero v1.18:
//   - spec.dataSource and spec.dataSourceRef are removed (left by an earlier
//     CSI restore);
//   - spec.selector is removed unless spec.storageClassName is "" (a claim
//     reserving a static volume keeps it); label keys starting with
//     "velero.io/" are removed from a kept selector's matchLabels;
//   - the labels velero.io/restore-name, velero.io/volume-snapshot-name,
//     backup.velero.io/must-include-additional-items, and
//     velero.io/backup-name when it names another backup, are removed;
//   - the result is normalised as Velero's typed round trip normalises it
//     (kube.Normalize: fields at their zero value are dropped, fields the
//     typed claim does not declare too).
//
// An unbound claim is read in place, not decoded into a typed claim: a field it
// reads (status.phase, spec.volumeName, spec.storageClassName,
// spec.selector, its matchLabels, metadata.labels) of the wrong type is an
// error naming the plugin, the claim and the field.
func (a *BackupAction) Execute(ctx context.Context, item *unstructured.Unstructured, backup *rigging.Backup) (*unstructured.Unstructured, []rigging.ResourceIdentifier, error) {
	if item == nil {
		return nil, nil, fmt.Errorf("plugin %s: %w", Name, kube.ErrNilItem)
	}
	// The fields are read in place: an unbound claim, returned as it is,
	// pays no typed conversion.
	c, err := readClaim(item)
	if err != nil {
		return nil, nil, kube.Errorf(Name, item, "%w", err)
	}
	if c.phase != string(corev1.ClaimBound) || c.volumeName == "" {
		return item, nil, nil
	}

	out := item.DeepCopy()
	unstructured.RemoveNestedField(out.Object, "spec", "dataSource")
	unstructured.RemoveNestedField(out.Object, "spec", "dataSourceRef")
	if c.storageClassName == nil || *c.storageClassName != "" {
		unstructured.RemoveNestedField(out.Object, "spec", "selector")
	} else if c.hasSelector {
		var stale []string
		for k := range c.selectorLabels {
			if strings.HasPrefix(k, veleroLabelPrefix) {
				stale = append(stale, k)
			}
		}
		if _, err := kube.RemoveKeys(out.Object, stale, "spec", "selector", "matchLabels"); err != nil {
			return nil, nil, kube.Errorf(Name, item, "%w", err)
		}
	}

	backupName := ""
	if backup != nil {
		backupName = backup.Name
	}
	stale := []string{rigging.LabelRestoreName, labelVolumeSnapshotName, rigging.AnnotationBackupMustIncludeAdditionalItems}
	if v, ok := c.labels[rigging.LabelBackupName]; ok && labelValue(v) != backupName {
		stale = append(stale, rigging.LabelBackupName)
	}
	if _, err := kube.RemoveKeys(out.Object, stale, "metadata", "labels"); err != nil {
		return nil, nil, kube.Errorf(Name, item, "%w", err)
	}
	// Velero returns the bound claim through a typed round trip; so does
	// rigging, for the same fields (no edit of the map reproduces the
	// typed struct's omissions exactly).
	typed, err := kube.Normalize[corev1.PersistentVolumeClaim](Name, out)
	if err != nil {
		return nil, nil, err
	}
	if kube.DebugEnabled(ctx, a.log) {
		a.log.Debug("adding bound volume", "claim", kube.Ref(item), "volume", c.volumeName)
	}
	return typed, []rigging.ResourceIdentifier{kube.VolumeIdentifier(c.volumeName)}, nil
}

// claim is what Execute reads of a PersistentVolumeClaim.
type claim struct {
	phase, volumeName string
	storageClassName  *string // nil when absent or null
	hasSelector       bool
	selectorLabels    map[string]any // spec.selector.matchLabels
	labels            map[string]any // metadata.labels
}

// readClaim reads the fields Execute needs from item without copying it.
// A field of the wrong type is an error naming it.
func readClaim(item *unstructured.Unstructured) (claim, error) {
	var c claim
	var err error
	if c.phase, err = kube.NestedString(item.Object, "status", "phase"); err != nil {
		return c, err
	}
	if c.volumeName, err = kube.NestedString(item.Object, "spec", "volumeName"); err != nil {
		return c, err
	}
	if v, found, _ := unstructured.NestedFieldNoCopy(item.Object, "spec", "storageClassName"); found && v != nil {
		sc, ok := v.(string)
		if !ok {
			return c, fmt.Errorf("spec.storageClassName: is %T, not a string", v)
		}
		c.storageClassName = &sc
	}
	sel, err := kube.NestedMap(item.Object, "spec", "selector")
	if err != nil {
		return c, err
	}
	c.hasSelector = sel != nil
	if c.selectorLabels, err = kube.NestedMap(item.Object, "spec", "selector", "matchLabels"); err != nil {
		return c, err
	}
	if c.labels, err = kube.NestedMap(item.Object, "metadata", "labels"); err != nil {
		return c, err
	}
	for k, v := range c.labels {
		if _, ok := v.(string); !ok && v != nil {
			return c, fmt.Errorf("metadata.labels.%s: is %T, not a string", k, v)
		}
	}
	return c, nil
}

// labelValue is a label's value as a string (a null value is "").
func labelValue(v any) string {
	s, _ := v.(string)
	return s
}
