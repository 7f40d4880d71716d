package plugin

import (
	"context"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/rigging-dev/rigging"
	riav2 "github.com/rigging-dev/rigging/external/generated/restoreitemaction/v2"
	"github.com/rigging-dev/rigging/external/internal/wire"
)

// restoreItemActionV2Server serves RestoreItemActionV2 over Velero's service.
type restoreItemActionV2Server struct {
	kindServer[rigging.RestoreItemActionV2]
}

func (s restoreItemActionV2Server) AppliesTo(ctx context.Context, req *riav2.RestoreItemActionAppliesToRequest) (*riav2.RestoreItemActionAppliesToResponse, error) {
	sel, err := appliesTo(ctx, s.kindServer, req.Plugin)
	return &riav2.RestoreItemActionAppliesToResponse{ResourceSelector: sel}, err
}

func (s restoreItemActionV2Server) Execute(ctx context.Context, req *riav2.RestoreItemActionExecuteRequest) (*riav2.RestoreItemActionExecuteResponse, error) {
	out, item, err := executeRestore(ctx, s.kindServer, req.Plugin, req.Item, req.ItemFromBackup, req.Restore)
	if err != nil {
		return nil, err
	}
	return &riav2.RestoreItemActionExecuteResponse{
		Item: item, AdditionalItems: wire.Identifiers(out.AdditionalItems), SkipRestore: out.SkipRestore,
		OperationID: out.OperationID, WaitForAdditionalItems: out.WaitForAdditionalItems,
		AdditionalItemsReadyTimeout: durationpb.New(out.AdditionalItemsReadyTimeout),
	}, nil
}

func (s restoreItemActionV2Server) Progress(ctx context.Context, req *riav2.RestoreItemActionProgressRequest) (*riav2.RestoreItemActionProgressResponse, error) {
	impl, r, err := getDecoded(s.kindServer, req.Plugin, wire.DecodeObject[rigging.Restore], req.Restore)
	if err != nil {
		return nil, err
	}
	p, err := impl.Progress(ctx, req.OperationID, r)
	if err != nil {
		return nil, err
	}
	return &riav2.RestoreItemActionProgressResponse{Progress: wire.Progress(p)}, nil
}

func (s restoreItemActionV2Server) Cancel(ctx context.Context, req *riav2.RestoreItemActionCancelRequest) (*emptypb.Empty, error) {
	impl, r, err := getDecoded(s.kindServer, req.Plugin, wire.DecodeObject[rigging.Restore], req.Restore)
	if err != nil {
		return nil, err
	}
	return &emptypb.Empty{}, impl.Cancel(ctx, req.OperationID, r)
}

func (s restoreItemActionV2Server) AreAdditionalItemsReady(ctx context.Context, req *riav2.RestoreItemActionItemsReadyRequest) (*riav2.RestoreItemActionItemsReadyResponse, error) {
	impl, r, err := getDecoded(s.kindServer, req.Plugin, wire.DecodeObject[rigging.Restore], req.Restore)
	if err != nil {
		return nil, err
	}
	ok, err := impl.AreAdditionalItemsReady(ctx, wire.FromIdentifiers(req.AdditionalItems), r)
	return &riav2.RestoreItemActionItemsReadyResponse{Ready: ok}, err
}
