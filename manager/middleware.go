package manager

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rigging-dev/rigging"
)

// Transports reported in PluginInfo and in the transport metric label.
const (
	TransportInProcess = "inproc" // a built-in, called directly
	TransportGRPC      = "grpc"   // an external plugin, called over go-plugin's gRPC
)

// Metric names. Every metric has the labels kind (the wire kind string), name
// (the plugin's full name), method (the interface method, as "Execute") and
// transport (TransportInProcess or TransportGRPC).
const (
	MetricCalls    = "rigging_plugin_calls_total"           // counter: calls that have returned
	MetricErrors   = "rigging_plugin_errors_total"          // counter: calls that returned an error (panics included)
	MetricDuration = "rigging_plugin_call_duration_seconds" // histogram: call latency
	MetricInFlight = "rigging_plugin_calls_in_flight"       // gauge: calls running now
)

// durationBuckets are the upper bounds of MetricDuration's buckets: they
// span in-process calls (tens of microseconds) to snapshot and upload calls
// (minutes).
var durationBuckets = [...]time.Duration{
	100 * time.Microsecond, 500 * time.Microsecond, time.Millisecond, 5 * time.Millisecond,
	10 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond, 500 * time.Millisecond,
	time.Second, 5 * time.Second, 15 * time.Second, time.Minute, 5 * time.Minute, 15 * time.Minute,
}

// callStats counts the calls of one (kind, name, method, transport). A call
// only adds to its atomic counters (started, one bucket, the sum; errors on
// error), so that metrics cost no lock on the call path; the Prometheus
// metrics are computed from it when scraped: calls is the number of
// finished calls (the sum of the buckets) and in-flight is started minus
// finished.
type callStats struct {
	labels  []string // kind, name, method, transport
	started atomic.Uint64
	errors  atomic.Uint64
	sum     atomic.Uint64                           // nanoseconds
	buckets [len(durationBuckets) + 1]atomic.Uint64 // the last is +Inf
}

func (s *callStats) observe(d time.Duration) {
	i := 0
	for i < len(durationBuckets) && d > durationBuckets[i] {
		i++
	}
	s.buckets[i].Add(1)
	s.sum.Add(uint64(max(d, 0)))
}

// metrics is the Prometheus collector of one Manager (or of several sharing
// a registry): MetricCalls, MetricErrors, MetricDuration and MetricInFlight
// for every (kind, name, method, transport) that a wrapped instance has.
type metrics struct {
	calls, errors, duration, inFlight *prometheus.Desc
	process                           processDescs

	mu        sync.Mutex
	stats     map[[4]string]*callStats
	order     [][4]string       // creation order, for stable output
	reporters []ProcessReporter // the external catalogs of the Managers sharing it
}

func newMetricsCollector() *metrics {
	labels := []string{"kind", "name", "method", "transport"}
	return &metrics{
		calls:    prometheus.NewDesc(MetricCalls, "Calls to plugin methods that have returned.", labels, nil),
		errors:   prometheus.NewDesc(MetricErrors, "Calls to plugin methods that returned an error, panics included.", labels, nil),
		duration: prometheus.NewDesc(MetricDuration, "Duration of calls to plugin methods.", labels, nil),
		inFlight: prometheus.NewDesc(MetricInFlight, "Calls to plugin methods currently running.", labels, nil),
		process:  newProcessDescs(),
		stats:    map[[4]string]*callStats{},
	}
}

// newMetrics creates the collector and registers it with reg (if not nil).
// A collector that reg already holds (another Manager registered it) is
// shared, so several Managers may use one registry.
func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := newMetricsCollector()
	if reg == nil {
		return m, nil
	}
	err := reg.Register(m)
	if are, ok := errors.AsType[prometheus.AlreadyRegisteredError](err); ok {
		if existing, ok := are.ExistingCollector.(*metrics); ok {
			return existing, nil
		}
	}
	return m, err
}

// forLabels returns the stats of one label set, creating them once.
func (m *metrics) forLabels(kind rigging.Kind, name rigging.Name, method, transport string) *callStats {
	k := [4]string{string(kind), string(name), method, transport}
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.stats[k]
	if s == nil {
		s = &callStats{labels: k[:]}
		m.stats[k] = s
		m.order = append(m.order, k)
	}
	return s
}

// Describe implements prometheus.Collector.
func (m *metrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- m.calls
	ch <- m.errors
	ch <- m.duration
	ch <- m.inFlight
	ch <- m.process.rss
	ch <- m.process.cpu
	ch <- m.process.restarts
	ch <- m.process.openCalls
}

// Collect implements prometheus.Collector.
func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	m.mu.Lock()
	all := make([]*callStats, 0, len(m.order))
	for _, k := range m.order {
		all = append(all, m.stats[k])
	}
	m.mu.Unlock()
	for _, s := range all {
		// Read the buckets before started, so that in-flight is never
		// negative, and errors after the buckets, so that errors never
		// exceeds calls (a call adds its bucket before its error).
		var finished uint64
		cumulative := make(map[float64]uint64, len(durationBuckets))
		for i := range s.buckets {
			finished += s.buckets[i].Load()
			if i < len(durationBuckets) {
				cumulative[durationBuckets[i].Seconds()] = finished
			}
		}
		sum := time.Duration(s.sum.Load()).Seconds()
		errs := s.errors.Load()
		inFlight := s.started.Load() - finished
		ch <- prometheus.MustNewConstMetric(m.calls, prometheus.CounterValue, float64(finished), s.labels...)
		ch <- prometheus.MustNewConstMetric(m.errors, prometheus.CounterValue, float64(errs), s.labels...)
		ch <- prometheus.MustNewConstHistogram(m.duration, finished, sum, cumulative, s.labels...)
		ch <- prometheus.MustNewConstMetric(m.inFlight, prometheus.GaugeValue, float64(inFlight), s.labels...)
	}
	m.collectProcesses(ch)
}

// callConfig is what every wrapped method of one plugin instance shares:
// the names its errors, metrics and logs carry, its per-call deadline, and
// the Manager's closed flag.
type callConfig struct {
	kind      rigging.Kind
	name      rigging.Name
	transport string
	timeout   time.Duration // per-call deadline; <= 0: none
	log       *slog.Logger  // labelled with plugin and kind
	closed    *atomic.Bool  // the Manager's
	metrics   *metrics
}

// method is one method of one wrapped instance: its metrics are resolved
// once, when the instance is wrapped.
type method struct {
	cc    *callConfig
	name  string
	stats *callStats
}

func (cc *callConfig) method(name string) method {
	return method{cc: cc, name: name, stats: cc.metrics.forLabels(cc.kind, cc.name, name, cc.transport)}
}

// call is the middleware, written once for every method of every kind: it
// runs f with the per-call deadline, turns a panic into an error wrapping
// rigging.ErrPanic, records the metrics, logs, and wraps a returned error
// with the plugin's name and the method.
func (m *method) call(ctx context.Context, f func(context.Context) error) error {
	_, err := m.run(ctx, false, f)
	return err
}

// open is call for a method whose result outlives the call (GetObject's
// reader). On success the deadline is lifted when f returns, and the caller
// must call the returned function when the result is released; it is never
// nil on success.
func (m *method) open(ctx context.Context, f func(context.Context) error) (release func(), err error) {
	c, err := m.run(ctx, true, f)
	if err != nil {
		return nil, err
	}
	if c == nil {
		return func() {}, nil
	}
	return c.end, nil
}

func (m *method) run(ctx context.Context, keep bool, f func(context.Context) error) (c *callCtx, err error) {
	if m.cc.closed.Load() {
		return nil, m.wrapErr(rigging.ErrClosed)
	}
	start := monotonic()
	pctx := ctx
	ctx, c = newCallCtx(ctx, start, m.cc.timeout)
	m.stats.started.Add(1)
	defer m.finish(pctx, c, keep, start, &err)
	return c, f(ctx)
}

// finish is deferred by run; it must call recover itself.
func (m *method) finish(ctx context.Context, c *callCtx, keep bool, start time.Duration, errp *error) {
	if v := recover(); v != nil {
		pe := &PanicError{Value: v, Stack: debug.Stack()}
		*errp = pe
		m.cc.log.LogAttrs(ctx, slog.LevelError, "plugin panicked",
			slog.String("method", m.name), slog.Any("panic", v), slog.String("stack", string(pe.Stack)))
	}
	if c != nil {
		if *errp != nil || !keep {
			c.end()
		} else {
			c.detach()
		}
	}
	d := monotonic() - start
	m.stats.observe(d)
	if *errp != nil {
		m.stats.errors.Add(1)
		*errp = m.wrapErr(*errp)
		if c != nil && d >= c.deadline-start && errors.Is(*errp, context.DeadlineExceeded) {
			m.cc.log.LogAttrs(ctx, slog.LevelWarn, "plugin call exceeded its deadline",
				slog.String("method", m.name), slog.Duration("timeout", m.cc.timeout))
		}
	}
	if m.cc.log.Enabled(ctx, slog.LevelDebug) {
		m.cc.log.LogAttrs(ctx, slog.LevelDebug, "plugin call",
			slog.String("method", m.name), slog.Duration("duration", d), slog.Any("error", *errp))
	}
}

// wrapErr prefixes err with the plugin's name and the method.
func (m *method) wrapErr(err error) error {
	return &CallError{Kind: m.cc.kind, Name: m.cc.name, Method: m.name, Err: err}
}

// CallError is the error every method of a plugin handed out by a Manager
// returns: the plugin's own error (or a *PanicError, or rigging.ErrClosed,
// or the context's error) with the plugin and method that returned it. Test
// it with errors.Is and errors.As; it unwraps to Err.
type CallError struct {
	Kind   rigging.Kind
	Name   rigging.Name
	Method string // the interface method, as "Execute"
	Err    error
}

// Error implements error: "plugin velero.io/pod: Execute: <Err>". Plugins
// usable without a Manager often name themselves in their errors already
// ("plugin velero.io/aws: put s3://b/k: …"); that prefix is not repeated.
func (e *CallError) Error() string {
	msg := e.Err.Error()
	prefix := "plugin " + string(e.Name) + ": "
	msg = strings.TrimPrefix(msg, prefix)
	return prefix + e.Method + ": " + msg
}

// Unwrap returns Err.
func (e *CallError) Unwrap() error { return e.Err }

// PanicError is a panic in a plugin, recovered by the Manager's middleware
// (or while it built or closed the plugin). It matches rigging.ErrPanic with
// errors.Is and, when the panic value is an error, that error too.
type PanicError struct {
	Value any    // what the plugin passed to panic
	Stack []byte // the panicking goroutine's stack (runtime/debug.Stack)
}

// Error implements error.
func (e *PanicError) Error() string {
	return fmt.Sprintf("%v: %v", rigging.ErrPanic, e.Value)
}

// Unwrap returns rigging.ErrPanic and, if the panic value is an error, it.
func (e *PanicError) Unwrap() []error {
	if err, ok := e.Value.(error); ok {
		return []error{rigging.ErrPanic, err}
	}
	return []error{rigging.ErrPanic}
}

// protect runs f, turning a panic into a *PanicError. It guards the plugin
// code the Manager runs outside a method call: factories, Configure, Close.
func protect(f func() error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &PanicError{Value: v, Stack: debug.Stack()}
		}
	}()
	return f()
}
