package plugin

import (
	"context"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/external/generated"
	"github.com/rigging-dev/rigging/external/internal/wire"
)

type backupItemActionServer struct{ m *mux }

func (s backupItemActionServer) AppliesTo(ctx context.Context, req *generated.BackupItemActionAppliesToRequest) (*generated.BackupItemActionAppliesToResponse, error) {
	impl, err := handlerFor[rigging.BackupItemAction](s.m, rigging.KindBackupItemAction, req.Plugin)
	if err != nil {
		return nil, err
	}
	sel, err := impl.AppliesTo(ctx)
	return &generated.BackupItemActionAppliesToResponse{ResourceSelector: wire.Selector(sel)}, err
}

func (s backupItemActionServer) Execute(ctx context.Context, req *generated.ExecuteRequest) (*generated.ExecuteResponse, error) {
	impl, err := handlerFor[rigging.BackupItemAction](s.m, rigging.KindBackupItemAction, req.Plugin)
	if err != nil {
		return nil, err
	}
	in, err := itemAndBackup(req.Item, req.Backup)
	if err != nil {
		return nil, err
	}
	out, extra, err := impl.Execute(ctx, in.item, in.backup)
	if err != nil {
		return nil, err
	}
	item, err := echo(impl, out, in.item, req.Item)
	return &generated.ExecuteResponse{Item: item, AdditionalItems: wire.Identifiers(extra)}, err
}
