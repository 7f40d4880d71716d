// Command serveaws serves the velero.io/aws ObjectStore and VolumeSnapshotter
// over the plugin protocol, for the parity and subprocess tests of package
// aws.
package main

import (
	"github.com/rigging-dev/rigging/external/plugin"
	_ "github.com/rigging-dev/rigging/providers/aws"
	_ "github.com/rigging-dev/rigging/providers/aws/ebs"
)

func main() { plugin.Serve(plugin.ServeOptions{}) }
