package cli

// PLACEHOLDER owned by the external-plugins work: this whole file is
// replaced when external plugin support lands. Until then the binary runs
// built-in plugins only.

import (
	"context"
	"errors"

	"github.com/spf13/cobra"

	"github.com/rigging-dev/rigging/registry"
)

// errNoExternal reports a request for external plugins in a build without
// them.
var errNoExternal = errors.New("this build of rigging has no external plugin support")

// externalSource returns the external plugins of --plugin-dir, or nil when
// no directory is given.
func externalSource(_ context.Context, g *globalFlags) (registry.Source, error) {
	if g.PluginDir == "" {
		return nil, nil
	}
	return nil, errNoExternal
}

// newRunPluginsCommand serves the compiled-in plugins to a plugin host.
func newRunPluginsCommand(*globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:    "run-plugins",
		Short:  "Serve the compiled-in plugins to a Velero-compatible host",
		Hidden: true,
		Args:   args(cobra.NoArgs),
		RunE:   func(*cobra.Command, []string) error { return errNoExternal },
	}
}

// newVerifyCommand checks a plugin binary against the contract.
func newVerifyCommand(*globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:    "verify",
		Short:  "Check a plugin binary against the plugin contract",
		Hidden: true,
		Args:   args(cobra.ArbitraryArgs),
		RunE:   func(*cobra.Command, []string) error { return errNoExternal },
	}
}

// servePluginsIfChild serves the compiled-in plugins when a plugin host
// started this process; it reports whether it did.
func servePluginsIfChild() bool { return false }
