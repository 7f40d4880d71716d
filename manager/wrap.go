package manager

import (
	"context"
	"fmt"
	"io"
	"reflect"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/rigging-dev/rigging"
)

// This file is the per-kind mapping of the middleware: one wrapper type per
// kind whose methods only forward through method.call. Everything else
// (deadline, panic recovery, metrics, logs) is in middleware.go.

// wrap returns v, which a factory or a Catalog produced for kind, wrapped in
// the middleware. It fails when v does not implement kind's interface.
func wrap(kind rigging.Kind, v any, cc *callConfig) (any, error) {
	switch kind {
	case rigging.KindObjectStore:
		return wrapAs(v, cc, newObjectStore)
	case rigging.KindVolumeSnapshotter:
		return wrapAs(v, cc, newVolumeSnapshotter)
	case rigging.KindBackupItemAction:
		return wrapAs(v, cc, newBackupItemAction)
	case rigging.KindBackupItemActionV2:
		return wrapAs(v, cc, newBackupItemActionV2)
	case rigging.KindRestoreItemAction:
		return wrapAs(v, cc, newRestoreItemAction)
	case rigging.KindRestoreItemActionV2:
		return wrapAs(v, cc, newRestoreItemActionV2)
	case rigging.KindDeleteItemAction:
		return wrapAs(v, cc, newDeleteItemAction)
	case rigging.KindItemBlockAction:
		return wrapAs(v, cc, newItemBlockAction)
	}
	return nil, fmt.Errorf("%w: %q", rigging.ErrInvalidKind, kind)
}

func wrapAs[T, W any](v any, cc *callConfig, newW func(T, *callConfig) W) (any, error) {
	t, ok := v.(T)
	if !ok {
		return nil, fmt.Errorf("%T does not implement %v", v, reflect.TypeFor[T]())
	}
	return newW(t, cc), nil
}

// adapt offers the v1 action v (already wrapped) as the v2 kind it adapts
// to, as Velero's adapted getters do (velero-protocol.md §4.2).
func adapt(v any, name rigging.Name) any {
	switch a := v.(type) {
	case rigging.BackupItemAction:
		return &adaptedBackupItemAction{BackupItemAction: a, name: name}
	case rigging.RestoreItemAction:
		return &adaptedRestoreItemAction{RestoreItemAction: a, name: name}
	}
	panic(fmt.Sprintf("manager: cannot adapt %T", v))
}

type objectStore struct {
	impl                                                      rigging.ObjectStore
	init, put, exists, get, prefixes, list, delete, signedURL method
}

func newObjectStore(impl rigging.ObjectStore, cc *callConfig) *objectStore {
	return &objectStore{impl: impl,
		init: cc.method("Init"), put: cc.method("PutObject"), exists: cc.method("ObjectExists"),
		get: cc.method("GetObject"), prefixes: cc.method("ListCommonPrefixes"), list: cc.method("ListObjects"),
		delete: cc.method("DeleteObject"), signedURL: cc.method("CreateSignedURL")}
}

func (w *objectStore) Init(ctx context.Context, config map[string]string) error {
	return w.init.call(ctx, func(ctx context.Context) error { return w.impl.Init(ctx, config) })
}

func (w *objectStore) PutObject(ctx context.Context, bucket, key string, body io.Reader) error {
	return w.put.call(ctx, func(ctx context.Context) error { return w.impl.PutObject(ctx, bucket, key, body) })
}

func (w *objectStore) ObjectExists(ctx context.Context, bucket, key string) (ok bool, err error) {
	err = w.exists.call(ctx, func(ctx context.Context) (err error) { ok, err = w.impl.ObjectExists(ctx, bucket, key); return })
	return ok, err
}

// GetObject's deadline bounds opening the object only: the reader is bound
// by ctx alone and releases the call's context when closed.
func (w *objectStore) GetObject(ctx context.Context, bucket, key string) (io.ReadCloser, error) {
	var rc io.ReadCloser
	release, err := w.get.open(ctx, func(ctx context.Context) (err error) { rc, err = w.impl.GetObject(ctx, bucket, key); return })
	if err != nil {
		if rc != nil {
			rc.Close()
		}
		return nil, err
	}
	return &releasingReader{ReadCloser: rc, release: release}, nil
}

func (w *objectStore) ListCommonPrefixes(ctx context.Context, bucket, prefix, delimiter string) (out []string, err error) {
	err = w.prefixes.call(ctx, func(ctx context.Context) (err error) {
		out, err = w.impl.ListCommonPrefixes(ctx, bucket, prefix, delimiter)
		return
	})
	return out, err
}

func (w *objectStore) ListObjects(ctx context.Context, bucket, prefix string) (out []string, err error) {
	err = w.list.call(ctx, func(ctx context.Context) (err error) { out, err = w.impl.ListObjects(ctx, bucket, prefix); return })
	return out, err
}

func (w *objectStore) DeleteObject(ctx context.Context, bucket, key string) error {
	return w.delete.call(ctx, func(ctx context.Context) error { return w.impl.DeleteObject(ctx, bucket, key) })
}

func (w *objectStore) CreateSignedURL(ctx context.Context, bucket, key string, ttl time.Duration) (url string, err error) {
	err = w.signedURL.call(ctx, func(ctx context.Context) (err error) {
		url, err = w.impl.CreateSignedURL(ctx, bucket, key, ttl)
		return
	})
	return url, err
}

// releasingReader releases the GetObject call's context when closed.
type releasingReader struct {
	io.ReadCloser
	once    sync.Once
	release func()
}

func (r *releasingReader) Close() error {
	err := r.ReadCloser.Close()
	r.once.Do(r.release)
	return err
}

type volumeSnapshotter struct {
	impl                                                                 rigging.VolumeSnapshotter
	init, createVolume, volumeInfo, createSnap, deleteSnap, getID, setID method
}

func newVolumeSnapshotter(impl rigging.VolumeSnapshotter, cc *callConfig) *volumeSnapshotter {
	return &volumeSnapshotter{impl: impl,
		init: cc.method("Init"), createVolume: cc.method("CreateVolumeFromSnapshot"), volumeInfo: cc.method("GetVolumeInfo"),
		createSnap: cc.method("CreateSnapshot"), deleteSnap: cc.method("DeleteSnapshot"),
		getID: cc.method("GetVolumeID"), setID: cc.method("SetVolumeID")}
}

func (w *volumeSnapshotter) Init(ctx context.Context, config map[string]string) error {
	return w.init.call(ctx, func(ctx context.Context) error { return w.impl.Init(ctx, config) })
}

func (w *volumeSnapshotter) CreateVolumeFromSnapshot(ctx context.Context, snapshotID, volumeType, volumeAZ string, iops *int64) (volumeID string, err error) {
	err = w.createVolume.call(ctx, func(ctx context.Context) (err error) {
		volumeID, err = w.impl.CreateVolumeFromSnapshot(ctx, snapshotID, volumeType, volumeAZ, iops)
		return
	})
	return volumeID, err
}

func (w *volumeSnapshotter) GetVolumeInfo(ctx context.Context, volumeID, volumeAZ string) (volumeType string, iops *int64, err error) {
	err = w.volumeInfo.call(ctx, func(ctx context.Context) (err error) {
		volumeType, iops, err = w.impl.GetVolumeInfo(ctx, volumeID, volumeAZ)
		return
	})
	return volumeType, iops, err
}

func (w *volumeSnapshotter) CreateSnapshot(ctx context.Context, volumeID, volumeAZ string, tags map[string]string) (snapshotID string, err error) {
	err = w.createSnap.call(ctx, func(ctx context.Context) (err error) {
		snapshotID, err = w.impl.CreateSnapshot(ctx, volumeID, volumeAZ, tags)
		return
	})
	return snapshotID, err
}

func (w *volumeSnapshotter) DeleteSnapshot(ctx context.Context, snapshotID string) error {
	return w.deleteSnap.call(ctx, func(ctx context.Context) error { return w.impl.DeleteSnapshot(ctx, snapshotID) })
}

func (w *volumeSnapshotter) GetVolumeID(ctx context.Context, pv *unstructured.Unstructured) (volumeID string, err error) {
	err = w.getID.call(ctx, func(ctx context.Context) (err error) { volumeID, err = w.impl.GetVolumeID(ctx, pv); return })
	return volumeID, err
}

func (w *volumeSnapshotter) SetVolumeID(ctx context.Context, pv *unstructured.Unstructured, volumeID string) (out *unstructured.Unstructured, err error) {
	err = w.setID.call(ctx, func(ctx context.Context) (err error) { out, err = w.impl.SetVolumeID(ctx, pv, volumeID); return })
	return out, err
}

// appliesTo is the AppliesTo method every action kind shares.
type appliesTo struct {
	impl interface {
		AppliesTo(context.Context) (rigging.ResourceSelector, error)
	}
	m method
}

func (w *appliesTo) AppliesTo(ctx context.Context) (sel rigging.ResourceSelector, err error) {
	err = w.m.call(ctx, func(ctx context.Context) (err error) { sel, err = w.impl.AppliesTo(ctx); return })
	return sel, err
}

// LookupResources forwards the action's rigging.LookupUser answer, for
// every action kind.
func (w *appliesTo) LookupResources() []schema.GroupResource { return rigging.LookupResources(w.impl) }

// named answers Name with the registered name, as Velero's host does.
type named struct{ name rigging.Name }

func (n named) Name() string { return string(n.name) }

type backupItemAction struct {
	appliesTo
	impl    rigging.BackupItemAction
	execute method
}

func newBackupItemAction(impl rigging.BackupItemAction, cc *callConfig) *backupItemAction {
	return &backupItemAction{appliesTo: appliesTo{impl, cc.method("AppliesTo")}, impl: impl, execute: cc.method("Execute")}
}

func (w *backupItemAction) Execute(ctx context.Context, item *unstructured.Unstructured, backup *rigging.Backup) (updated *unstructured.Unstructured, additional []rigging.ResourceIdentifier, err error) {
	err = w.execute.call(ctx, func(ctx context.Context) (err error) {
		updated, additional, err = w.impl.Execute(ctx, item, backup)
		return
	})
	return updated, additional, err
}

// PreservesInput forwards the action's rigging.InputPreserver answer.
func (w *backupItemAction) PreservesInput() bool { return rigging.PreservesInput(w.impl) }

type backupItemActionV2 struct {
	appliesTo
	named
	impl                      rigging.BackupItemActionV2
	execute, progress, cancel method
}

func newBackupItemActionV2(impl rigging.BackupItemActionV2, cc *callConfig) *backupItemActionV2 {
	return &backupItemActionV2{appliesTo: appliesTo{impl, cc.method("AppliesTo")}, named: named{cc.name}, impl: impl,
		execute: cc.method("Execute"), progress: cc.method("Progress"), cancel: cc.method("Cancel")}
}

func (w *backupItemActionV2) Execute(ctx context.Context, item *unstructured.Unstructured, backup *rigging.Backup) (updated *unstructured.Unstructured, additional []rigging.ResourceIdentifier, operationID string, postOperationItems []rigging.ResourceIdentifier, err error) {
	err = w.execute.call(ctx, func(ctx context.Context) (err error) {
		updated, additional, operationID, postOperationItems, err = w.impl.Execute(ctx, item, backup)
		return
	})
	return updated, additional, operationID, postOperationItems, err
}

// PreservesInput forwards the action's rigging.InputPreserver answer.
func (w *backupItemActionV2) PreservesInput() bool { return rigging.PreservesInput(w.impl) }

func (w *backupItemActionV2) Progress(ctx context.Context, operationID string, backup *rigging.Backup) (p rigging.OperationProgress, err error) {
	err = w.progress.call(ctx, func(ctx context.Context) (err error) { p, err = w.impl.Progress(ctx, operationID, backup); return })
	return p, err
}

func (w *backupItemActionV2) Cancel(ctx context.Context, operationID string, backup *rigging.Backup) error {
	return w.cancel.call(ctx, func(ctx context.Context) error { return w.impl.Cancel(ctx, operationID, backup) })
}

type restoreItemAction struct {
	appliesTo
	impl    rigging.RestoreItemAction
	execute method
}

func newRestoreItemAction(impl rigging.RestoreItemAction, cc *callConfig) *restoreItemAction {
	return &restoreItemAction{appliesTo: appliesTo{impl, cc.method("AppliesTo")}, impl: impl, execute: cc.method("Execute")}
}

func (w *restoreItemAction) Execute(ctx context.Context, input *rigging.RestoreItemActionExecuteInput) (out *rigging.RestoreItemActionExecuteOutput, err error) {
	err = w.execute.call(ctx, func(ctx context.Context) (err error) { out, err = w.impl.Execute(ctx, input); return })
	return out, err
}

type restoreItemActionV2 struct {
	appliesTo
	named
	impl                             rigging.RestoreItemActionV2
	execute, progress, cancel, ready method
}

func newRestoreItemActionV2(impl rigging.RestoreItemActionV2, cc *callConfig) *restoreItemActionV2 {
	return &restoreItemActionV2{appliesTo: appliesTo{impl, cc.method("AppliesTo")}, named: named{cc.name}, impl: impl,
		execute: cc.method("Execute"), progress: cc.method("Progress"), cancel: cc.method("Cancel"),
		ready: cc.method("AreAdditionalItemsReady")}
}

func (w *restoreItemActionV2) Execute(ctx context.Context, input *rigging.RestoreItemActionExecuteInput) (out *rigging.RestoreItemActionExecuteOutput, err error) {
	err = w.execute.call(ctx, func(ctx context.Context) (err error) { out, err = w.impl.Execute(ctx, input); return })
	return out, err
}

func (w *restoreItemActionV2) Progress(ctx context.Context, operationID string, restore *rigging.Restore) (p rigging.OperationProgress, err error) {
	err = w.progress.call(ctx, func(ctx context.Context) (err error) { p, err = w.impl.Progress(ctx, operationID, restore); return })
	return p, err
}

func (w *restoreItemActionV2) Cancel(ctx context.Context, operationID string, restore *rigging.Restore) error {
	return w.cancel.call(ctx, func(ctx context.Context) error { return w.impl.Cancel(ctx, operationID, restore) })
}

func (w *restoreItemActionV2) AreAdditionalItemsReady(ctx context.Context, items []rigging.ResourceIdentifier, restore *rigging.Restore) (ready bool, err error) {
	err = w.ready.call(ctx, func(ctx context.Context) (err error) {
		ready, err = w.impl.AreAdditionalItemsReady(ctx, items, restore)
		return
	})
	return ready, err
}

type deleteItemAction struct {
	appliesTo
	impl    rigging.DeleteItemAction
	execute method
}

func newDeleteItemAction(impl rigging.DeleteItemAction, cc *callConfig) *deleteItemAction {
	return &deleteItemAction{appliesTo: appliesTo{impl, cc.method("AppliesTo")}, impl: impl, execute: cc.method("Execute")}
}

func (w *deleteItemAction) Execute(ctx context.Context, input *rigging.DeleteItemActionExecuteInput) error {
	return w.execute.call(ctx, func(ctx context.Context) error { return w.impl.Execute(ctx, input) })
}

type itemBlockAction struct {
	appliesTo
	named
	impl    rigging.ItemBlockAction
	related method
}

func newItemBlockAction(impl rigging.ItemBlockAction, cc *callConfig) *itemBlockAction {
	return &itemBlockAction{appliesTo: appliesTo{impl, cc.method("AppliesTo")}, named: named{cc.name}, impl: impl,
		related: cc.method("GetRelatedItems")}
}

func (w *itemBlockAction) GetRelatedItems(ctx context.Context, item *unstructured.Unstructured, backup *rigging.Backup) (ids []rigging.ResourceIdentifier, err error) {
	err = w.related.call(ctx, func(ctx context.Context) (err error) { ids, err = w.impl.GetRelatedItems(ctx, item, backup); return })
	return ids, err
}

// adaptedBackupItemAction offers a v1 BackupItemAction as a v2 one: Execute
// starts no operation, Progress reports rigging.ErrAsyncNotSupported and
// Cancel does nothing.
type adaptedBackupItemAction struct {
	rigging.BackupItemAction // wrapped in the middleware
	name                     rigging.Name
}

func (a *adaptedBackupItemAction) Name() string { return string(a.name) }

// PreservesInput forwards the v1 action's rigging.InputPreserver answer.
func (a *adaptedBackupItemAction) PreservesInput() bool {
	return rigging.PreservesInput(a.BackupItemAction)
}

// LookupResources forwards the v1 action's rigging.LookupUser answer.
func (a *adaptedBackupItemAction) LookupResources() []schema.GroupResource {
	return rigging.LookupResources(a.BackupItemAction)
}

func (a *adaptedBackupItemAction) Execute(ctx context.Context, item *unstructured.Unstructured, backup *rigging.Backup) (*unstructured.Unstructured, []rigging.ResourceIdentifier, string, []rigging.ResourceIdentifier, error) {
	updated, additional, err := a.BackupItemAction.Execute(ctx, item, backup)
	return updated, additional, "", nil, err
}

func (a *adaptedBackupItemAction) Progress(context.Context, string, *rigging.Backup) (rigging.OperationProgress, error) {
	return rigging.OperationProgress{}, &CallError{Kind: rigging.KindBackupItemAction, Name: a.name, Method: "Progress", Err: rigging.ErrAsyncNotSupported}
}

func (a *adaptedBackupItemAction) Cancel(context.Context, string, *rigging.Backup) error { return nil }

// adaptedRestoreItemAction offers a v1 RestoreItemAction as a v2 one:
// Progress reports rigging.ErrAsyncNotSupported, Cancel does nothing and
// additional items are always ready.
type adaptedRestoreItemAction struct {
	rigging.RestoreItemAction // wrapped in the middleware
	name                      rigging.Name
}

// LookupResources forwards the v1 action's rigging.LookupUser answer.
func (a *adaptedRestoreItemAction) LookupResources() []schema.GroupResource {
	return rigging.LookupResources(a.RestoreItemAction)
}

func (a *adaptedRestoreItemAction) Name() string { return string(a.name) }

func (a *adaptedRestoreItemAction) Progress(context.Context, string, *rigging.Restore) (rigging.OperationProgress, error) {
	return rigging.OperationProgress{}, &CallError{Kind: rigging.KindRestoreItemAction, Name: a.name, Method: "Progress", Err: rigging.ErrAsyncNotSupported}
}

func (a *adaptedRestoreItemAction) Cancel(context.Context, string, *rigging.Restore) error {
	return nil
}

func (a *adaptedRestoreItemAction) AreAdditionalItemsReady(context.Context, []rigging.ResourceIdentifier, *rigging.Restore) (bool, error) {
	return true, nil
}

// Interface guards.
var (
	_ rigging.ObjectStore         = (*objectStore)(nil)
	_ rigging.VolumeSnapshotter   = (*volumeSnapshotter)(nil)
	_ rigging.BackupItemAction    = (*backupItemAction)(nil)
	_ rigging.BackupItemActionV2  = (*backupItemActionV2)(nil)
	_ rigging.RestoreItemAction   = (*restoreItemAction)(nil)
	_ rigging.RestoreItemActionV2 = (*restoreItemActionV2)(nil)
	_ rigging.DeleteItemAction    = (*deleteItemAction)(nil)
	_ rigging.ItemBlockAction     = (*itemBlockAction)(nil)
	_ rigging.BackupItemActionV2  = (*adaptedBackupItemAction)(nil)
	_ rigging.RestoreItemActionV2 = (*adaptedRestoreItemAction)(nil)
)
