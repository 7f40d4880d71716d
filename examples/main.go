// Command rigging-example-plugin is a vendor's plugin binary written against
// rigging's public SDK only: one plugin of every kind, served over Velero's
// plugin protocol, so a Velero server and rigging can both load it. See
// README.md for the walk-through.
package main

import (
	"github.com/rigging-dev/rigging/external/plugin"
	"github.com/rigging-dev/rigging/registry"
)

func main() {
	register(registry.Default)
	plugin.Serve(plugin.ServeOptions{})
}

// register adds this binary's plugins to r. Names are <your domain>/<name>;
// velero.io is Velero's own.
func register(r *registry.Registry) {
	registry.RegisterIn(r, "example.com/dir", newDirStore)
	registry.RegisterIn(r, "example.com/file-snapshots", newFileSnapshotter)
	registry.RegisterIn(r, "example.com/timed-operation", newTimedOperation)
	registry.RegisterIn(r, "example.com/restore-labeler", newRestoreLabeler)
	registry.RegisterIn(r, "example.com/delete-logger", newDeleteLogger)
	registry.RegisterIn(r, "example.com/configmap-block", newConfigMapBlock)
}
