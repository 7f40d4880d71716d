package plugin

import (
	"context"

	"github.com/rigging-dev/rigging"
	ibav1 "github.com/rigging-dev/rigging/external/generated/itemblockaction/v1"
	"github.com/rigging-dev/rigging/external/internal/wire"
)

type itemBlockActionServer struct{ m *mux }

func (s itemBlockActionServer) AppliesTo(ctx context.Context, req *ibav1.ItemBlockActionAppliesToRequest) (*ibav1.ItemBlockActionAppliesToResponse, error) {
	impl, err := handlerFor[rigging.ItemBlockAction](s.m, rigging.KindItemBlockAction, req.Plugin)
	if err != nil {
		return nil, err
	}
	sel, err := impl.AppliesTo(ctx)
	return &ibav1.ItemBlockActionAppliesToResponse{ResourceSelector: wire.Selector(sel)}, err
}

func (s itemBlockActionServer) GetRelatedItems(ctx context.Context, req *ibav1.ItemBlockActionGetRelatedItemsRequest) (*ibav1.ItemBlockActionGetRelatedItemsResponse, error) {
	impl, err := handlerFor[rigging.ItemBlockAction](s.m, rigging.KindItemBlockAction, req.Plugin)
	if err != nil {
		return nil, err
	}
	in, err := itemAndBackup(req.Item, req.Backup)
	if err != nil {
		return nil, err
	}
	ids, err := impl.GetRelatedItems(ctx, in.item, in.backup)
	return &ibav1.ItemBlockActionGetRelatedItemsResponse{RelatedItems: wire.Identifiers(ids)}, err
}
