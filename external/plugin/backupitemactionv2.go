package plugin

import (
	"context"

	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/rigging-dev/rigging"
	biav2 "github.com/rigging-dev/rigging/external/generated/backupitemaction/v2"
	"github.com/rigging-dev/rigging/external/internal/wire"
)

type backupItemActionV2Server struct{ m *mux }

func (s backupItemActionV2Server) get(name string) (rigging.BackupItemActionV2, error) {
	return handlerFor[rigging.BackupItemActionV2](s.m, rigging.KindBackupItemActionV2, name)
}

func (s backupItemActionV2Server) AppliesTo(ctx context.Context, req *biav2.BackupItemActionAppliesToRequest) (*biav2.BackupItemActionAppliesToResponse, error) {
	impl, err := s.get(req.Plugin)
	if err != nil {
		return nil, err
	}
	sel, err := impl.AppliesTo(ctx)
	return &biav2.BackupItemActionAppliesToResponse{ResourceSelector: wire.Selector(sel)}, err
}

func (s backupItemActionV2Server) Execute(ctx context.Context, req *biav2.ExecuteRequest) (*biav2.ExecuteResponse, error) {
	impl, err := s.get(req.Plugin)
	if err != nil {
		return nil, err
	}
	in, err := itemAndBackup(req.Item, req.Backup)
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
	impl, err := s.get(req.Plugin)
	if err != nil {
		return nil, err
	}
	b, err := decodeBackup(req.Backup)
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
	impl, err := s.get(req.Plugin)
	if err != nil {
		return nil, err
	}
	b, err := decodeBackup(req.Backup)
	if err != nil {
		return nil, err
	}
	return &emptypb.Empty{}, impl.Cancel(ctx, req.OperationID, b)
}
