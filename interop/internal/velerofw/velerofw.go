// Package velerofw implements the interop test plugins (package spec) on
// Velero's own plugin framework, one plugin of every kind, named under
// spec.VeleroDomain. It links Velero's generated protocol code, so it must
// never be linked into a binary that also links rigging's.
package velerofw

import (
	"bytes"
	"io"
	"time"

	"github.com/cockroachdb/errors"
	"github.com/sirupsen/logrus"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	api "github.com/vmware-tanzu/velero/pkg/apis/velero/v1"
	"github.com/vmware-tanzu/velero/pkg/plugin/framework"
	"github.com/vmware-tanzu/velero/pkg/plugin/velero"

	"github.com/rigging-dev/rigging/interop/internal/spec"
)

// Name returns the fully qualified name of the test plugin with short name short.
func Name(short string) string { return spec.VeleroDomain + "/" + short }

// NewServer returns a Velero plugin server with one test plugin of every
// kind registered. Serve it with its Serve method.
func NewServer() framework.Server {
	return framework.NewServer().
		RegisterObjectStore(Name(spec.ObjectStore), func(logrus.FieldLogger) (any, error) { return &objectStore{store: spec.NewStore()}, nil }).
		RegisterVolumeSnapshotter(Name(spec.VolumeSnapshotter), func(logrus.FieldLogger) (any, error) { return &snapshotter{}, nil }).
		RegisterBackupItemAction(Name(spec.BackupItemAction), func(logrus.FieldLogger) (any, error) { return &backupAction{}, nil }).
		RegisterBackupItemActionV2(Name(spec.BackupItemActionV2), func(logrus.FieldLogger) (any, error) { return &backupActionV2{}, nil }).
		RegisterRestoreItemAction(Name(spec.RestoreItemAction), func(logrus.FieldLogger) (any, error) { return &restoreAction{}, nil }).
		RegisterRestoreItemActionV2(Name(spec.RestoreItemActionV2), func(logrus.FieldLogger) (any, error) { return &restoreActionV2{}, nil }).
		RegisterDeleteItemAction(Name(spec.DeleteItemAction), func(logrus.FieldLogger) (any, error) { return &deleteAction{}, nil }).
		RegisterItemBlockAction(Name(spec.ItemBlockAction), func(logrus.FieldLogger) (any, error) { return &itemBlockAction{}, nil })
}

func selector(short string) (velero.ResourceSelector, error) {
	s := spec.AppliesTo(short)
	return velero.ResourceSelector{
		IncludedNamespaces: s.IncludedNamespaces, ExcludedNamespaces: s.ExcludedNamespaces,
		IncludedResources: s.IncludedResources, ExcludedResources: s.ExcludedResources,
		LabelSelector: s.LabelSelector,
	}, nil
}

func ids(in []spec.ID) []velero.ResourceIdentifier {
	out := make([]velero.ResourceIdentifier, 0, len(in))
	for _, id := range in {
		out = append(out, velero.ResourceIdentifier{
			GroupResource: schema.GroupResource{Group: id.Group, Resource: id.Resource}, Namespace: id.Namespace, Name: id.Name,
		})
	}
	return out
}

func fromIDs(in []velero.ResourceIdentifier) []spec.ID {
	out := make([]spec.ID, 0, len(in))
	for _, id := range in {
		out = append(out, spec.ID{Group: id.Group, Resource: id.Resource, Namespace: id.Namespace, Name: id.Name})
	}
	return out
}

func progress(p spec.Progress) velero.OperationProgress {
	return velero.OperationProgress{
		Completed: p.Completed, Err: p.Err, NCompleted: p.NCompleted, NTotal: p.NTotal,
		OperationUnits: p.Units, Description: p.Description, Started: p.Started, Updated: p.Updated,
	}
}

// asUnstructured converts what the framework hands an action.
func asUnstructured(item runtime.Unstructured) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: item.UnstructuredContent()}
}

// check runs the failure paths shared by every action: a panic or an error
// with a stack (cockroachdb/errors, which the framework encodes as a
// generated.Stack detail).
func check(action string, item *unstructured.Unstructured) error {
	spec.MaybePanic(action, item)
	if err := spec.Fail(action, item); err != nil {
		return errors.WithStack(err)
	}
	return nil
}

type objectStore struct{ store *spec.Store }

func (o *objectStore) Init(config map[string]string) error {
	return errors.WithStack(spec.InitConfig(config))
}

func (o *objectStore) PutObject(bucket, key string, body io.Reader) error {
	return o.store.Put(bucket, key, body)
}

func (o *objectStore) ObjectExists(bucket, key string) (bool, error) {
	return o.store.Exists(bucket, key), nil
}

func (o *objectStore) GetObject(bucket, key string) (io.ReadCloser, error) {
	b, err := o.store.Get(bucket, key)
	if err != nil {
		return nil, errors.WithStack(err)
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

func (o *objectStore) ListCommonPrefixes(bucket, prefix, delimiter string) ([]string, error) {
	return o.store.CommonPrefixes(bucket, prefix, delimiter), nil
}

func (o *objectStore) ListObjects(bucket, prefix string) ([]string, error) {
	return o.store.Keys(bucket, prefix), nil
}

func (o *objectStore) DeleteObject(bucket, key string) error {
	o.store.Delete(bucket, key)
	return nil
}

func (o *objectStore) CreateSignedURL(bucket, key string, ttl time.Duration) (string, error) {
	return spec.SignedURL(bucket, key, ttl), nil
}

type snapshotter struct{}

func (snapshotter) Init(config map[string]string) error {
	return errors.WithStack(spec.InitConfig(config))
}

func (snapshotter) CreateVolumeFromSnapshot(snapshotID, volumeType, volumeAZ string, iops *int64) (string, error) {
	return spec.VolumeFromSnapshot(snapshotID, volumeType, volumeAZ, iops), nil
}

func (snapshotter) GetVolumeID(pv runtime.Unstructured) (string, error) {
	return spec.VolumeID(asUnstructured(pv)), nil
}

func (snapshotter) SetVolumeID(pv runtime.Unstructured, volumeID string) (runtime.Unstructured, error) {
	out, err := spec.SetVolumeID(asUnstructured(pv), volumeID)
	if err != nil {
		return nil, errors.WithStack(err)
	}
	return out, nil
}

func (snapshotter) GetVolumeInfo(volumeID, volumeAZ string) (string, *int64, error) {
	t, iops := spec.VolumeInfo(volumeID, volumeAZ)
	return t, iops, nil
}

func (snapshotter) CreateSnapshot(volumeID, volumeAZ string, tags map[string]string) (string, error) {
	return spec.SnapshotID(volumeID, volumeAZ, tags), nil
}

func (snapshotter) DeleteSnapshot(snapshotID string) error {
	return errors.WithStack(spec.DeleteSnapshot(snapshotID))
}

type backupAction struct{}

func (backupAction) AppliesTo() (velero.ResourceSelector, error) {
	return selector(spec.BackupItemAction)
}

func (backupAction) Execute(item runtime.Unstructured, backup *api.Backup) (runtime.Unstructured, []velero.ResourceIdentifier, error) {
	u := asUnstructured(item)
	if err := check(spec.BackupItemAction, u); err != nil {
		return nil, nil, err
	}
	out, extra := spec.BackupExecute(u, backup.Name)
	return out, ids(extra), nil
}

type backupActionV2 struct{}

func (backupActionV2) Name() string { return Name(spec.BackupItemActionV2) }

func (backupActionV2) AppliesTo() (velero.ResourceSelector, error) {
	return selector(spec.BackupItemActionV2)
}

func (backupActionV2) Execute(item runtime.Unstructured, backup *api.Backup) (runtime.Unstructured, []velero.ResourceIdentifier, string, []velero.ResourceIdentifier, error) {
	u := asUnstructured(item)
	if err := check(spec.BackupItemActionV2, u); err != nil {
		return nil, nil, "", nil, err
	}
	out, extra := spec.BackupExecute(u, backup.Name)
	return out, ids(extra), spec.OperationID(spec.BackupOperationPrefix, u), ids(spec.PostOperationItems(u)), nil
}

func (backupActionV2) Progress(operationID string, backup *api.Backup) (velero.OperationProgress, error) {
	p, err := spec.OperationProgress(spec.BackupOperationPrefix, operationID, backup.Name)
	if err != nil {
		return velero.OperationProgress{}, errors.WithStack(err)
	}
	return progress(p), nil
}

func (backupActionV2) Cancel(operationID string, _ *api.Backup) error {
	return errors.WithStack(spec.CancelOperation(spec.BackupOperationPrefix, operationID))
}

type restoreAction struct{}

func (restoreAction) AppliesTo() (velero.ResourceSelector, error) {
	return selector(spec.RestoreItemAction)
}

func (restoreAction) Execute(in *velero.RestoreItemActionExecuteInput) (*velero.RestoreItemActionExecuteOutput, error) {
	return restoreExecute(spec.RestoreItemAction, in, false)
}

func restoreExecute(action string, in *velero.RestoreItemActionExecuteInput, v2 bool) (*velero.RestoreItemActionExecuteOutput, error) {
	u := asUnstructured(in.Item)
	if err := check(action, u); err != nil {
		return nil, err
	}
	r := spec.RestoreExecute(u, asUnstructured(in.ItemFromBackup), in.Restore.Name, v2)
	return &velero.RestoreItemActionExecuteOutput{
		UpdatedItem: r.Item, AdditionalItems: ids(r.Additional), SkipRestore: r.Skip,
		OperationID: r.OperationID, WaitForAdditionalItems: r.WaitForAdditionalItems,
		AdditionalItemsReadyTimeout: r.ReadyTimeout,
	}, nil
}

type restoreActionV2 struct{}

func (restoreActionV2) Name() string { return Name(spec.RestoreItemActionV2) }

func (restoreActionV2) AppliesTo() (velero.ResourceSelector, error) {
	return selector(spec.RestoreItemActionV2)
}

func (restoreActionV2) Execute(in *velero.RestoreItemActionExecuteInput) (*velero.RestoreItemActionExecuteOutput, error) {
	return restoreExecute(spec.RestoreItemActionV2, in, true)
}

func (restoreActionV2) Progress(operationID string, restore *api.Restore) (velero.OperationProgress, error) {
	p, err := spec.OperationProgress(spec.RestoreOperationPrefix, operationID, restore.Name)
	if err != nil {
		return velero.OperationProgress{}, errors.WithStack(err)
	}
	return progress(p), nil
}

func (restoreActionV2) Cancel(operationID string, _ *api.Restore) error {
	return errors.WithStack(spec.CancelOperation(spec.RestoreOperationPrefix, operationID))
}

func (restoreActionV2) AreAdditionalItemsReady(items []velero.ResourceIdentifier, _ *api.Restore) (bool, error) {
	return spec.AdditionalItemsReady(fromIDs(items)), nil
}

type deleteAction struct{}

func (deleteAction) AppliesTo() (velero.ResourceSelector, error) {
	return selector(spec.DeleteItemAction)
}

func (deleteAction) Execute(in *velero.DeleteItemActionExecuteInput) error {
	u := asUnstructured(in.Item)
	spec.MaybePanic(spec.DeleteItemAction, u)
	return errors.WithStack(spec.DeleteExecute(u, in.Backup.Name))
}

type itemBlockAction struct{}

func (itemBlockAction) Name() string { return Name(spec.ItemBlockAction) }

func (itemBlockAction) AppliesTo() (velero.ResourceSelector, error) {
	return selector(spec.ItemBlockAction)
}

func (itemBlockAction) GetRelatedItems(item runtime.Unstructured, backup *api.Backup) ([]velero.ResourceIdentifier, error) {
	u := asUnstructured(item)
	if err := check(spec.ItemBlockAction, u); err != nil {
		return nil, err
	}
	return ids(spec.RelatedItems(u, backup.Name)), nil
}
