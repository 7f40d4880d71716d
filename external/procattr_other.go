//go:build !linux

package external

import (
	"os"
	"os/exec"
)

// configureProcess does nothing outside Linux: there is no portable process
// group or parent-death signal. Plugins served by rigging's SDK still exit
// when they notice their parent is gone.
func configureProcess(*exec.Cmd) {}

// killGroup kills process p (outside Linux its descendants are not
// reached).
func killGroup(p *os.Process) { _ = p.Kill() }

// awaitExit returns false at once outside Linux, where a process cannot be
// waited for without reaping it: the caller's Wait does the waiting.
func awaitExit(int) bool { return false }
