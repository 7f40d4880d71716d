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

// executeRestore runs the Execute RestoreItemAction and its v2 share on a
// request's encoded input and returns the output, nil normalised to
// "unchanged", and its item's JSON.
func executeRestore[T interface {
	Execute(context.Context, *rigging.RestoreItemActionExecuteInput) (*rigging.RestoreItemActionExecuteOutput, error)
}](ctx context.Context, s kindServer[T], plugin string, item, fromBackup, restore []byte) (*rigging.RestoreItemActionExecuteOutput, []byte, error) {
	impl, err := s.get(plugin)
	if err != nil {
		return nil, nil, err
	}
	in, err := restoreInput(item, fromBackup, restore)
	if err != nil {
		return nil, nil, err
	}
	out, err := impl.Execute(ctx, in)
	if err != nil {
		return nil, nil, err
	}
	return restoreOutput(out, item)
}

// restoreItemActionServer serves RestoreItemAction over Velero's service.
type restoreItemActionServer struct {
	kindServer[rigging.RestoreItemAction]
}

func (s restoreItemActionServer) AppliesTo(ctx context.Context, req *generated.RestoreItemActionAppliesToRequest) (*generated.RestoreItemActionAppliesToResponse, error) {
	sel, err := appliesTo(ctx, s.kindServer, req.Plugin)
	return &generated.RestoreItemActionAppliesToResponse{ResourceSelector: sel}, err
}

// Execute drops the v2-only output fields, as Velero's v1 server does.
func (s restoreItemActionServer) Execute(ctx context.Context, req *generated.RestoreItemActionExecuteRequest) (*generated.RestoreItemActionExecuteResponse, error) {
	out, item, err := executeRestore(ctx, s.kindServer, req.Plugin, req.Item, req.ItemFromBackup, req.Restore)
	if err != nil {
		return nil, err
	}
	return &generated.RestoreItemActionExecuteResponse{Item: item, AdditionalItems: wire.Identifiers(out.AdditionalItems), SkipRestore: out.SkipRestore}, nil
}
