package external

import (
	"context"

	"google.golang.org/grpc"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/external/generated"
	"github.com/rigging-dev/rigging/external/internal/wire"
)

type backupItemActionClient struct{ base }

// PreservesInput reports true (rigging.InputPreserver): the item crosses
// the wire as JSON, so the caller's item is never modified; Execute returns
// it as it is when the plugin returns it unchanged, or a decoded copy.
func (c *backupItemActionClient) PreservesInput() bool { return true }

func (c *backupItemActionClient) AppliesTo(ctx context.Context) (rigging.ResourceSelector, error) {
	return appliesTo(ctx, c.base, func(ctx context.Context, cc grpc.ClientConnInterface) (*generated.BackupItemActionAppliesToResponse, error) {
		return generated.NewBackupItemActionClient(cc).AppliesTo(ctx, &generated.BackupItemActionAppliesToRequest{Plugin: c.name})
	})
}

func (c *backupItemActionClient) Execute(ctx context.Context, item *unstructured.Unstructured, backup *rigging.Backup) (*unstructured.Unstructured, []rigging.ResourceIdentifier, error) {
	i, b, err := c.encodeItemBackup(item, backup)
	if err != nil {
		return nil, nil, err
	}
	res, err := rpc(ctx, c.base, "Execute", false, func(ctx context.Context, cc grpc.ClientConnInterface) (*generated.ExecuteResponse, error) {
		return generated.NewBackupItemActionClient(cc).Execute(ctx, &generated.ExecuteRequest{Plugin: c.name, Item: i, Backup: b})
	})
	if err != nil {
		return nil, nil, err
	}
	u, err := resultItem(item, i, res.Item)
	return u, wire.FromIdentifiers(res.AdditionalItems), err
}

var _ rigging.BackupItemAction = (*backupItemActionClient)(nil)
