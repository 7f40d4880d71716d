// The object group: PutObject and GetObject streams over RPC, next to the
// unix-socket stream floor.

package bench

import (
	"context"
	"fmt"
	"io"

	"github.com/rigging-dev/rigging/bench/fixture"
	"github.com/rigging-dev/rigging/bench/measure"
	"github.com/rigging-dev/rigging/manager"
)

func (s *suite) objects() ([]measure.Case, int, int, error) {
	var cases []measure.Case
	if s.cfg.PluginBinary != "" && !s.cfg.RPCInChildren {
		rm, err := s.rpcManager()
		if err != nil {
			return nil, 0, 0, err
		}
		if cases, err = ObjectCases(s.ctx, rm, RiggingRigging, s.cfg.ObjectSize); err != nil {
			return nil, 0, 0, err
		}
	}
	if s.cfg.FloorCommand != nil {
		f, err := startFloor(s.cfg.FloorCommand)
		if err != nil {
			return nil, 0, 0, err
		}
		s.closers = append(s.closers, f.close)
		fc, err := f.streamCases(s.ctx, s.cfg.ObjectSize)
		if err != nil {
			return nil, 0, 0, err
		}
		cases = append(cases, fc...)
	}
	return cases, s.cfg.Rounds, 1, nil
}

// ObjectCases returns the PutObject and GetObject cases of NullStore as m
// reaches it, each moving size bytes per operation.
func ObjectCases(ctx context.Context, m *manager.Manager, path string, size int64) ([]measure.Case, error) {
	st, err := m.ObjectStore(ctx, NullStore)
	if err != nil {
		return nil, err
	}
	if err := st.Init(ctx, nil); err != nil {
		return nil, err
	}
	put := func() (int64, error) {
		return size, st.PutObject(ctx, "bench", "object", fixture.Zeros(size))
	}
	get := func() (int64, error) {
		r, err := st.GetObject(ctx, "bench", SizeKey(size))
		if err != nil {
			return 0, err
		}
		defer r.Close()
		n, err := io.Copy(io.Discard, r)
		if err == nil && n != size {
			err = fmt.Errorf("got %d bytes, want %d", n, size)
		}
		return n, err
	}
	once := func(fn func() (int64, error)) func(int) (measure.Sample, error) {
		return func(n int) (measure.Sample, error) {
			var all measure.Sample
			for range n {
				smp, err := measure.Once(fn)
				if err != nil {
					return all, err
				}
				all = merge(all, smp)
			}
			return all, nil
		}
	}
	return []measure.Case{{Name: Put(path), Run: once(put)}, {Name: Get(path), Run: once(get)}}, nil
}
