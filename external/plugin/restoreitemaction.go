package plugin

import (
	"context"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/external/generated"
	"github.com/rigging-dev/rigging/external/internal/wire"
)

// restoreInput decodes a RestoreItemAction Execute request.
func restoreInput(item, fromBackup, restore []byte) (*rigging.RestoreItemActionExecuteInput, error) {
	u, err := wire.DecodeItem(item)
	if err != nil {
		return nil, err
	}
	fb, err := wire.DecodeOptionalItem(fromBackup)
	if err != nil {
		return nil, err
	}
	r, err := wire.DecodeObject[rigging.Restore](restore)
	if err != nil {
		return nil, err
	}
	return &rigging.RestoreItemActionExecuteInput{Item: u, ItemFromBackup: fb, Restore: r}, nil
}

// restoreOutput normalises a nil output to "unchanged" and encodes the item.
func restoreOutput(out *rigging.RestoreItemActionExecuteOutput, in []byte) (*rigging.RestoreItemActionExecuteOutput, []byte, error) {
	if out == nil {
		out = &rigging.RestoreItemActionExecuteOutput{}
	}
	item, err := echo(nil, out.UpdatedItem, nil, in)
	return out, item, err
}

type restoreItemActionServer struct{ m *mux }

func (s restoreItemActionServer) AppliesTo(ctx context.Context, req *generated.RestoreItemActionAppliesToRequest) (*generated.RestoreItemActionAppliesToResponse, error) {
	impl, err := handlerFor[rigging.RestoreItemAction](s.m, rigging.KindRestoreItemAction, req.Plugin)
	if err != nil {
		return nil, err
	}
	sel, err := impl.AppliesTo(ctx)
	return &generated.RestoreItemActionAppliesToResponse{ResourceSelector: wire.Selector(sel)}, err
}

// Execute drops the v2-only output fields, as Velero's v1 server does.
func (s restoreItemActionServer) Execute(ctx context.Context, req *generated.RestoreItemActionExecuteRequest) (*generated.RestoreItemActionExecuteResponse, error) {
	impl, err := handlerFor[rigging.RestoreItemAction](s.m, rigging.KindRestoreItemAction, req.Plugin)
	if err != nil {
		return nil, err
	}
	in, err := restoreInput(req.Item, req.ItemFromBackup, req.Restore)
	if err != nil {
		return nil, err
	}
	out, err := impl.Execute(ctx, in)
	if err != nil {
		return nil, err
	}
	out, item, err := restoreOutput(out, req.Item)
	return &generated.RestoreItemActionExecuteResponse{Item: item, AdditionalItems: wire.Identifiers(out.AdditionalItems), SkipRestore: out.SkipRestore}, err
}
