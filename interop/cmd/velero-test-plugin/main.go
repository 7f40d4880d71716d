// Command velero-test-plugin is a plugin binary built on Velero's own plugin
// framework that serves one interop test plugin of every kind (see
// internal/spec for their behaviour). rigging's host must drive it exactly as
// Velero's would.
package main

import "github.com/rigging-dev/rigging/interop/internal/velerofw"

func main() {
	velerofw.NewServer().Serve()
}
