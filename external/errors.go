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
	// ErrMemoryLimit reports a plugin process that died exceeding
	// Options.MemoryLimit (an allocation failed and it said so on stderr).
	// Its errors also match rigging.ErrPluginUnavailable; the process is
	// restarted at the next call.
	ErrMemoryLimit = errors.New("exceeded its memory limit")
)

// unavailableError marks an error of the host's, caused by a plugin process
// that died, lost its connection, or could not be (re)started or was
// quarantined, as rigging.ErrPluginUnavailable, its text unchanged.
type unavailableError struct {
	err   error
	cause error // why the process died, when known (ErrMemoryLimit); may be nil
}

func (e *unavailableError) Error() string { return e.err.Error() }

// Unwrap returns the error, rigging.ErrPluginUnavailable and the cause of
// the process's death when known.
func (e *unavailableError) Unwrap() []error {
	if e.cause != nil {
		return []error{e.err, rigging.ErrPluginUnavailable, e.cause}
	}
	return []error{e.err, rigging.ErrPluginUnavailable}
}

// unavailable wraps err (nil stays nil) so that it matches
// rigging.ErrPluginUnavailable and, when not nil, cause (whose text err
// already carries). Every error the supervisor returns because the plugin
// process is gone goes through it.
func unavailable(err error, cause ...error) error {
	if err == nil || errors.Is(err, rigging.ErrPluginUnavailable) {
		return err
	}
	return &unavailableError{err: err, cause: errors.Join(cause...)}
}
