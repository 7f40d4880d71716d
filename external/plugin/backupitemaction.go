package plugin

import (
	"context"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/external/generated"
	"github.com/rigging-dev/rigging/external/internal/wire"
)

// backupItemActionServer serves BackupItemAction over Velero's service.
type backupItemActionServer struct {
	kindServer[rigging.BackupItemAction]
}

func (s backupItemActionServer) AppliesTo(ctx context.Context, req *generated.BackupItemActionAppliesToRequest) (*generated.BackupItemActionAppliesToResponse, error) {
	sel, err := appliesTo(ctx, s.kindServer, req.Plugin)
	return &generated.BackupItemActionAppliesToResponse{ResourceSelector: sel}, err
}

func (s backupItemActionServer) Execute(ctx context.Context, req *generated.ExecuteRequest) (*generated.ExecuteResponse, error) {
	impl, in, err := getItemBackup(s.kindServer, req.Plugin, req.Item, req.Backup)
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
