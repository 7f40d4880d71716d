// Command serveaws serves the velero.io/aws ObjectStore and VolumeSnapshotter
// over the plugin protocol, for the parity and subprocess tests of package
// providers/aws (test-only: it lives outside the providers layer, which may
// not import the SDK; see docs/LAYERS.md).
package main

import (
	"github.com/rigging-dev/rigging/external/plugin"
	_ "github.com/rigging-dev/rigging/providers/aws"
	_ "github.com/rigging-dev/rigging/providers/aws/ebs"
)

func main() { plugin.Serve(plugin.ServeOptions{}) }
