package external

import (
	"context"
	"errors"

	"google.golang.org/grpc"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/external/generated"
	"github.com/rigging-dev/rigging/external/internal/wire"
)

// encodeRestoreInput encodes the item, item-from-backup and restore of a
// RestoreItemAction Execute.
func encodeRestoreInput(in *rigging.RestoreItemActionExecuteInput) (item, fromBackup, restore []byte, err error) {
	if in == nil {
		return nil, nil, nil, errors.New("nil RestoreItemActionExecuteInput")
	}
	if item, err = wire.EncodeItem(in.Item); err != nil {
		return
	}
	if fromBackup, err = wire.EncodeItem(in.ItemFromBackup); err != nil {
		return
	}
	restore, err = wire.EncodeObject(in.Restore)
	return
}

type restoreItemActionClient struct{ base }

func (c *restoreItemActionClient) AppliesTo(ctx context.Context) (rigging.ResourceSelector, error) {
	return appliesTo(ctx, c.base, func(ctx context.Context, cc grpc.ClientConnInterface) (*generated.RestoreItemActionAppliesToResponse, error) {
		return generated.NewRestoreItemActionClient(cc).AppliesTo(ctx, &generated.RestoreItemActionAppliesToRequest{Plugin: c.name})
	})
}

func (c *restoreItemActionClient) Execute(ctx context.Context, in *rigging.RestoreItemActionExecuteInput) (*rigging.RestoreItemActionExecuteOutput, error) {
	item, fb, r, err := encodeRestoreInput(in)
	if err != nil {
		return nil, err
	}
	res, err := rpc(ctx, c.base, "Execute", false, func(ctx context.Context, cc grpc.ClientConnInterface) (*generated.RestoreItemActionExecuteResponse, error) {
		return generated.NewRestoreItemActionClient(cc).Execute(ctx, &generated.RestoreItemActionExecuteRequest{Plugin: c.name, Item: item, ItemFromBackup: fb, Restore: r})
	})
	if err != nil {
		return nil, err
	}
	u, err := resultItem(in.Item, item, res.Item)
	if err != nil {
		return nil, err
	}
	return &rigging.RestoreItemActionExecuteOutput{UpdatedItem: u, AdditionalItems: wire.FromIdentifiers(res.AdditionalItems), SkipRestore: res.SkipRestore}, nil
}

var _ rigging.RestoreItemAction = (*restoreItemActionClient)(nil)
