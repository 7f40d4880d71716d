// Package external is rigging's host side for plugin binaries: discovery of
// a plugin directory, a Catalog of the plugins found (a manager.Catalog),
// supervised go-plugin processes (one per binary, started at first use,
// restarted when they die) and the gRPC client of every kind, speaking
// Velero v1.18's plugin protocol.
package external

import (
	"errors"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/external/internal/wire"
)

// RemoteError is an error a plugin returned: its message unchanged, its gRPC
// code (Unknown for an ordinary error, Aborted for a panic) and the stack the
// plugin attached (Frames). A panic matches rigging.ErrPanic.
type RemoteError = wire.RemoteError

// StackFrame is one frame of a plugin's stack.
type StackFrame = wire.StackFrame

// Sentinel errors.
var (
	// ErrQuarantined reports a plugin binary that crashed too often; the
	// catalog no longer starts it. Its errors also match
	// rigging.ErrPluginUnavailable.
	ErrQuarantined = errors.New("plugin quarantined after repeated crashes")
	// ErrBrokenPlugin reports a binary that discovery could not use.
	ErrBrokenPlugin = errors.New("broken plugin binary")
	// ErrClosed reports a call after Catalog.Close.
	ErrClosed = errors.New("plugin catalog closed")
	// ErrTooManyPlugins reports a binary listing more plugins than
	// Options.MaxPluginsPerBinary (a discovery Problem).
	ErrTooManyPlugins = errors.New("too many plugins in one binary")
	// ErrNoMTLS reports a plugin that did not negotiate mutual TLS while
	// Options.RequireMTLS was set.
	ErrNoMTLS = errors.New("plugin does not negotiate mutual TLS (AutoMTLS); refused because mutual TLS is required")
	// ErrConflictingOptions reports Options that contradict each other
	// (RequireMTLS without AutoMTLS); Discover and OpenBinary return it
	// before starting anything.
	ErrConflictingOptions = errors.New("conflicting plugin catalog options")
	// ErrMemoryLimit reports a call whose plugin process died exceeding
	// Options.MemoryLimit (an allocation failed and the plugin said so on
	// stderr). The call is not retried, and the error does not match
	// rigging.ErrPluginUnavailable: the call's input drove the process past
	// its limit, and the process is restarted at the next call.
	ErrMemoryLimit = errors.New("exceeded its memory limit")
)

// causedError is an error of the host's that also matches the sentinels in
// causes, its text unchanged (the text already says what they mean).
type causedError struct {
	err    error
	causes []error
}

func (e *causedError) Error() string { return e.err.Error() }

// Unwrap returns the error and the sentinels it matches.
func (e *causedError) Unwrap() []error { return append([]error{e.err}, e.causes...) }

// unavailable wraps err (nil stays nil) so that it matches
// rigging.ErrPluginUnavailable: the plugin process died, lost its
// connection, or could not be (re)started or was quarantined. Every error
// the supervisor returns because the plugin process is gone goes through
// it.
func unavailable(err error) error {
	if err == nil || errors.Is(err, rigging.ErrPluginUnavailable) {
		return err
	}
	return &causedError{err: err, causes: []error{rigging.ErrPluginUnavailable}}
}

// overLimit wraps the error of a call whose plugin process died exceeding
// Options.MemoryLimit so that it matches ErrMemoryLimit. It does not match
// rigging.ErrPluginUnavailable: the call drove the process past its limit
// (a pipeline fails that item, not the whole run), and the next call
// restarts the process.
func overLimit(err error) error {
	return &causedError{err: err, causes: []error{ErrMemoryLimit}}
}
