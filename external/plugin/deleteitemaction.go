package plugin

import (
	"context"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/external/generated"
)

// deleteItemActionServer serves DeleteItemAction over Velero's service.
type deleteItemActionServer struct {
	kindServer[rigging.DeleteItemAction]
}

func (s deleteItemActionServer) AppliesTo(ctx context.Context, req *generated.DeleteItemActionAppliesToRequest) (*generated.DeleteItemActionAppliesToResponse, error) {
	sel, err := appliesTo(ctx, s.kindServer, req.Plugin)
	return &generated.DeleteItemActionAppliesToResponse{ResourceSelector: sel}, err
}

func (s deleteItemActionServer) Execute(ctx context.Context, req *generated.DeleteItemActionExecuteRequest) (*generated.Empty, error) {
	impl, in, err := getItemBackup(s.kindServer, req.Plugin, req.Item, req.Backup)
	if err != nil {
		return nil, err
	}
	return &generated.Empty{}, impl.Execute(ctx, &rigging.DeleteItemActionExecuteInput{Item: in.item, Backup: in.backup})
}
