package wire

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/external/generated"
)

type callersErr struct{ pcs []uintptr }

func (e callersErr) Error() string      { return "with callers" }
func (e callersErr) Callers() []uintptr { return e.pcs }

// pkgErrorsLike mimics github.com/pkg/errors: StackTrace() of uintptr frames.
type frame uintptr
type pkgErrorsLike struct{ pcs []frame }

func (e pkgErrorsLike) Error() string       { return "pkg/errors style" }
func (e pkgErrorsLike) StackTrace() []frame { return e.pcs }

func here() []uintptr {
	pcs := make([]uintptr, 8)
	return pcs[:runtime.Callers(1, pcs)]
}

func TestStatusRoundTrip(t *testing.T) {
	pcs := here()
	var fr []frame
	for _, pc := range pcs {
		fr = append(fr, frame(pc))
	}
	tests := []struct {
		name      string
		err       error
		code      codes.Code
		msg       string
		frames    bool
		sentinels []error
	}{
		{"plain", errors.New("boom"), codes.Unknown, "boom", false, nil},
		{"sentinel", fmt.Errorf("get k: %w", rigging.ErrNotFound), codes.Unknown, "get k: not found", false, []error{rigging.ErrNotFound}},
		{"callers", callersErr{pcs}, codes.Unknown, "with callers", true, nil},
		{"pkg/errors", pkgErrorsLike{fr}, codes.Unknown, "pkg/errors style", true, nil},
		{"status kept", status.Error(codes.InvalidArgument, "bad"), codes.InvalidArgument, "bad", false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := FromStatus(Status(tt.err))
			var re *RemoteError
			if !errors.As(got, &re) || re.Code != tt.code || re.Error() != tt.msg {
				t.Fatalf("got %#v", got)
			}
			if (len(re.Frames()) > 0) != tt.frames {
				t.Errorf("frames = %v", re.Frames())
			}
			if tt.frames && re.Frames()[0].Function != "github.com/rigging-dev/rigging/external/internal/wire.here" {
				t.Errorf("first frame = %+v", re.Frames()[0])
			}
			for _, s := range tt.sentinels {
				if !errors.Is(got, s) {
					t.Errorf("does not match %v", s)
				}
			}
		})
	}
}

func TestPanicStatus(t *testing.T) {
	err := PanicStatus("kaboom", here())
	st := status.Convert(err)
	if st.Code() != codes.Aborted || st.Message() != "plugin panicked: kaboom" {
		t.Errorf("status = %v", st)
	}
	if d := st.Proto().GetDetails(); len(d) == 0 || d[0].GetTypeUrl() != "type.googleapis.com/generated.Stack" {
		t.Errorf("details = %v, want a type.googleapis.com/generated.Stack", d)
	}
	var stack *generated.Stack
	for _, d := range st.Details() {
		if s, ok := d.(*generated.Stack); ok {
			stack = s
		}
	}
	if stack == nil || len(stack.Frames) == 0 {
		t.Error("no generated.Stack detail")
	}
	if got := FromStatus(err); !errors.Is(got, rigging.ErrPanic) {
		t.Errorf("%v does not match ErrPanic", got)
	}
	if got := FromStatus(status.Error(codes.DeadlineExceeded, "late")); !errors.Is(got, context.DeadlineExceeded) {
		t.Errorf("%v does not match context.DeadlineExceeded", got)
	}
}
