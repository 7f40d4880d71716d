package plugin

import (
	"runtime"
)

// WithStack returns err annotated with the caller's stack, which the plugin
// server sends to the host as Velero's generated.Stack detail. Errors from
// github.com/pkg/errors carry their stack already and need no wrapping.
// WithStack(nil) is nil.
func WithStack(err error) error {
	if err == nil {
		return nil
	}
	pcs := make([]uintptr, 32)
	n := runtime.Callers(2, pcs)
	return &stackError{err: err, pcs: pcs[:n]}
}

type stackError struct {
	err error
	pcs []uintptr
}

func (e *stackError) Error() string      { return e.err.Error() }
func (e *stackError) Unwrap() error      { return e.err }
func (e *stackError) Callers() []uintptr { return e.pcs }
