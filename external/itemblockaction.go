package external

import (
	"context"

	"google.golang.org/grpc"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rigging-dev/rigging"
	ibav1 "github.com/rigging-dev/rigging/external/generated/itemblockaction/v1"
	"github.com/rigging-dev/rigging/external/internal/wire"
)

type itemBlockActionClient struct{ base }

func (c *itemBlockActionClient) AppliesTo(ctx context.Context) (rigging.ResourceSelector, error) {
	return appliesTo(ctx, c.base, func(ctx context.Context, cc grpc.ClientConnInterface) (*ibav1.ItemBlockActionAppliesToResponse, error) {
		return ibav1.NewItemBlockActionClient(cc).AppliesTo(ctx, &ibav1.ItemBlockActionAppliesToRequest{Plugin: c.name})
	})
}

func (c *itemBlockActionClient) GetRelatedItems(ctx context.Context, item *unstructured.Unstructured, backup *rigging.Backup) ([]rigging.ResourceIdentifier, error) {
	i, b, err := c.encodeItemBackup(item, backup)
	if err != nil {
		return nil, err
	}
	res, err := rpc(ctx, c.base, "GetRelatedItems", true, func(ctx context.Context, cc grpc.ClientConnInterface) (*ibav1.ItemBlockActionGetRelatedItemsResponse, error) {
		return ibav1.NewItemBlockActionClient(cc).GetRelatedItems(ctx, &ibav1.ItemBlockActionGetRelatedItemsRequest{Plugin: c.name, Item: i, Backup: b})
	})
	return wire.FromIdentifiers(res.GetRelatedItems()), err
}

var _ rigging.ItemBlockAction = (*itemBlockActionClient)(nil)
