//go:build !linux

package external

import "os/exec"

// setParentDeath does nothing outside Linux; plugins served by rigging's SDK
// still exit when they notice their parent is gone.
func setParentDeath(*exec.Cmd) {}
