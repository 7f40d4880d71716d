// Command servebuiltins serves every built-in plugin over the plugin
// protocol, for the parity tests of package external/conformance (test-only:
// it lives outside the external layer, which compiles no plugin in; see
// docs/LAYERS.md).
package main

import (
	_ "github.com/rigging-dev/rigging/builtin/all"
	"github.com/rigging-dev/rigging/external/plugin"
)

func main() { plugin.Serve(plugin.ServeOptions{}) }
