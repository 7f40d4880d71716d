package manager

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// callCtx is the context a plugin method receives when the Manager adds a
// per-call deadline. Deadline and Err are computed from the deadline and the
// parent without any timer; the timer and channel behind Done are created
// only if the plugin asks for Done (once, safely under concurrent first
// calls), so that the in-process path stays a plain call (costs:
// docs/BENCHMARKS.md, "In-process path").
//
// A callCtx goes through up to three phases:
//
//   - active: the call is running and the deadline applies;
//   - detached: the call has returned but something it created (the reader
//     returned by ObjectStore.GetObject) still uses the context; the
//     deadline no longer applies, only the parent's cancellation does;
//   - ended: the call (and any stream) is over; the context reports
//     context.Canceled, as the context of a returned context.WithTimeout
//     call does once its cancel function has run.
type callCtx struct {
	parent   context.Context
	deadline time.Duration // on the monotonic clock (see monotonic)
	phase    atomic.Int32
	sig      atomic.Pointer[doneSignal]
}

// epoch anchors the monotonic clock the middleware reads: time.Since(epoch)
// reads one clock where time.Now reads two (wall and monotonic).
var epoch = time.Now()

// monotonic returns the time elapsed since epoch.
func monotonic() time.Duration { return time.Since(epoch) }

const (
	phaseActive int32 = iota
	phaseDetached
	phaseEnded
)

// doneSignal is the materialised Done channel of a callCtx.
type doneSignal struct {
	ch         chan struct{}
	mu         sync.Mutex
	err        error       // set when ch is closed
	timer      *time.Timer // fires at the deadline while the call is active
	stopParent func() bool // stops the watch on the parent's Done
}

// newCallCtx returns parent with deadline added, or parent itself (and a nil
// *callCtx) when timeout is not positive or parent's own deadline comes
// first.
func newCallCtx(parent context.Context, start, timeout time.Duration) (context.Context, *callCtx) {
	if timeout <= 0 {
		return parent, nil
	}
	d := start + timeout
	if d < start { // overflow: no deadline within 290 years
		return parent, nil
	}
	if pd, ok := parent.Deadline(); ok && pd.Sub(epoch) <= d {
		return parent, nil
	}
	c := &callCtx{parent: parent, deadline: d}
	return c, c
}

// Deadline implements context.Context.
func (c *callCtx) Deadline() (time.Time, bool) {
	if c.phase.Load() == phaseActive {
		return epoch.Add(c.deadline), true
	}
	return c.parent.Deadline()
}

// Value implements context.Context.
func (c *callCtx) Value(key any) any { return c.parent.Value(key) }

// Err implements context.Context. It reports the deadline as soon as it has
// passed, whether or not Done was ever called.
func (c *callCtx) Err() error {
	s := c.sig.Load()
	if s != nil {
		s.mu.Lock()
		err := s.err
		s.mu.Unlock()
		if err != nil {
			return err
		}
	}
	phase := c.phase.Load()
	var err error
	switch {
	case phase == phaseEnded:
		err = context.Canceled
	case c.parent.Err() != nil:
		err = c.parent.Err()
	case phase == phaseActive && monotonic() >= c.deadline:
		err = context.DeadlineExceeded
	default:
		return nil
	}
	if s != nil {
		// Keep the context contract: Err is non-nil only once Done is closed.
		s.close(err)
	}
	return err
}

// Done implements context.Context. The first call creates the channel and
// arms a timer for the deadline and a watch on the parent's Done.
func (c *callCtx) Done() <-chan struct{} {
	if s := c.sig.Load(); s != nil {
		return s.ch
	}
	s := &doneSignal{ch: make(chan struct{})}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !c.sig.CompareAndSwap(nil, s) {
		return c.sig.Load().ch
	}
	// s is published and locked: end and detach wait for the arming below.
	switch c.phase.Load() {
	case phaseEnded:
		s.closeLocked(context.Canceled)
		return s.ch
	case phaseActive:
		s.timer = time.AfterFunc(c.deadline-monotonic(), func() {
			s.mu.Lock()
			if c.phase.Load() == phaseActive {
				s.closeLocked(context.DeadlineExceeded)
			}
			s.mu.Unlock()
		})
	}
	if c.parent.Done() != nil {
		s.stopParent = context.AfterFunc(c.parent, func() { s.close(c.parent.Err()) })
	}
	return s.ch
}

// String describes the context for debugging.
func (c *callCtx) String() string {
	return "manager.callCtx(deadline " + epoch.Add(c.deadline).String() + ")"
}

// end marks the call over: the context reports context.Canceled from now on
// and its timer and parent watch, if any, are released.
func (c *callCtx) end() {
	c.phase.Store(phaseEnded)
	if s := c.sig.Load(); s != nil {
		s.mu.Lock()
		s.release()
		s.closeLocked(context.Canceled)
		s.mu.Unlock()
	}
}

// detach lifts the deadline: the context now follows its parent only, until
// end is called.
func (c *callCtx) detach() {
	c.phase.Store(phaseDetached)
	if s := c.sig.Load(); s != nil {
		s.mu.Lock()
		if s.timer != nil {
			s.timer.Stop()
		}
		s.mu.Unlock()
	}
}

func (s *doneSignal) close(err error) {
	s.mu.Lock()
	s.closeLocked(err)
	s.mu.Unlock()
}

func (s *doneSignal) closeLocked(err error) {
	if s.err == nil {
		s.err = err
		close(s.ch)
	}
}

func (s *doneSignal) release() {
	if s.timer != nil {
		s.timer.Stop()
	}
	if s.stopParent != nil {
		s.stopParent()
	}
}

var _ context.Context = (*callCtx)(nil)
