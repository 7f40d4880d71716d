package external

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/rigging-dev/rigging"
	riav2 "github.com/rigging-dev/rigging/external/generated/restoreitemaction/v2"
	"github.com/rigging-dev/rigging/external/internal/wire"
)

type restoreItemActionV2Client struct{ base }

func (c *restoreItemActionV2Client) AppliesTo(ctx context.Context) (rigging.ResourceSelector, error) {
	return appliesTo(ctx, c.base, func(ctx context.Context, cc grpc.ClientConnInterface) (*riav2.RestoreItemActionAppliesToResponse, error) {
		return riav2.NewRestoreItemActionClient(cc).AppliesTo(ctx, &riav2.RestoreItemActionAppliesToRequest{Plugin: c.name})
	})
}

func (c *restoreItemActionV2Client) Execute(ctx context.Context, in *rigging.RestoreItemActionExecuteInput) (*rigging.RestoreItemActionExecuteOutput, error) {
	item, fb, r, err := encodeRestoreInput(in)
	if err != nil {
		return nil, err
	}
	res, err := rpc(ctx, c.base, "Execute", false, func(ctx context.Context, cc grpc.ClientConnInterface) (*riav2.RestoreItemActionExecuteResponse, error) {
		return riav2.NewRestoreItemActionClient(cc).Execute(ctx, &riav2.RestoreItemActionExecuteRequest{Plugin: c.name, Item: item, ItemFromBackup: fb, Restore: r})
	})
	if err != nil {
		return nil, err
	}
	u, err := resultItem(in.Item, item, res.Item)
	if err != nil {
		return nil, err
	}
	return &rigging.RestoreItemActionExecuteOutput{
		UpdatedItem: u, AdditionalItems: wire.FromIdentifiers(res.AdditionalItems), SkipRestore: res.SkipRestore,
		OperationID: res.OperationID, WaitForAdditionalItems: res.WaitForAdditionalItems,
		AdditionalItemsReadyTimeout: res.GetAdditionalItemsReadyTimeout().AsDuration(),
	}, nil
}

func (c *restoreItemActionV2Client) Progress(ctx context.Context, operationID string, restore *rigging.Restore) (rigging.OperationProgress, error) {
	r, err := wire.EncodeObject(restore)
	if err != nil {
		return rigging.OperationProgress{}, err
	}
	res, err := rpc(ctx, c.base, "Progress "+operationID, true, func(ctx context.Context, cc grpc.ClientConnInterface) (*riav2.RestoreItemActionProgressResponse, error) {
		return riav2.NewRestoreItemActionClient(cc).Progress(ctx, &riav2.RestoreItemActionProgressRequest{Plugin: c.name, OperationID: operationID, Restore: r})
	})
	return wire.FromProgress(res.GetProgress()), err
}

func (c *restoreItemActionV2Client) Cancel(ctx context.Context, operationID string, restore *rigging.Restore) error {
	r, err := wire.EncodeObject(restore)
	if err != nil {
		return err
	}
	_, err = rpc(ctx, c.base, "Cancel "+operationID, false, func(ctx context.Context, cc grpc.ClientConnInterface) (*emptypb.Empty, error) {
		return riav2.NewRestoreItemActionClient(cc).Cancel(ctx, &riav2.RestoreItemActionCancelRequest{Plugin: c.name, OperationID: operationID, Restore: r})
	})
	return err
}

func (c *restoreItemActionV2Client) AreAdditionalItemsReady(ctx context.Context, items []rigging.ResourceIdentifier, restore *rigging.Restore) (bool, error) {
	r, err := wire.EncodeObject(restore)
	if err != nil {
		return false, err
	}
	res, err := rpc(ctx, c.base, "AreAdditionalItemsReady", true, func(ctx context.Context, cc grpc.ClientConnInterface) (*riav2.RestoreItemActionItemsReadyResponse, error) {
		return riav2.NewRestoreItemActionClient(cc).AreAdditionalItemsReady(ctx, &riav2.RestoreItemActionItemsReadyRequest{Plugin: c.name, Restore: r, AdditionalItems: wire.Identifiers(items)})
	})
	return res.GetReady(), err
}

var _ rigging.RestoreItemActionV2 = (*restoreItemActionV2Client)(nil)
