package plugin

import (
	"context"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/external/generated"
	"github.com/rigging-dev/rigging/external/internal/wire"
)

type deleteItemActionServer struct{ m *mux }

func (s deleteItemActionServer) AppliesTo(ctx context.Context, req *generated.DeleteItemActionAppliesToRequest) (*generated.DeleteItemActionAppliesToResponse, error) {
	impl, err := handlerFor[rigging.DeleteItemAction](s.m, rigging.KindDeleteItemAction, req.Plugin)
	if err != nil {
		return nil, err
	}
	sel, err := impl.AppliesTo(ctx)
	return &generated.DeleteItemActionAppliesToResponse{ResourceSelector: wire.Selector(sel)}, err
}

func (s deleteItemActionServer) Execute(ctx context.Context, req *generated.DeleteItemActionExecuteRequest) (*generated.Empty, error) {
	impl, err := handlerFor[rigging.DeleteItemAction](s.m, rigging.KindDeleteItemAction, req.Plugin)
	if err != nil {
		return nil, err
	}
	in, err := itemAndBackup(req.Item, req.Backup)
	if err != nil {
		return nil, err
	}
	return &generated.Empty{}, impl.Execute(ctx, &rigging.DeleteItemActionExecuteInput{Item: in.item, Backup: in.backup})
}
