package plugin

import (
	"context"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/rigging-dev/rigging"
	riav2 "github.com/rigging-dev/rigging/external/generated/restoreitemaction/v2"
	"github.com/rigging-dev/rigging/external/internal/wire"
)

type restoreItemActionV2Server struct{ m *mux }

func (s restoreItemActionV2Server) get(name string) (rigging.RestoreItemActionV2, error) {
	return handlerFor[rigging.RestoreItemActionV2](s.m, rigging.KindRestoreItemActionV2, name)
}

func (s restoreItemActionV2Server) AppliesTo(ctx context.Context, req *riav2.RestoreItemActionAppliesToRequest) (*riav2.RestoreItemActionAppliesToResponse, error) {
	impl, err := s.get(req.Plugin)
	if err != nil {
		return nil, err
	}
	sel, err := impl.AppliesTo(ctx)
	return &riav2.RestoreItemActionAppliesToResponse{ResourceSelector: wire.Selector(sel)}, err
}

func (s restoreItemActionV2Server) Execute(ctx context.Context, req *riav2.RestoreItemActionExecuteRequest) (*riav2.RestoreItemActionExecuteResponse, error) {
	impl, err := s.get(req.Plugin)
	if err != nil {
		return nil, err
	}
	in, err := restoreInput(req.Item, req.ItemFromBackup, req.Restore)
	if err != nil {
		return nil, err
	}
	out, err := impl.Execute(ctx, in)
	if err != nil {
		return nil, err
	}
	out, item, err := restoreOutput(out, req.Item)
	return &riav2.RestoreItemActionExecuteResponse{
		Item: item, AdditionalItems: wire.Identifiers(out.AdditionalItems), SkipRestore: out.SkipRestore,
		OperationID: out.OperationID, WaitForAdditionalItems: out.WaitForAdditionalItems,
		AdditionalItemsReadyTimeout: durationpb.New(out.AdditionalItemsReadyTimeout),
	}, err
}

func (s restoreItemActionV2Server) Progress(ctx context.Context, req *riav2.RestoreItemActionProgressRequest) (*riav2.RestoreItemActionProgressResponse, error) {
	impl, err := s.get(req.Plugin)
	if err != nil {
		return nil, err
	}
	r, err := wire.DecodeObject[rigging.Restore](req.Restore)
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
	impl, err := s.get(req.Plugin)
	if err != nil {
		return nil, err
	}
	r, err := wire.DecodeObject[rigging.Restore](req.Restore)
	if err != nil {
		return nil, err
	}
	return &emptypb.Empty{}, impl.Cancel(ctx, req.OperationID, r)
}

func (s restoreItemActionV2Server) AreAdditionalItemsReady(ctx context.Context, req *riav2.RestoreItemActionItemsReadyRequest) (*riav2.RestoreItemActionItemsReadyResponse, error) {
	impl, err := s.get(req.Plugin)
	if err != nil {
		return nil, err
	}
	r, err := wire.DecodeObject[rigging.Restore](req.Restore)
	if err != nil {
		return nil, err
	}
	ok, err := impl.AreAdditionalItemsReady(ctx, wire.FromIdentifiers(req.AdditionalItems), r)
	return &riav2.RestoreItemActionItemsReadyResponse{Ready: ok}, err
}
