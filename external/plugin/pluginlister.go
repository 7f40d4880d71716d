package plugin

import (
	"context"

	"github.com/rigging-dev/rigging/external/generated"
)

type listerServer struct{ m *mux }

// ListPlugins answers with this process's argv[0] as the command, kinds in
// Velero's order and names sorted.
func (s listerServer) ListPlugins(context.Context, *generated.Empty) (*generated.ListPluginsResponse, error) {
	res := &generated.ListPluginsResponse{}
	cmd := s.m.opts.command()
	for _, e := range s.m.entries() {
		res.Plugins = append(res.Plugins, &generated.PluginIdentifier{Command: cmd, Kind: string(e.Kind), Name: string(e.Name)})
	}
	return res, nil
}
