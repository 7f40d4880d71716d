package external

import (
	"os/exec"
	"syscall"
)

// setParentDeath makes the kernel kill the plugin when the host dies
// (PR_SET_PDEATHSIG), so no plugin outlives rigging.
func setParentDeath(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
}
