// The per-call group: one Execute call at a time on every path, next to
// the floors of the transports.

package bench

import (
	"context"
	"fmt"
	"os"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/bench/measure"
	"github.com/rigging-dev/rigging/manager"
	"github.com/rigging-dev/rigging/registry"
)

// Call is one named way to make one Execute call (or its floor).
type Call struct {
	Name string
	Do   func() error
	// Scale multiplies the batch size: in-process calls are thousands of
	// times cheaper than RPC ones, so their batches are longer.
	Scale int
}

// ExecuteCall returns a Call named name of a's Execute on fresh fixtures,
// after one warm-up call (which starts a plugin process). Each batch runs
// scale times the requested count.
func ExecuteCall(ctx context.Context, name string, a rigging.BackupItemAction, scale int) (Call, error) {
	return executeCall(ctx, name, a, scale)
}

// Case returns the measure.Case timing c one call at a time.
func (c Call) Case() measure.Case {
	return measure.Case{Name: c.Name, Run: func(n int) (measure.Sample, error) { return measure.Calls(n*c.Scale, c.Do) }}
}

func executeCall(ctx context.Context, name string, a rigging.BackupItemAction, scale int) (Call, error) {
	item, b, err := Fixtures()
	if err != nil {
		return Call{}, err
	}
	call := func() error {
		out, extra, err := a.Execute(ctx, item, b)
		if err == nil && (out == nil || len(extra) != 2) {
			err = fmt.Errorf("%s Execute returned %d additional items, want the pod's 2 claims", ActionName, len(extra))
		}
		return err
	}
	if err := call(); err != nil {
		return Call{}, fmt.Errorf("%s: %w", name, err)
	}
	return Call{Name: name, Do: call, Scale: scale}, nil
}

// Calls returns the per-call paths this configuration can run: direct,
// in-process Manager, Manager over in-memory gRPC, Manager to a plugin
// subprocess, and the gRPC and unix-socket floors. Run closes what they
// hold; other callers call Close.
func (s *suite) calls() ([]Call, error) {
	ctx := s.ctx
	var out []Call
	add := func(name string, a rigging.BackupItemAction, err error, scale int) error {
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		c, err := executeCall(ctx, name, a, scale)
		out = append(out, c)
		return err
	}
	e, ok := registry.Default.Lookup(rigging.KindBackupItemAction, ActionName)
	if !ok {
		return nil, fmt.Errorf("%w: BackupItemAction %s is not compiled in", rigging.ErrPluginNotFound, ActionName)
	}
	v, err := e.New(discard)
	if err != nil {
		return nil, err
	}
	if err := add(Direct, v.(rigging.BackupItemAction), nil, 50); err != nil {
		return nil, err
	}
	for _, withBackup := range []bool{true, false} {
		codec, err := jsonCodecCall(withBackup)
		if err != nil {
			return nil, err
		}
		out = append(out, codec)
	}
	out = append(out, ujsonItemCall())
	m := manager.New(manager.Options{Logger: hostLog})
	s.closers = append(s.closers, func() { m.Close() })
	a, err := m.BackupItemAction(ctx, ActionName)
	if err := add(InProcess, a, err, 50); err != nil {
		return nil, err
	}
	mm, stop, err := inMemoryManager()
	if err != nil {
		return nil, err
	}
	s.closers = append(s.closers, stop)
	a, err = mm.BackupItemAction(ctx, ActionName)
	if err := add(InMemoryGRPC, a, err, 1); err != nil {
		return nil, err
	}
	if s.cfg.PluginBinary != "" && !s.cfg.RPCInChildren {
		rm, err := s.rpcManager()
		if err != nil {
			return nil, err
		}
		a, err := rm.BackupItemAction(ctx, ActionName)
		if err := add(RiggingRigging, a, err, 1); err != nil {
			return nil, err
		}
	}
	if s.cfg.FloorCommand != nil {
		f, err := startFloor(s.cfg.FloorCommand)
		if err != nil {
			return nil, err
		}
		s.closers = append(s.closers, f.close)
		buf := make([]byte, 64<<10)
		out = append(out,
			Call{Name: FloorGRPC, Do: func() error { return f.grpcCall(ctx) }, Scale: 1},
			Call{Name: FloorUnix, Do: func() error { return f.rawCall(buf) }, Scale: 1})
	}
	return out, nil
}

func (s *suite) perCall() ([]measure.Case, int, int, error) {
	calls, err := s.calls()
	if err != nil {
		return nil, 0, 0, err
	}
	cases := make([]measure.Case, len(calls))
	for i, c := range calls {
		cases[i] = c.Case()
	}
	return cases, s.cfg.Rounds, s.cfg.Calls, nil
}

// Calls returns the per-call paths of cfg (see Run) for callers that time
// them their own way (Go benchmarks); close releases their processes.
func Calls(ctx context.Context, cfg Config) (calls []Call, close func(), err error) {
	cfg.defaults()
	if cfg.PluginBinary != "" {
		os.Setenv(EnvPlugins, "1")
	}
	s := &suite{cfg: cfg, ctx: ctx}
	calls, err = s.calls()
	if err != nil {
		s.close()
		return nil, nil, err
	}
	return calls, s.close, nil
}
