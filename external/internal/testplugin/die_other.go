//go:build !unix

package testplugin

import "errors"

// dieOf fails where a process cannot be replaced by a shell.
func dieOf(string) error { return errors.New("signal-<name> needs a unix system") }
