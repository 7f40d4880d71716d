// The first-call group: from a new Manager to the first Execute answered
// by a plugin process, the discovery cache warm.

package bench

import (
	"os"
	"path/filepath"
	"time"

	"github.com/rigging-dev/rigging/bench/measure"
)

func (s *suite) firstCall() ([]measure.Case, int, int, error) {
	if s.cfg.PluginBinary == "" {
		return nil, 0, 0, nil
	}
	dir, err := os.MkdirTemp("", "rigging-bench-firstcall-")
	if err != nil {
		return nil, 0, 0, err
	}
	s.closers = append(s.closers, func() { os.RemoveAll(dir) })
	if err := linkBinary(s.cfg.PluginBinary, filepath.Join(dir, "rigging-plugins")); err != nil {
		return nil, 0, 0, err
	}
	cache := filepath.Join(dir, "..", filepath.Base(dir)+".cache.json")
	s.closers = append(s.closers, func() { os.Remove(cache) })
	item, b, err := Fixtures()
	if err != nil {
		return nil, 0, 0, err
	}
	one := func() (measure.Sample, error) {
		m, err := catalogManager(s.ctx, dir, cache) // warm after the first
		if err != nil {
			return measure.Sample{}, err
		}
		defer m.Close()
		t := time.Now()
		a, err := m.BackupItemAction(s.ctx, ActionName)
		if err == nil {
			_, _, err = a.Execute(s.ctx, item, b)
		}
		return sampleOf(time.Since(t)), err
	}
	if _, err := one(); err != nil { // fills the cache
		return nil, 0, 0, err
	}
	run := func(n int) (measure.Sample, error) {
		var all measure.Sample
		for range n {
			smp, err := one()
			if err != nil {
				return all, err
			}
			all = merge(all, smp)
		}
		return all, nil
	}
	return []measure.Case{{Name: FirstCall, Run: run}}, s.cfg.Rounds, 2, nil
}
