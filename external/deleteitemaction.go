package external

import (
	"context"
	"errors"

	"google.golang.org/grpc"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/external/generated"
)

type deleteItemActionClient struct{ base }

func (c *deleteItemActionClient) AppliesTo(ctx context.Context) (rigging.ResourceSelector, error) {
	return appliesTo(ctx, c.base, func(ctx context.Context, cc grpc.ClientConnInterface) (*generated.DeleteItemActionAppliesToResponse, error) {
		return generated.NewDeleteItemActionClient(cc).AppliesTo(ctx, &generated.DeleteItemActionAppliesToRequest{Plugin: c.name})
	})
}

func (c *deleteItemActionClient) Execute(ctx context.Context, in *rigging.DeleteItemActionExecuteInput) error {
	if in == nil {
		return errors.New("nil DeleteItemActionExecuteInput")
	}
	i, b, err := c.encodeItemBackup(in.Item, in.Backup)
	if err != nil {
		return err
	}
	_, err = rpc(ctx, c.base, "Execute", false, func(ctx context.Context, cc grpc.ClientConnInterface) (*generated.Empty, error) {
		return generated.NewDeleteItemActionClient(cc).Execute(ctx, &generated.DeleteItemActionExecuteRequest{Plugin: c.name, Item: i, Backup: b})
	})
	return err
}

var _ rigging.DeleteItemAction = (*deleteItemActionClient)(nil)
