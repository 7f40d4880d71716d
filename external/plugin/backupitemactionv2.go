package plugin

import (
	"context"

	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/rigging-dev/rigging"
	biav2 "github.com/rigging-dev/rigging/external/generated/backupitemaction/v2"
	"github.com/rigging-dev/rigging/external/internal/wire"
)

// backupItemActionV2Server serves BackupItemActionV2 over Velero's service.
type backupItemActionV2Server struct {
	kindServer[rigging.BackupItemActionV2]
}

func (s backupItemActionV2Server) AppliesTo(ctx context.Context, req *biav2.BackupItemActionAppliesToRequest) (*biav2.BackupItemActionAppliesToResponse, error) {
	sel, err := appliesTo(ctx, s.kindServer, req.Plugin)
	return &biav2.BackupItemActionAppliesToResponse{ResourceSelector: sel}, err
}

func (s backupItemActionV2Server) Execute(ctx context.Context, req *biav2.ExecuteRequest) (*biav2.ExecuteResponse, error) {
	impl, in, err := getItemBackup(s.kindServer, req.Plugin, req.Item, req.Backup)
	if err != nil {
		return nil, err
	}
	out, extra, opID, post, err := impl.Execute(ctx, in.item, in.backup)
	if err != nil {
		return nil, err
	}
	item, err := echo(impl, out, in.item, req.Item)
	return &biav2.ExecuteResponse{Item: item, AdditionalItems: wire.Identifiers(extra), OperationID: opID, PostOperationItems: wire.Identifiers(post)}, err
}

func (s backupItemActionV2Server) Progress(ctx context.Context, req *biav2.BackupItemActionProgressRequest) (*biav2.BackupItemActionProgressResponse, error) {
	impl, b, err := getDecoded(s.kindServer, req.Plugin, s.m.backups.decode, req.Backup)
	if err != nil {
		return nil, err
	}
	p, err := impl.Progress(ctx, req.OperationID, b)
	if err != nil {
		return nil, err
	}
	return &biav2.BackupItemActionProgressResponse{Progress: wire.Progress(p)}, nil
}

func (s backupItemActionV2Server) Cancel(ctx context.Context, req *biav2.BackupItemActionCancelRequest) (*emptypb.Empty, error) {
	impl, b, err := getDecoded(s.kindServer, req.Plugin, s.m.backups.decode, req.Backup)
	if err != nil {
		return nil, err
	}
	return &emptypb.Empty{}, impl.Cancel(ctx, req.OperationID, b)
}
