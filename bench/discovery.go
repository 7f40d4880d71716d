// The discovery group: scanning a directory of plugin binaries, cold and
// with the discovery cache warm.

package bench

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/rigging-dev/rigging/bench/measure"
)

func (s *suite) discovery() ([]measure.Case, int, int, error) {
	if s.cfg.PluginBinary == "" {
		return nil, 0, 0, nil
	}
	dir, err := os.MkdirTemp("", "rigging-bench-discovery-")
	if err != nil {
		return nil, 0, 0, err
	}
	s.closers = append(s.closers, func() { os.RemoveAll(dir) })
	plugins := filepath.Join(dir, "plugins")
	if err := os.Mkdir(plugins, 0o755); err != nil {
		return nil, 0, 0, err
	}
	for i := range DiscoveryBinarys {
		bin := s.cfg.DiscoveryBinary
		if bin == "" {
			bin = s.cfg.PluginBinary
		}
		if err := linkBinary(bin, filepath.Join(plugins, fmt.Sprintf("plugin-%02d", i))); err != nil {
			return nil, 0, 0, err
		}
	}
	cache := filepath.Join(dir, "cache.json")
	discover := func(cold bool) func(int) (measure.Sample, error) {
		return func(n int) (measure.Sample, error) {
			var all measure.Sample
			for range n {
				if cold {
					os.Remove(cache)
				}
				smp, err := measure.Once(func() (int64, error) {
					c, err := Discover(s.ctx, plugins, cache)
					if err == nil {
						err = c.Close()
					}
					return 0, err
				})
				if err != nil {
					return all, err
				}
				all = merge(all, smp)
			}
			return all, nil
		}
	}
	// Fill the cache once so the first warm round is warm.
	c, err := Discover(s.ctx, plugins, cache)
	if err != nil {
		return nil, 0, 0, err
	}
	c.Close()
	return []measure.Case{{Name: DiscoveryCold, Run: discover(true)}, {Name: DiscoveryWarm, Run: discover(false)}}, s.cfg.Rounds, 1, nil
}
