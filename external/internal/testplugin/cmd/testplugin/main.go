// Command testplugin serves the test plugins of package testplugin.
package main

import (
	"github.com/rigging-dev/rigging/external/internal/testplugin"
	"github.com/rigging-dev/rigging/external/plugin"
	"github.com/rigging-dev/rigging/registry"
)

func main() {
	r := registry.New()
	testplugin.Register(r)
	plugin.Serve(plugin.ServeOptions{Registry: r})
}
