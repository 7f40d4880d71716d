// Command rigging-test-plugin is a plugin binary built on rigging's SDK that
// serves one interop test plugin of every kind (see internal/spec for their
// behaviour). Velero's own host must drive it exactly as rigging's does.
package main

import (
	"github.com/rigging-dev/rigging/external/plugin"
	"github.com/rigging-dev/rigging/interop/internal/riggingsdk"
	"github.com/rigging-dev/rigging/registry"
)

func main() {
	r := registry.New()
	riggingsdk.Register(r)
	plugin.Serve(plugin.ServeOptions{Registry: r})
}
