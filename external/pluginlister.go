package external

import (
	"context"
	"fmt"

	"google.golang.org/grpc"

	"github.com/rigging-dev/rigging/external/generated"
)

// listPlugins asks a plugin process for the plugins it serves
// (PluginLister.ListPlugins), in the order it lists them.
func listPlugins(ctx context.Context, cc grpc.ClientConnInterface) ([]listedPlugin, error) {
	res, err := generated.NewPluginListerClient(cc).ListPlugins(ctx, &generated.Empty{})
	if err != nil {
		return nil, fmt.Errorf("ListPlugins: %w", err)
	}
	var out []listedPlugin
	for _, p := range res.Plugins {
		out = append(out, listedPlugin{Kind: p.Kind, Name: p.Name})
	}
	return out, nil
}
