// Package riggingsdk implements the interop test plugins (package spec) on
// rigging's plugin contract, one plugin of every kind, named under
// spec.RiggingDomain. cmd/rigging-test-plugin serves them with rigging's SDK
// so that Velero's own host can load them.
package riggingsdk

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/external/plugin"
	"github.com/rigging-dev/rigging/interop/internal/spec"
	"github.com/rigging-dev/rigging/registry"
)

// Name returns the fully qualified name of the test plugin with short name short.
func Name(short string) string { return spec.RiggingDomain + "/" + short }

// Register adds one test plugin of every kind to r.
func Register(r *registry.Registry) {
	registry.RegisterIn(r, Name(spec.ObjectStore), func(*slog.Logger) (rigging.ObjectStore, error) {
		return &objectStore{store: spec.NewStore()}, nil
	})
	registry.RegisterIn(r, Name(spec.VolumeSnapshotter), func(*slog.Logger) (rigging.VolumeSnapshotter, error) { return snapshotter{}, nil })
	registry.RegisterIn(r, Name(spec.BackupItemAction), func(*slog.Logger) (rigging.BackupItemAction, error) { return backupAction{}, nil })
	registry.RegisterIn(r, Name(spec.BackupItemActionV2), func(*slog.Logger) (rigging.BackupItemActionV2, error) { return backupActionV2{}, nil })
	registry.RegisterIn(r, Name(spec.RestoreItemAction), func(*slog.Logger) (rigging.RestoreItemAction, error) { return restoreAction{}, nil })
	registry.RegisterIn(r, Name(spec.RestoreItemActionV2), func(*slog.Logger) (rigging.RestoreItemActionV2, error) { return restoreActionV2{}, nil })
	registry.RegisterIn(r, Name(spec.DeleteItemAction), func(*slog.Logger) (rigging.DeleteItemAction, error) { return deleteAction{}, nil })
	registry.RegisterIn(r, Name(spec.ItemBlockAction), func(*slog.Logger) (rigging.ItemBlockAction, error) { return itemBlockAction{}, nil })
}

func selector(short string) (rigging.ResourceSelector, error) {
	s := spec.AppliesTo(short)
	return rigging.ResourceSelector{
		IncludedNamespaces: s.IncludedNamespaces, ExcludedNamespaces: s.ExcludedNamespaces,
		IncludedResources: s.IncludedResources, ExcludedResources: s.ExcludedResources,
		LabelSelector: s.LabelSelector,
	}, nil
}

func ids(in []spec.ID) []rigging.ResourceIdentifier {
	out := make([]rigging.ResourceIdentifier, 0, len(in))
	for _, id := range in {
		out = append(out, rigging.ResourceIdentifier{
			GroupResource: schema.GroupResource{Group: id.Group, Resource: id.Resource}, Namespace: id.Namespace, Name: id.Name,
		})
	}
	return out
}

func fromIDs(in []rigging.ResourceIdentifier) []spec.ID {
	out := make([]spec.ID, 0, len(in))
	for _, id := range in {
		out = append(out, spec.ID{Group: id.Group, Resource: id.Resource, Namespace: id.Namespace, Name: id.Name})
	}
	return out
}

func progress(p spec.Progress) rigging.OperationProgress {
	return rigging.OperationProgress{
		Completed: p.Completed, Err: p.Err, NCompleted: p.NCompleted, NTotal: p.NTotal,
		OperationUnits: p.Units, Description: p.Description, Started: p.Started, Updated: p.Updated,
	}
}

// check runs the failure paths shared by every action: a panic, or an error
// with the caller's stack attached.
func check(action string, item *unstructured.Unstructured) error {
	spec.MaybePanic(action, item)
	return plugin.WithStack(spec.Fail(action, item))
}

type objectStore struct{ store *spec.Store }

func (o *objectStore) Init(_ context.Context, config map[string]string) error {
	return plugin.WithStack(spec.InitConfig(config))
}

func (o *objectStore) PutObject(_ context.Context, bucket, key string, body io.Reader) error {
	return o.store.Put(bucket, key, body)
}

func (o *objectStore) ObjectExists(_ context.Context, bucket, key string) (bool, error) {
	return o.store.Exists(bucket, key), nil
}

func (o *objectStore) GetObject(_ context.Context, bucket, key string) (io.ReadCloser, error) {
	b, err := o.store.Get(bucket, key)
	if err != nil {
		return nil, plugin.WithStack(err)
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

func (o *objectStore) ListCommonPrefixes(_ context.Context, bucket, prefix, delimiter string) ([]string, error) {
	return o.store.CommonPrefixes(bucket, prefix, delimiter), nil
}

func (o *objectStore) ListObjects(_ context.Context, bucket, prefix string) ([]string, error) {
	return o.store.Keys(bucket, prefix), nil
}

func (o *objectStore) DeleteObject(_ context.Context, bucket, key string) error {
	o.store.Delete(bucket, key)
	return nil
}

func (o *objectStore) CreateSignedURL(_ context.Context, bucket, key string, ttl time.Duration) (string, error) {
	return spec.SignedURL(bucket, key, ttl), nil
}

type snapshotter struct{}

func (snapshotter) Init(_ context.Context, config map[string]string) error {
	return plugin.WithStack(spec.InitConfig(config))
}

func (snapshotter) CreateVolumeFromSnapshot(_ context.Context, snapshotID, volumeType, volumeAZ string, iops *int64) (string, error) {
	return spec.VolumeFromSnapshot(snapshotID, volumeType, volumeAZ, iops), nil
}

func (snapshotter) GetVolumeInfo(_ context.Context, volumeID, volumeAZ string) (string, *int64, error) {
	t, iops := spec.VolumeInfo(volumeID, volumeAZ)
	return t, iops, nil
}

func (snapshotter) CreateSnapshot(_ context.Context, volumeID, volumeAZ string, tags map[string]string) (string, error) {
	return spec.SnapshotID(volumeID, volumeAZ, tags), nil
}

func (snapshotter) DeleteSnapshot(_ context.Context, snapshotID string) error {
	return plugin.WithStack(spec.DeleteSnapshot(snapshotID))
}

func (snapshotter) GetVolumeID(_ context.Context, pv *unstructured.Unstructured) (string, error) {
	return spec.VolumeID(pv), nil
}

func (snapshotter) SetVolumeID(_ context.Context, pv *unstructured.Unstructured, volumeID string) (*unstructured.Unstructured, error) {
	out, err := spec.SetVolumeID(pv, volumeID)
	return out, plugin.WithStack(err)
}

type backupAction struct{}

func (backupAction) AppliesTo(context.Context) (rigging.ResourceSelector, error) {
	return selector(spec.BackupItemAction)
}

func (backupAction) Execute(_ context.Context, item *unstructured.Unstructured, backup *rigging.Backup) (*unstructured.Unstructured, []rigging.ResourceIdentifier, error) {
	if err := check(spec.BackupItemAction, item); err != nil {
		return nil, nil, err
	}
	out, extra := spec.BackupExecute(item, backup.Name)
	return out, ids(extra), nil
}

type backupActionV2 struct{}

func (backupActionV2) Name() string { return Name(spec.BackupItemActionV2) }

func (backupActionV2) AppliesTo(context.Context) (rigging.ResourceSelector, error) {
	return selector(spec.BackupItemActionV2)
}

func (backupActionV2) Execute(_ context.Context, item *unstructured.Unstructured, backup *rigging.Backup) (*unstructured.Unstructured, []rigging.ResourceIdentifier, string, []rigging.ResourceIdentifier, error) {
	if err := check(spec.BackupItemActionV2, item); err != nil {
		return nil, nil, "", nil, err
	}
	out, extra := spec.BackupExecute(item, backup.Name)
	return out, ids(extra), spec.OperationID(spec.BackupOperationPrefix, item), ids(spec.PostOperationItems(item)), nil
}

func (backupActionV2) Progress(_ context.Context, operationID string, backup *rigging.Backup) (rigging.OperationProgress, error) {
	p, err := spec.OperationProgress(spec.BackupOperationPrefix, operationID, backup.Name)
	if err != nil {
		return rigging.OperationProgress{}, plugin.WithStack(err)
	}
	return progress(p), nil
}

func (backupActionV2) Cancel(_ context.Context, operationID string, _ *rigging.Backup) error {
	return plugin.WithStack(spec.CancelOperation(spec.BackupOperationPrefix, operationID))
}

type restoreAction struct{}

func (restoreAction) AppliesTo(context.Context) (rigging.ResourceSelector, error) {
	return selector(spec.RestoreItemAction)
}

func (restoreAction) Execute(_ context.Context, in *rigging.RestoreItemActionExecuteInput) (*rigging.RestoreItemActionExecuteOutput, error) {
	return restoreExecute(spec.RestoreItemAction, in, false)
}

func restoreExecute(action string, in *rigging.RestoreItemActionExecuteInput, v2 bool) (*rigging.RestoreItemActionExecuteOutput, error) {
	if err := check(action, in.Item); err != nil {
		return nil, err
	}
	r := spec.RestoreExecute(in.Item, in.ItemFromBackup, in.Restore.Name, v2)
	return &rigging.RestoreItemActionExecuteOutput{
		UpdatedItem: r.Item, AdditionalItems: ids(r.Additional), SkipRestore: r.Skip,
		OperationID: r.OperationID, WaitForAdditionalItems: r.WaitForAdditionalItems,
		AdditionalItemsReadyTimeout: r.ReadyTimeout,
	}, nil
}

type restoreActionV2 struct{}

func (restoreActionV2) Name() string { return Name(spec.RestoreItemActionV2) }

func (restoreActionV2) AppliesTo(context.Context) (rigging.ResourceSelector, error) {
	return selector(spec.RestoreItemActionV2)
}

func (restoreActionV2) Execute(_ context.Context, in *rigging.RestoreItemActionExecuteInput) (*rigging.RestoreItemActionExecuteOutput, error) {
	return restoreExecute(spec.RestoreItemActionV2, in, true)
}

func (restoreActionV2) Progress(_ context.Context, operationID string, restore *rigging.Restore) (rigging.OperationProgress, error) {
	p, err := spec.OperationProgress(spec.RestoreOperationPrefix, operationID, restore.Name)
	if err != nil {
		return rigging.OperationProgress{}, plugin.WithStack(err)
	}
	return progress(p), nil
}

func (restoreActionV2) Cancel(_ context.Context, operationID string, _ *rigging.Restore) error {
	return plugin.WithStack(spec.CancelOperation(spec.RestoreOperationPrefix, operationID))
}

func (restoreActionV2) AreAdditionalItemsReady(_ context.Context, items []rigging.ResourceIdentifier, _ *rigging.Restore) (bool, error) {
	return spec.AdditionalItemsReady(fromIDs(items)), nil
}

type deleteAction struct{}

func (deleteAction) AppliesTo(context.Context) (rigging.ResourceSelector, error) {
	return selector(spec.DeleteItemAction)
}

func (deleteAction) Execute(_ context.Context, in *rigging.DeleteItemActionExecuteInput) error {
	spec.MaybePanic(spec.DeleteItemAction, in.Item)
	return plugin.WithStack(spec.DeleteExecute(in.Item, in.Backup.Name))
}

type itemBlockAction struct{}

func (itemBlockAction) Name() string { return Name(spec.ItemBlockAction) }

func (itemBlockAction) AppliesTo(context.Context) (rigging.ResourceSelector, error) {
	return selector(spec.ItemBlockAction)
}

func (itemBlockAction) GetRelatedItems(_ context.Context, item *unstructured.Unstructured, backup *rigging.Backup) ([]rigging.ResourceIdentifier, error) {
	if err := check(spec.ItemBlockAction, item); err != nil {
		return nil, err
	}
	return ids(spec.RelatedItems(item, backup.Name)), nil
}
