package manager

import (
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/rigging-dev/rigging/registry"
)

// reportingCatalog is a fakeCatalog whose plugins run as processes.
type reportingCatalog struct {
	fakeCatalog
	mu    sync.Mutex
	stats []ProcessStats
}

func (c *reportingCatalog) ProcessStats() []ProcessStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]ProcessStats(nil), c.stats...)
}

func (c *reportingCatalog) set(s ...ProcessStats) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stats = s
}

// TestProcessMetrics: a Manager exports its catalog's process stats as the
// MetricProcess… metrics labelled binary, read at each scrape (RSS and CPU
// only where measured), until it is closed, when it logs them at debug;
// two Managers sharing a registry export a binary they share once.
func TestProcessMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	var logs logBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c := &reportingCatalog{fakeCatalog: fakeCatalog{reg: registry.New(), path: "/p/a"}}
	c.set(ProcessStats{Binary: "/p/a", Running: true, PID: 42, Measured: true, RSS: 20 << 20, CPU: 1500 * time.Millisecond, Restarts: 2, OpenCalls: 3, Uptime: time.Minute},
		ProcessStats{Binary: "/p/b", Measured: false, Restarts: 1})
	m := New(Options{External: c, Metrics: reg, Logger: log})
	names := []string{MetricProcessRSS, MetricProcessCPU, MetricProcessRestarts, MetricProcessOpenCalls}
	const want = `
# HELP rigging_plugin_process_cpu_seconds_total User and system CPU time of the plugin binary's processes.
# TYPE rigging_plugin_process_cpu_seconds_total counter
rigging_plugin_process_cpu_seconds_total{binary="/p/a"} 1.5
# HELP rigging_plugin_process_open_calls Calls running on the plugin process.
# TYPE rigging_plugin_process_open_calls gauge
rigging_plugin_process_open_calls{binary="/p/a"} 3
rigging_plugin_process_open_calls{binary="/p/b"} 0
# HELP rigging_plugin_process_resident_memory_bytes Resident memory of the plugin process and its process group.
# TYPE rigging_plugin_process_resident_memory_bytes gauge
rigging_plugin_process_resident_memory_bytes{binary="/p/a"} 2.097152e+07
# HELP rigging_plugin_process_restarts_total Starts of the plugin binary after the first.
# TYPE rigging_plugin_process_restarts_total counter
rigging_plugin_process_restarts_total{binary="/p/a"} 2
rigging_plugin_process_restarts_total{binary="/p/b"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}
	if got := m.ProcessStats(); len(got) != 2 || got[0].PID != 42 {
		t.Errorf("ProcessStats = %+v", got)
	}

	// A second Manager over a catalog sharing binary /p/a: reported once.
	c2 := &reportingCatalog{fakeCatalog: fakeCatalog{reg: registry.New(), path: "/p/a"}}
	c2.set(ProcessStats{Binary: "/p/a", Measured: true, OpenCalls: 7})
	m2 := New(Options{External: c2, Metrics: reg})
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), names...); err != nil {
		t.Errorf("shared binary: %v", err)
	}
	m.Close()
	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP rigging_plugin_process_open_calls Calls running on the plugin process.
# TYPE rigging_plugin_process_open_calls gauge
rigging_plugin_process_open_calls{binary="/p/a"} 7
`), MetricProcessOpenCalls); err != nil {
		t.Errorf("after the first Manager closed: %v", err)
	}
	m2.Close()
	if n, err := testutil.GatherAndCount(reg, names...); err != nil || n != 0 {
		t.Errorf("after both closed: %d series, %v", n, err)
	}
	for _, w := range []string{
		`msg="plugin process stats" binary=/p/a running=true pid=42 uptime=1m0s rss_bytes=20971520 cpu_seconds=1.5 restarts=2 open_calls=3`,
		`msg="plugin process stats" binary=/p/b running=false restarts=1 open_calls=0`,
	} {
		if !strings.Contains(logs.String(), w) {
			t.Errorf("log lacks %q:\n%s", w, logs.String())
		}
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
}
