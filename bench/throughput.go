// The throughput group: Execute over RPC at 1, 8 and 64 goroutines, next
// to the gRPC floor at the same concurrency.

package bench

import (
	"github.com/rigging-dev/rigging/bench/measure"
)

func (s *suite) throughput() ([]measure.Case, int, int, error) {
	ctx := s.ctx
	item, b, err := Fixtures()
	if err != nil {
		return nil, 0, 0, err
	}
	var cases []measure.Case
	if s.cfg.PluginBinary != "" && !s.cfg.RPCInChildren {
		rm, err := s.rpcManager()
		if err != nil {
			return nil, 0, 0, err
		}
		a, err := rm.BackupItemAction(ctx, ActionName)
		if err != nil {
			return nil, 0, 0, err
		}
		for _, g := range Concurrency {
			cases = append(cases, measure.Case{Name: Parallel(RiggingRigging, g), Run: func(n int) (measure.Sample, error) {
				return measure.Parallel(g, n, func() error { _, _, err := a.Execute(ctx, item, b); return err })
			}})
		}
	}
	if s.cfg.FloorCommand != nil {
		f, err := startFloor(s.cfg.FloorCommand)
		if err != nil {
			return nil, 0, 0, err
		}
		s.closers = append(s.closers, f.close)
		for _, g := range Concurrency {
			cases = append(cases, measure.Case{Name: Parallel(FloorGRPC, g), Run: func(n int) (measure.Sample, error) {
				return measure.Parallel(g, n, func() error { return f.grpcCall(ctx) })
			}})
		}
	}
	return cases, s.cfg.Rounds, s.cfg.Calls, nil
}
