package external

import (
	"errors"
	"os"
	"os/exec"
	"syscall"
	"unsafe"
)

// configureProcess puts the plugin in a process group of its own (so a
// kill reaches every process it started, and a terminal's Ctrl-C reaches
// only the host, which then stops it) and makes the kernel kill it when
// the host dies (PR_SET_PDEATHSIG), so no plugin outlives rigging.
func configureProcess(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
}

// killGroup sends SIGKILL to the process group p leads: the plugin and
// every descendant that stayed in its group. p must not have been reaped.
func killGroup(p *os.Process) {
	_ = syscall.Kill(-p.Pid, syscall.SIGKILL)
}

// awaitExit blocks until process pid has exited, without reaping it, and
// returns true: while it is a zombie its PID (and so its process group ID)
// cannot be reused, and its group may still be killed safely.
func awaitExit(pid int) bool {
	const (
		pPID    = 1          // P_PID
		wNoWait = 0x01000000 // WNOWAIT
	)
	var info [128]byte // siginfo_t, not read
	for {
		_, _, e := syscall.Syscall6(syscall.SYS_WAITID, pPID, uintptr(pid), uintptr(unsafe.Pointer(&info)), syscall.WEXITED|wNoWait, 0, 0)
		if !errors.Is(e, syscall.EINTR) {
			return true
		}
	}
}
