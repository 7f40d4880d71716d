//go:build !linux

package diewithparent

// arm does nothing where the kernel has no parent-death signal; envtest's
// teardown still stops the process.
func arm() {}
