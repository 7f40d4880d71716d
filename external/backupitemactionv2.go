package external

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rigging-dev/rigging"
	biav2 "github.com/rigging-dev/rigging/external/generated/backupitemaction/v2"
	"github.com/rigging-dev/rigging/external/internal/wire"
)

type backupItemActionV2Client struct{ base }

// PreservesInput reports true, as backupItemActionClient's.
func (c *backupItemActionV2Client) PreservesInput() bool { return true }

func (c *backupItemActionV2Client) AppliesTo(ctx context.Context) (rigging.ResourceSelector, error) {
	return appliesTo(ctx, c.base, func(ctx context.Context, cc grpc.ClientConnInterface) (*biav2.BackupItemActionAppliesToResponse, error) {
		return biav2.NewBackupItemActionClient(cc).AppliesTo(ctx, &biav2.BackupItemActionAppliesToRequest{Plugin: c.name})
	})
}

func (c *backupItemActionV2Client) Execute(ctx context.Context, item *unstructured.Unstructured, backup *rigging.Backup) (*unstructured.Unstructured, []rigging.ResourceIdentifier, string, []rigging.ResourceIdentifier, error) {
	i, b, err := c.encodeItemBackup(item, backup)
	if err != nil {
		return nil, nil, "", nil, err
	}
	res, err := rpc(ctx, c.base, "Execute", false, func(ctx context.Context, cc grpc.ClientConnInterface) (*biav2.ExecuteResponse, error) {
		return biav2.NewBackupItemActionClient(cc).Execute(ctx, &biav2.ExecuteRequest{Plugin: c.name, Item: i, Backup: b})
	})
	if err != nil {
		return nil, nil, "", nil, err
	}
	u, err := resultItem(item, i, res.Item)
	return u, wire.FromIdentifiers(res.AdditionalItems), res.OperationID, wire.FromIdentifiers(res.PostOperationItems), err
}

func (c *backupItemActionV2Client) Progress(ctx context.Context, operationID string, backup *rigging.Backup) (rigging.OperationProgress, error) {
	b, err := c.backups.encode(backup)
	if err != nil {
		return rigging.OperationProgress{}, err
	}
	res, err := rpc(ctx, c.base, "Progress "+operationID, true, func(ctx context.Context, cc grpc.ClientConnInterface) (*biav2.BackupItemActionProgressResponse, error) {
		return biav2.NewBackupItemActionClient(cc).Progress(ctx, &biav2.BackupItemActionProgressRequest{Plugin: c.name, OperationID: operationID, Backup: b})
	})
	return wire.FromProgress(res.GetProgress()), err
}

func (c *backupItemActionV2Client) Cancel(ctx context.Context, operationID string, backup *rigging.Backup) error {
	b, err := c.backups.encode(backup)
	if err != nil {
		return err
	}
	_, err = rpc(ctx, c.base, "Cancel "+operationID, false, func(ctx context.Context, cc grpc.ClientConnInterface) (*emptypb.Empty, error) {
		return biav2.NewBackupItemActionClient(cc).Cancel(ctx, &biav2.BackupItemActionCancelRequest{Plugin: c.name, OperationID: operationID, Backup: b})
	})
	return err
}

var _ rigging.BackupItemActionV2 = (*backupItemActionV2Client)(nil)
