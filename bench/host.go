package bench

import (
	"context"
	"fmt"
	"strconv"

	"github.com/rigging-dev/rigging/bench/measure"
)

// HostOps returns the operations a rigging host process answers over
// measure.ServeChild when a benchmark measures the host in a process of
// its own (as Velero's host is): "exec" (one-by-one Execute calls),
// "exec-c1", "exec-c8", "exec-c64" (that many goroutines), "put" and "get"
// (NullStore objects of objectSize bytes), all against the plugins of
// pluginDir through a Manager, and "exec-ideal" (IdealCall) when pluginDir
// holds one binary. close stops the plugin processes.
func HostOps(ctx context.Context, pluginDir string, objectSize int64) (ops map[string]func(int) (measure.Sample, error), close func(), err error) {
	m, err := CatalogManager(ctx, pluginDir, "")
	if err != nil {
		return nil, nil, err
	}
	close = func() { m.Close() }
	a, err := m.BackupItemAction(ctx, ActionName)
	if err != nil {
		close()
		return nil, nil, fmt.Errorf("%s: %w", pluginDir, err)
	}
	c, err := ExecuteCall(ctx, "exec", a, 1)
	if err != nil {
		close()
		return nil, nil, err
	}
	ops = map[string]func(int) (measure.Sample, error){
		"exec": func(n int) (measure.Sample, error) { return measure.Calls(n, c.Do) },
	}
	for _, g := range Concurrency {
		ops["exec-c"+strconv.Itoa(g)] = func(n int) (measure.Sample, error) { return measure.Parallel(g, n, c.Do) }
	}
	if bin := onlyBinary(pluginDir); bin != "" {
		ideal, stop, err := IdealCall(bin)
		if err != nil {
			close()
			return nil, nil, err
		}
		mclose := close
		close = func() { stop(); mclose() }
		ops["exec-ideal"] = func(n int) (measure.Sample, error) { return measure.Calls(n, ideal) }
	}
	// The null store exists only where the plugin serves it (a rigging
	// plugin with EnvPlugins=1, or the Velero-side test plugin).
	if objs, err := ObjectCases(ctx, m, "", objectSize); err == nil {
		ops["put"], ops["get"] = objs[0].Run, objs[1].Run
	}
	return ops, close, nil
}
