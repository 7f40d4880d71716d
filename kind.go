package rigging

import (
	"fmt"
	"reflect"
)

// Kind is a plugin kind. Its string value is the wire string Velero uses as the
// go-plugin map key and in ListPlugins answers (velero-protocol.md §2.1).
type Kind string

// The plugin kinds. The values are Velero's wire strings and must not change.
const (
	KindObjectStore         Kind = "ObjectStore"
	KindVolumeSnapshotter   Kind = "VolumeSnapshotter"
	KindBackupItemAction    Kind = "BackupItemAction"
	KindBackupItemActionV2  Kind = "BackupItemActionV2"
	KindRestoreItemAction   Kind = "RestoreItemAction"
	KindRestoreItemActionV2 Kind = "RestoreItemActionV2"
	KindDeleteItemAction    Kind = "DeleteItemAction"
	KindItemBlockAction     Kind = "ItemBlockAction"
	// KindPluginLister is the discovery service every plugin binary serves. It
	// is never registered or listed as a plugin.
	KindPluginLister Kind = "PluginLister"
)

// Kinds returns the kinds a plugin can implement, in the order Velero's plugin
// server lists them (velero-protocol.md §3.3). KindPluginLister is not among
// them. The returned slice is a fresh copy.
func Kinds() []Kind {
	return []Kind{
		KindBackupItemAction, KindBackupItemActionV2, KindVolumeSnapshotter, KindObjectStore,
		KindRestoreItemAction, KindRestoreItemActionV2, KindDeleteItemAction, KindItemBlockAction,
	}
}

// ParseKind returns the Kind named by s, which must be one of the wire strings
// of Kinds (matched exactly). Otherwise the error wraps ErrInvalidKind.
func ParseKind(s string) (Kind, error) {
	k := Kind(s)
	if k.Valid() {
		return k, nil
	}
	return "", fmt.Errorf("%w: %q (want one of %v)", ErrInvalidKind, s, Kinds())
}

// Valid reports whether k is a kind a plugin can implement (any kind but
// KindPluginLister).
func (k Kind) Valid() bool {
	_, ok := kindTypes[k]
	return ok
}

// String returns the wire string.
func (k Kind) String() string { return string(k) }

// AdaptsTo returns the newer kind a plugin of kind k can be offered as through
// an adapter, as Velero's PluginKindsAdaptableTo does: BackupItemAction to
// BackupItemActionV2 and RestoreItemAction to RestoreItemActionV2. The second
// result is false for every other kind.
func (k Kind) AdaptsTo() (Kind, bool) {
	switch k {
	case KindBackupItemAction:
		return KindBackupItemActionV2, true
	case KindRestoreItemAction:
		return KindRestoreItemActionV2, true
	}
	return "", false
}

// Interface returns the Go interface type that plugins of kind k implement
// (for example reflect.TypeFor[ObjectStore]()), or nil for an invalid kind.
func (k Kind) Interface() reflect.Type { return kindTypes[k] }

var kindTypes = map[Kind]reflect.Type{
	KindObjectStore:         reflect.TypeFor[ObjectStore](),
	KindVolumeSnapshotter:   reflect.TypeFor[VolumeSnapshotter](),
	KindBackupItemAction:    reflect.TypeFor[BackupItemAction](),
	KindBackupItemActionV2:  reflect.TypeFor[BackupItemActionV2](),
	KindRestoreItemAction:   reflect.TypeFor[RestoreItemAction](),
	KindRestoreItemActionV2: reflect.TypeFor[RestoreItemActionV2](),
	KindDeleteItemAction:    reflect.TypeFor[DeleteItemAction](),
	KindItemBlockAction:     reflect.TypeFor[ItemBlockAction](),
}

// KindFor returns the kind whose interface is exactly T, as in
// KindFor[ObjectStore]() == KindObjectStore. The second result is false when T
// is not one of the kind interfaces (a concrete type, say).
func KindFor[T any]() (Kind, bool) {
	t := reflect.TypeFor[T]()
	for k, kt := range kindTypes {
		if kt == t {
			return k, true
		}
	}
	return "", false
}
