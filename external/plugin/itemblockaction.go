package plugin

import (
	"context"

	"github.com/rigging-dev/rigging"
	ibav1 "github.com/rigging-dev/rigging/external/generated/itemblockaction/v1"
	"github.com/rigging-dev/rigging/external/internal/wire"
)

// itemBlockActionServer serves ItemBlockAction over Velero's service.
type itemBlockActionServer struct {
	kindServer[rigging.ItemBlockAction]
}

func (s itemBlockActionServer) AppliesTo(ctx context.Context, req *ibav1.ItemBlockActionAppliesToRequest) (*ibav1.ItemBlockActionAppliesToResponse, error) {
	sel, err := appliesTo(ctx, s.kindServer, req.Plugin)
	return &ibav1.ItemBlockActionAppliesToResponse{ResourceSelector: sel}, err
}

func (s itemBlockActionServer) GetRelatedItems(ctx context.Context, req *ibav1.ItemBlockActionGetRelatedItemsRequest) (*ibav1.ItemBlockActionGetRelatedItemsResponse, error) {
	impl, in, err := getItemBackup(s.kindServer, req.Plugin, req.Item, req.Backup)
	if err != nil {
		return nil, err
	}
	ids, err := impl.GetRelatedItems(ctx, in.item, in.backup)
	return &ibav1.ItemBlockActionGetRelatedItemsResponse{RelatedItems: wire.Identifiers(ids)}, err
}
