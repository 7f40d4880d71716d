package manager

import (
	"context"

	"github.com/rigging-dev/rigging"
)

// The per-kind getters: one line each over Get and List. name is parsed with
// rigging.ParseName ("aws" means "velero.io/aws").

// ObjectStore returns a new ObjectStore instance; the caller calls its Init.
func (m *Manager) ObjectStore(ctx context.Context, name string) (rigging.ObjectStore, error) {
	return Get[rigging.ObjectStore](ctx, m, name)
}

// VolumeSnapshotter returns a new VolumeSnapshotter instance; the caller
// calls its Init.
func (m *Manager) VolumeSnapshotter(ctx context.Context, name string) (rigging.VolumeSnapshotter, error) {
	return Get[rigging.VolumeSnapshotter](ctx, m, name)
}

// BackupItemAction returns the Manager's instance of a v1 BackupItemAction.
func (m *Manager) BackupItemAction(ctx context.Context, name string) (rigging.BackupItemAction, error) {
	return Get[rigging.BackupItemAction](ctx, m, name)
}

// BackupItemActionV2 returns the Manager's instance of a BackupItemActionV2,
// or of a v1 BackupItemAction of that name, adapted.
func (m *Manager) BackupItemActionV2(ctx context.Context, name string) (rigging.BackupItemActionV2, error) {
	return Get[rigging.BackupItemActionV2](ctx, m, name)
}

// RestoreItemAction returns the Manager's instance of a v1 RestoreItemAction.
func (m *Manager) RestoreItemAction(ctx context.Context, name string) (rigging.RestoreItemAction, error) {
	return Get[rigging.RestoreItemAction](ctx, m, name)
}

// RestoreItemActionV2 returns the Manager's instance of a
// RestoreItemActionV2, or of a v1 RestoreItemAction of that name, adapted.
func (m *Manager) RestoreItemActionV2(ctx context.Context, name string) (rigging.RestoreItemActionV2, error) {
	return Get[rigging.RestoreItemActionV2](ctx, m, name)
}

// DeleteItemAction returns the Manager's instance of a DeleteItemAction.
func (m *Manager) DeleteItemAction(ctx context.Context, name string) (rigging.DeleteItemAction, error) {
	return Get[rigging.DeleteItemAction](ctx, m, name)
}

// ItemBlockAction returns the Manager's instance of an ItemBlockAction.
func (m *Manager) ItemBlockAction(ctx context.Context, name string) (rigging.ItemBlockAction, error) {
	return Get[rigging.ItemBlockAction](ctx, m, name)
}

// BackupItemActions returns every v1 BackupItemAction, sorted by name.
func (m *Manager) BackupItemActions(ctx context.Context) ([]rigging.BackupItemAction, error) {
	return List[rigging.BackupItemAction](ctx, m)
}

// BackupItemActionsV2 returns every BackupItemActionV2 and every v1
// BackupItemAction of another name, adapted, sorted by name.
func (m *Manager) BackupItemActionsV2(ctx context.Context) ([]rigging.BackupItemActionV2, error) {
	return List[rigging.BackupItemActionV2](ctx, m)
}

// RestoreItemActions returns every v1 RestoreItemAction, sorted by name.
func (m *Manager) RestoreItemActions(ctx context.Context) ([]rigging.RestoreItemAction, error) {
	return List[rigging.RestoreItemAction](ctx, m)
}

// RestoreItemActionsV2 returns every RestoreItemActionV2 and every v1
// RestoreItemAction of another name, adapted, sorted by name.
func (m *Manager) RestoreItemActionsV2(ctx context.Context) ([]rigging.RestoreItemActionV2, error) {
	return List[rigging.RestoreItemActionV2](ctx, m)
}

// DeleteItemActions returns every DeleteItemAction, sorted by name.
func (m *Manager) DeleteItemActions(ctx context.Context) ([]rigging.DeleteItemAction, error) {
	return List[rigging.DeleteItemAction](ctx, m)
}

// ItemBlockActions returns every ItemBlockAction, sorted by name.
func (m *Manager) ItemBlockActions(ctx context.Context) ([]rigging.ItemBlockAction, error) {
	return List[rigging.ItemBlockAction](ctx, m)
}
