package manager

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

type ctxKey struct{}

func TestCallCtx(t *testing.T) {
	hour := time.Hour
	tests := []struct {
		name    string
		parent  func() (context.Context, context.CancelFunc)
		timeout time.Duration
		steps   func(t *testing.T, ctx context.Context, c *callCtx, cancelParent context.CancelFunc)
	}{
		{name: "no timeout adds nothing", timeout: 0, parent: background, steps: func(t *testing.T, ctx context.Context, c *callCtx, _ context.CancelFunc) {
			if c != nil || ctx != context.Background() {
				t.Error("a context was added")
			}
		}},
		{name: "earlier parent deadline adds nothing", timeout: hour,
			parent: func() (context.Context, context.CancelFunc) {
				return context.WithTimeout(context.Background(), time.Minute)
			},
			steps: func(t *testing.T, ctx context.Context, c *callCtx, _ context.CancelFunc) {
				if c != nil {
					t.Error("a context was added")
				}
			}},
		{name: "values pass through", timeout: hour,
			parent: func() (context.Context, context.CancelFunc) {
				return context.WithValue(context.Background(), ctxKey{}, "v"), func() {}
			},
			steps: func(t *testing.T, ctx context.Context, c *callCtx, _ context.CancelFunc) {
				if ctx.Value(ctxKey{}) != "v" {
					t.Error("value lost")
				}
			}},
		{name: "end without Done: Err is Canceled, Done is closed", timeout: hour, parent: background,
			steps: func(t *testing.T, ctx context.Context, c *callCtx, _ context.CancelFunc) {
				if ctx.Err() != nil {
					t.Fatal("Err before end")
				}
				c.end()
				wantDone(t, ctx, context.Canceled)
			}},
		{name: "end after Done: channel closed with Canceled", timeout: hour, parent: background,
			steps: func(t *testing.T, ctx context.Context, c *callCtx, _ context.CancelFunc) {
				select {
				case <-ctx.Done():
					t.Fatal("Done closed early")
				default:
				}
				c.end()
				wantDone(t, ctx, context.Canceled)
			}},
		{name: "deadline fires Done", timeout: time.Millisecond, parent: background,
			steps: func(t *testing.T, ctx context.Context, c *callCtx, _ context.CancelFunc) {
				<-ctx.Done()
				wantDone(t, ctx, context.DeadlineExceeded)
				c.end()
				wantDone(t, ctx, context.DeadlineExceeded) // the first error sticks
			}},
		{name: "parent cancel reaches Done", timeout: hour, parent: withCancel,
			steps: func(t *testing.T, ctx context.Context, c *callCtx, cancel context.CancelFunc) {
				done := ctx.Done()
				cancel()
				<-done
				wantDone(t, ctx, context.Canceled)
			}},
		{name: "parent cancel seen by Err without Done", timeout: hour, parent: withCancel,
			steps: func(t *testing.T, ctx context.Context, c *callCtx, cancel context.CancelFunc) {
				cancel()
				if !errors.Is(ctx.Err(), context.Canceled) {
					t.Errorf("Err = %v", ctx.Err())
				}
			}},
		{name: "child context is cancelled at the deadline", timeout: time.Millisecond, parent: background,
			steps: func(t *testing.T, ctx context.Context, c *callCtx, _ context.CancelFunc) {
				child, cancel := context.WithCancel(ctx)
				defer cancel()
				<-child.Done()
				if !errors.Is(child.Err(), context.DeadlineExceeded) {
					t.Errorf("child Err = %v", child.Err())
				}
			}},
		{name: "detach lifts the deadline, not the parent", timeout: time.Nanosecond, parent: withCancel,
			steps: func(t *testing.T, ctx context.Context, c *callCtx, cancel context.CancelFunc) {
				c.detach()
				if ctx.Err() != nil {
					t.Fatalf("Err after detach = %v", ctx.Err())
				}
				if _, ok := ctx.Deadline(); ok {
					t.Error("deadline after detach")
				}
				done := ctx.Done()
				cancel()
				<-done
				wantDone(t, ctx, context.Canceled)
				c.end()
			}},
		{name: "detach after Done stops the timer", timeout: 50 * time.Millisecond, parent: withCancel,
			steps: func(t *testing.T, ctx context.Context, c *callCtx, cancel context.CancelFunc) {
				done := ctx.Done()
				c.detach()
				// Had the timer not been stopped, it would close done with
				// DeadlineExceeded; the parent's cancel must win instead.
				time.AfterFunc(100*time.Millisecond, cancel)
				<-done
				wantDone(t, ctx, context.Canceled)
				c.end()
			}},
		{name: "concurrent first Done calls share one channel", timeout: hour, parent: withCancel,
			steps: func(t *testing.T, ctx context.Context, c *callCtx, cancel context.CancelFunc) {
				chans := make([]<-chan struct{}, 32)
				var wg sync.WaitGroup
				for i := range chans {
					wg.Go(func() { chans[i] = ctx.Done() })
				}
				wg.Go(c.end)
				wg.Wait()
				for _, ch := range chans {
					if ch != chans[0] {
						t.Fatal("different channels")
					}
				}
				wantDone(t, ctx, context.Canceled)
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parent, cancel := tt.parent()
			defer cancel()
			ctx, c := newCallCtx(parent, monotonic(), tt.timeout)
			tt.steps(t, ctx, c, cancel)
		})
	}
}

func background() (context.Context, context.CancelFunc) { return context.Background(), func() {} }
func withCancel() (context.Context, context.CancelFunc) {
	return context.WithCancel(context.Background())
}

func wantDone(t *testing.T, ctx context.Context, want error) {
	t.Helper()
	select {
	case <-ctx.Done():
	default:
		t.Fatal("Done not closed")
	}
	if !errors.Is(ctx.Err(), want) {
		t.Errorf("Err = %v, want %v", ctx.Err(), want)
	}
}
