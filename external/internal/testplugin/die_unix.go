//go:build unix

package testplugin

import (
	"fmt"
	"syscall"
)

// dieOf makes the process die of signal sig ("SEGV"). Go's runtime ignores
// a SIGSEGV sent by kill: a shell in this process's place (same PID) dies
// of it as a crashing program would.
func dieOf(sig string) error {
	err := syscall.Exec("/bin/sh", []string{"sh", "-c", "kill -s " + sig + " $$"}, nil)
	return fmt.Errorf("exec /bin/sh: %w", err)
}
