// Package faults holds rigging's fault, hostile-input and load tests: they
// run the real host (manager.Manager, the external plugin catalog, the
// backup and restore pipelines, the filesystem store) against misbehaving
// plugin processes, malicious plugin directories and backups, and load, and
// assert that the host stays up, refuses what it must with errors naming the
// culprit, loses nothing and leaks nothing. The package has no API; its
// tests are the deliverable (docs/RELIABILITY.md lists them with figures).
//
// The default `go test ./faults` run is bounded (a few minutes on two
// cores). The full-size runs the reliability report quotes are behind
// flags:
//
//	go test ./faults -run TestKillPluginDuringBackup -faults.full   # 10 000 items per run, 50 runs
//	go test ./faults -run TestKillStoreDuringUpload -faults.full    # 2 000 items per run, 50 runs
//	go test ./faults -run TestLoad -faults.full                     # 64 goroutines x 10 000 calls
package faults
