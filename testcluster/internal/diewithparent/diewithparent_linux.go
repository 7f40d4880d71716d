package diewithparent

import (
	"os"
	"syscall"
)

func arm() {
	parent := os.Getppid()
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, syscall.PR_SET_PDEATHSIG, uintptr(syscall.SIGKILL), 0); errno != 0 {
		// Without the kernel's help the process still runs; teardown
		// stops it as before.
		return
	}
	// The parent may have exited between the fork and the prctl call:
	// then this process was already re-parented and no signal will come.
	if os.Getppid() != parent || parent == 1 {
		os.Exit(1)
	}
}
