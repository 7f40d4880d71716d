// Package riggingside holds the interop tests whose host is rigging: rigging's
// external catalog and manager.Manager drive plugin binaries built on
// Velero's own framework (cmd/velero-test-plugin) and the real
// velero-plugin-for-aws. The package links rigging's gRPC code and never
// Velero's; Velero's code runs only in the subprocesses.
package riggingside
