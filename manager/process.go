package manager

import (
	"context"
	"log/slog"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// ProcessStats is the resource use of one plugin process (one binary's):
// what a Catalog whose plugins run as processes reports through
// ProcessReporter, exported as the MetricProcess… metrics and by
// Manager.ProcessStats.
type ProcessStats struct {
	// Binary is the path of the plugin binary.
	Binary string
	// Running is true while a process of the binary runs; PID is its
	// process ID then (0 otherwise).
	Running bool
	PID     int
	// Uptime is how long the current process has run.
	Uptime time.Duration
	// Measured is true when RSS and CPU were read (Linux); elsewhere they
	// are 0.
	Measured bool
	// RSS is the resident memory (bytes) of the current process and every
	// process in its process group.
	RSS uint64
	// CPU is the user and system time of every process of the binary: the
	// current process group's and that of the processes that have exited.
	CPU time.Duration
	// Restarts counts the starts after the first.
	Restarts uint64
	// OpenCalls is the number of calls running on the process now.
	OpenCalls int64
}

// ProcessReporter is implemented by a Catalog whose plugins run as
// processes (external.Catalog): the Manager exports their stats as metrics
// and returns them from ProcessStats.
type ProcessReporter interface {
	// ProcessStats returns the stats of every process the catalog has
	// started or will start at the next call, sorted by Binary. It must be
	// safe to call concurrently with everything else, and cheap enough to
	// call at every metrics scrape.
	ProcessStats() []ProcessStats
}

// Metric names of the plugin processes (ProcessStats), each labelled
// binary (the binary's path). RSS and CPU are exported only where they are
// measured (Linux).
const (
	MetricProcessRSS       = "rigging_plugin_process_resident_memory_bytes" // gauge: resident memory of the process group
	MetricProcessCPU       = "rigging_plugin_process_cpu_seconds_total"     // counter: user and system CPU time
	MetricProcessRestarts  = "rigging_plugin_process_restarts_total"        // counter: starts after the first
	MetricProcessOpenCalls = "rigging_plugin_process_open_calls"            // gauge: calls running on the process
)

// ProcessStats returns the stats of the external catalog's plugin
// processes (nil when it has none, or does not report them).
func (m *Manager) ProcessStats() []ProcessStats {
	if r, ok := m.external.(ProcessReporter); ok {
		return r.ProcessStats()
	}
	return nil
}

// logProcessStats logs each plugin process's stats at debug level.
func (m *Manager) logProcessStats() {
	if !m.log.Enabled(context.Background(), slog.LevelDebug) {
		return
	}
	for _, s := range m.ProcessStats() {
		attrs := []slog.Attr{slog.String("binary", s.Binary), slog.Bool("running", s.Running)}
		if s.Running {
			attrs = append(attrs, slog.Int("pid", s.PID), slog.Duration("uptime", s.Uptime))
		}
		if s.Measured {
			attrs = append(attrs, slog.Uint64("rss_bytes", s.RSS), slog.Float64("cpu_seconds", s.CPU.Seconds()))
		}
		attrs = append(attrs, slog.Uint64("restarts", s.Restarts), slog.Int64("open_calls", s.OpenCalls))
		m.log.LogAttrs(context.Background(), slog.LevelDebug, "plugin process stats", attrs...)
	}
}

// processDescs are the descriptions of the MetricProcess… metrics.
type processDescs struct {
	rss, cpu, restarts, openCalls *prometheus.Desc
}

func newProcessDescs() processDescs {
	labels := []string{"binary"}
	return processDescs{
		rss:       prometheus.NewDesc(MetricProcessRSS, "Resident memory of the plugin process and its process group.", labels, nil),
		cpu:       prometheus.NewDesc(MetricProcessCPU, "User and system CPU time of the plugin binary's processes.", labels, nil),
		restarts:  prometheus.NewDesc(MetricProcessRestarts, "Starts of the plugin binary after the first.", labels, nil),
		openCalls: prometheus.NewDesc(MetricProcessOpenCalls, "Calls running on the plugin process.", labels, nil),
	}
}

// addReporter makes the collector export r's process stats until
// removeReporter.
func (m *metrics) addReporter(r ProcessReporter) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.reporters = append(m.reporters, r)
}

func (m *metrics) removeReporter(r ProcessReporter) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.reporters = slices.DeleteFunc(m.reporters, func(x ProcessReporter) bool { return x == r })
}

// collectProcesses sends the process metrics of every reporter; a binary
// that two reporters (two Managers over one directory) share is reported
// once, by the first.
func (m *metrics) collectProcesses(ch chan<- prometheus.Metric) {
	m.mu.Lock()
	reporters := slices.Clone(m.reporters)
	m.mu.Unlock()
	seen := map[string]bool{}
	for _, r := range reporters {
		for _, s := range r.ProcessStats() {
			if seen[s.Binary] {
				continue
			}
			seen[s.Binary] = true
			d := &m.process
			if s.Measured {
				ch <- prometheus.MustNewConstMetric(d.rss, prometheus.GaugeValue, float64(s.RSS), s.Binary)
				ch <- prometheus.MustNewConstMetric(d.cpu, prometheus.CounterValue, s.CPU.Seconds(), s.Binary)
			}
			ch <- prometheus.MustNewConstMetric(d.restarts, prometheus.CounterValue, float64(s.Restarts), s.Binary)
			ch <- prometheus.MustNewConstMetric(d.openCalls, prometheus.GaugeValue, float64(s.OpenCalls), s.Binary)
		}
	}
}
