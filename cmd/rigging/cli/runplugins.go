package cli

import (
	"errors"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/bench"
	"github.com/rigging-dev/rigging/external/plugin"
)

// servePluginsIfChild serves the compiled-in plugins when a plugin host
// started this process (go-plugin's magic cookie VELERO_PLUGIN=hello is in
// the environment), whatever the arguments: a Velero host re-executes the
// command ListPlugins reported with its own server flags and without
// run-plugins, so rigging copied or symlinked into a Velero plugin directory
// just works. --kind and --name after run-plugins still select plugins. It
// reports whether it served.
func servePluginsIfChild() bool {
	if os.Getenv(plugin.Handshake.MagicCookieKey) != plugin.Handshake.MagicCookieValue {
		return false
	}
	var sel func(rigging.Kind, rigging.Name) bool
	if i := slices.Index(os.Args, "run-plugins"); i > 0 {
		kinds, names := selectionFlags(os.Args[i+1:])
		sel = selector(kinds, names)
	}
	servePlugins(sel)
	return true
}

// servePlugins serves the compiled-in plugins sel accepts (nil: all). The
// actions find the cluster as Velero's plugin processes do, except in a
// process `rigging bench` starts, which gives them its items instead
// (bench.ChildServeOptions).
func servePlugins(sel func(rigging.Kind, rigging.Name) bool) {
	opts := bench.ChildServeOptions()
	opts.Select = sel
	plugin.Serve(opts)
}

// selectionFlags reads --kind and --name (repeatable, comma-separated) from
// raw arguments, ignoring everything else.
func selectionFlags(args []string) (kinds, names []string) {
	for i := 0; i < len(args); i++ {
		name, val, ok := strings.Cut(strings.TrimLeft(args[i], "-"), "=")
		if !strings.HasPrefix(args[i], "--") || (name != "kind" && name != "name") {
			continue
		}
		if !ok && i+1 < len(args) {
			i++
			val = args[i]
		}
		for _, v := range strings.Split(val, ",") {
			if v = strings.TrimSpace(v); v == "" {
				continue
			}
			if name == "kind" {
				kinds = append(kinds, v)
			} else {
				names = append(names, v)
			}
		}
	}
	return kinds, names
}

// selector accepts plugins of the given kinds and names (either list empty:
// any). Names may be short ("pod" = "velero.io/pod").
func selector(kinds, names []string) func(rigging.Kind, rigging.Name) bool {
	if len(kinds) == 0 && len(names) == 0 {
		return nil
	}
	var full []rigging.Name
	for _, n := range names {
		if p, err := rigging.ParseName(n); err == nil {
			full = append(full, p)
		}
	}
	return func(k rigging.Kind, n rigging.Name) bool {
		return (len(kinds) == 0 || slices.Contains(kinds, string(k))) && (len(names) == 0 || slices.Contains(full, n))
	}
}

// newRunPluginsCommand serves the compiled-in plugins to a plugin host.
func newRunPluginsCommand(*globalFlags) *cobra.Command {
	var kinds, names []string
	cmd := &cobra.Command{
		Use:   "run-plugins",
		Short: "Serve the compiled-in plugins to a Velero-compatible plugin host",
		Long: `Serve the compiled-in plugins over Velero's plugin protocol (go-plugin gRPC,
handshake VELERO_PLUGIN=hello, protocol version 2), all of them or those
selected with --kind and --name.

A plugin host starts this command; run by hand it only explains itself. To
give a Velero server rigging's plugins, copy or symlink the rigging binary into
its plugin directory: started by a host, rigging serves its plugins whatever
its arguments. Unknown flags (a Velero host forwards its own) are ignored;
--log-level and --features are honoured.

The actions that relate an item to other objects (the pods that mount a
claim, the bindings of a service account) read the cluster that Velero's own
plugin processes would: $KUBECONFIG, else ~/.kube/config, else the in-cluster
config, found at the first such question. Without one, those calls fail
saying so; every other call is served.`,
		Args: args(cobra.ArbitraryArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if os.Getenv(plugin.Handshake.MagicCookieKey) != plugin.Handshake.MagicCookieValue {
				return errors.New("run-plugins is started by a plugin host (Velero, or rigging with --plugin-dir): copy or symlink this binary into the host's plugin directory")
			}
			for _, k := range kinds {
				if _, err := rigging.ParseKind(k); err != nil {
					return asUsage(err)
				}
			}
			servePlugins(selector(kinds, names))
			return nil
		},
	}
	cmd.FParseErrWhitelist.UnknownFlags = true
	cmd.Flags().StringSliceVar(&kinds, "kind", nil, "serve only plugins of these kinds (repeatable)")
	cmd.Flags().StringSliceVar(&names, "name", nil, "serve only plugins with these names (repeatable)")
	return cmd
}
