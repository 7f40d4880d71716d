package wire

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/external/generated"
)

// StackFrame is one frame of a stack reported by a plugin.
type StackFrame struct {
	File     string
	Line     int
	Function string
}

// RemoteError is an error a plugin returned over gRPC: the message is the
// plugin's, the code is the gRPC status code (Unknown for an ordinary error,
// Aborted for a panic), and Frames is the stack the plugin attached, if any.
// It matches rigging.ErrPanic when the plugin panicked, context's errors for
// codes DeadlineExceeded and Canceled, and the sentinel
// errors of package rigging a rigging plugin reported (ErrNotFound, ...).
type RemoteError struct {
	Code    codes.Code
	Message string
	frames  []StackFrame
	wrapped []error
}

// Error returns the plugin's message unchanged.
func (e *RemoteError) Error() string { return e.Message }

// Frames returns the remote stack, outermost call first as the plugin sent
// it; nil when the plugin attached none.
func (e *RemoteError) Frames() []StackFrame { return e.frames }

// Unwrap returns the sentinel errors the remote error matches.
func (e *RemoteError) Unwrap() []error { return e.wrapped }

// GRPCStatus returns the status the error came from.
func (e *RemoteError) GRPCStatus() *status.Status { return status.New(e.Code, e.Message) }

// sentinels travel as an errdetails.ErrorInfo in domain rigging.dev: Velero
// hosts ignore the detail, rigging hosts turn it back into the sentinel.
var sentinels = map[string]error{
	"NOT_FOUND":            rigging.ErrNotFound,
	"ASYNC_NOT_SUPPORTED":  rigging.ErrAsyncNotSupported,
	"INVALID_OPERATION_ID": rigging.ErrInvalidOperationID,
	"NOT_INITIALIZED":      rigging.ErrNotInitialized,
	"ALREADY_INITIALIZED":  rigging.ErrAlreadyInitialized,
	"INVALID_NAME":         rigging.ErrInvalidName,
	"PLUGIN_NOT_FOUND":     rigging.ErrPluginNotFound,
	"INVALID_KIND":         rigging.ErrInvalidKind,
}

const sentinelDomain = "rigging.dev"

// Status turns a handler's error into the status Velero's servers send:
// an existing status is kept; anything else becomes code Unknown with the
// error's text, a generated.Stack detail when the error carries a stack, and
// the matching sentinel reasons.
func Status(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		var re *RemoteError
		if !errors.As(err, &re) || re.frames == nil {
			return err
		}
	}
	return withDetails(codes.Unknown, err.Error(), err, ErrorFrames(err))
}

// PanicStatus is the status for a recovered panic: code Aborted, message
// "plugin panicked: <value>", the panicking goroutine's stack as a detail.
func PanicStatus(p any, pcs []uintptr) error {
	var err error
	if e, ok := p.(error); ok {
		err = e
	}
	return withDetails(codes.Aborted, fmt.Sprintf("plugin panicked: %v", p), err, framesOf(pcs))
}

func withDetails(code codes.Code, msg string, err error, frames []StackFrame) error {
	st := status.New(code, msg)
	var details []protoadapt.MessageV1
	if len(frames) > 0 {
		stack := &generated.Stack{}
		for _, f := range frames {
			stack.Frames = append(stack.Frames, &generated.StackFrame{File: f.File, Line: int32(f.Line), Function: f.Function})
		}
		details = append(details, stack)
	}
	if err != nil {
		for reason, s := range sentinels {
			if errors.Is(err, s) {
				details = append(details, &errdetails.ErrorInfo{Reason: reason, Domain: sentinelDomain})
			}
		}
	}
	if len(details) == 0 {
		return st.Err()
	}
	withD, derr := st.WithDetails(details...)
	if derr != nil {
		return status.Errorf(codes.Unknown, "error adding details to the gRPC error: %v", derr)
	}
	return withD.Err()
}

// FromStatus turns an error from a gRPC call back into a Go error: a status
// becomes a *RemoteError with the plugin's message and stack; other errors
// are returned as they are.
func FromStatus(err error) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	re := &RemoteError{Code: st.Code(), Message: st.Message()}
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *generated.Stack:
			for _, f := range d.Frames {
				re.frames = append(re.frames, StackFrame{File: f.File, Line: int(f.Line), Function: f.Function})
			}
		case *errdetails.ErrorInfo:
			if s, ok := sentinels[d.Reason]; ok && d.Domain == sentinelDomain {
				re.wrapped = append(re.wrapped, s)
			}
		}
	}
	switch st.Code() {
	case codes.DeadlineExceeded:
		re.wrapped = append(re.wrapped, context.DeadlineExceeded)
	case codes.Canceled:
		re.wrapped = append(re.wrapped, context.Canceled)
	}
	if st.Code() == codes.Aborted && strings.HasPrefix(st.Message(), "plugin panicked") {
		re.wrapped = append(re.wrapped, rigging.ErrPanic)
	}
	return re
}

// ErrorFrames returns the stack an error carries: frames of a *RemoteError,
// program counters of an error with Callers() []uintptr, or a
// github.com/pkg/errors-style StackTrace() of program counters. Nil when
// there is none.
func ErrorFrames(err error) []StackFrame {
	for e := err; e != nil; e = errors.Unwrap(e) {
		switch s := e.(type) {
		case *RemoteError:
			if s.frames != nil {
				return s.frames
			}
		case interface{ Callers() []uintptr }:
			return framesOf(s.Callers())
		}
		if pcs := reflectStackTrace(e); pcs != nil {
			return framesOf(pcs)
		}
	}
	return nil
}

// reflectStackTrace reads a StackTrace() method returning a slice of
// uintptr-kinded frames (pkg/errors) without importing its package.
func reflectStackTrace(e error) []uintptr {
	m := reflect.ValueOf(e).MethodByName("StackTrace")
	if !m.IsValid() || m.Type().NumIn() != 0 || m.Type().NumOut() != 1 {
		return nil
	}
	t := m.Type().Out(0)
	if t.Kind() != reflect.Slice || t.Elem().Kind() != reflect.Uintptr {
		return nil
	}
	v := m.Call(nil)[0]
	pcs := make([]uintptr, v.Len())
	for i := range pcs {
		pcs[i] = uintptr(v.Index(i).Uint())
	}
	return pcs
}

func framesOf(pcs []uintptr) []StackFrame {
	if len(pcs) == 0 {
		return nil
	}
	var out []StackFrame
	frames := runtime.CallersFrames(pcs)
	for {
		f, more := frames.Next()
		if f.Function != "" {
			out = append(out, StackFrame{File: f.File, Line: f.Line, Function: f.Function})
		}
		if !more {
			return out
		}
	}
}
