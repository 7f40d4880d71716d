// Package diewithparent ends the test control plane's processes with the
// process that started them.
//
// The binaries of this module run only under a test (internal/testcluster
// starts them through envtest) or a make target. envtest puts each in its own
// process group and stops it on teardown, but a test binary killed outright
// (SIGKILL, a timeout's panic) runs no teardown: without this, etcd and
// kube-apiserver would outlive it, holding ports and temporary directories.
package diewithparent

// Arm asks the kernel to send SIGKILL to this process when its parent exits,
// and exits at once if the parent is already gone. Call it first in main.
//
// Linux delivers the signal when the thread that started the process exits;
// a Go parent's threads live as long as it does unless a goroutine that
// locked its thread returns locked, which the test harness never does.
func Arm() { arm() }
