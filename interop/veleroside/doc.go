// Package veleroside holds the interop tests whose code under test on one
// side is Velero's own: Velero's persistence and archive packages read a
// bucket rigging wrote (and rigging reads one Velero's encoders wrote), and
// Velero's plugin host (clientmgmt) loads rigging's plugin binaries. The
// package links Velero's generated protocol code and never rigging's gRPC
// code; rigging's plugins run as separate processes.
//
// Velero's host starts os.Args[0] run-plugins before any plugin directory
// binary, so the test binary itself serves Velero-framework test plugins when
// started that way (see TestMain).
package veleroside
