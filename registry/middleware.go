package registry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
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
	MetricCalls    = "rigging_plugin_calls_total"           // counter: calls made
	MetricErrors   = "rigging_plugin_errors_total"          // counter: calls that returned an error (panics included)
	MetricDuration = "rigging_plugin_call_duration_seconds" // histogram: call latency
	MetricInFlight = "rigging_plugin_calls_in_flight"       // gauge: calls running now
)

var metricLabels = []string{"kind", "name", "method", "transport"}

// durationBuckets span in-process calls (tens of microseconds) to snapshot
// and upload calls (minutes).
var durationBuckets = []float64{.0001, .0005, .001, .005, .01, .05, .1, .5, 1, 5, 15, 60, 300, 900}

// metrics holds the collectors of one Manager.
type metrics struct {
	calls, errors *prometheus.CounterVec
	duration      *prometheus.HistogramVec
	inFlight      *prometheus.GaugeVec
}

// newMetrics creates the collectors and registers them with reg (if not nil).
// A collector that reg already holds (another Manager registered it) is
// reused, so several Managers may share one registry.
func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: MetricCalls, Help: "Calls to plugin methods.",
		}, metricLabels),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: MetricErrors, Help: "Calls to plugin methods that returned an error, panics included.",
		}, metricLabels),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: MetricDuration, Help: "Duration of calls to plugin methods.", Buckets: durationBuckets,
		}, metricLabels),
		inFlight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: MetricInFlight, Help: "Calls to plugin methods currently running.",
		}, metricLabels),
	}
	if reg == nil {
		return m, nil
	}
	var err error
	m.calls, err = register(reg, m.calls)
	if err == nil {
		m.errors, err = register(reg, m.errors)
	}
	if err == nil {
		m.duration, err = register(reg, m.duration)
	}
	if err == nil {
		m.inFlight, err = register(reg, m.inFlight)
	}
	return m, err
}

func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	err := reg.Register(c)
	if are, ok := errors.AsType[prometheus.AlreadyRegisteredError](err); ok {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing, nil
		}
	}
	return c, err
}

// ident is what every wrapped method of one plugin instance shares.
type ident struct {
	kind      rigging.Kind
	name      rigging.Name
	transport string
	timeout   time.Duration // per-call deadline; <= 0: none
	log       *slog.Logger  // labelled with plugin and kind
	closed    *atomic.Bool  // the Manager's
	metrics   *metrics
}

// method is one method of one wrapped instance: its metric children are
// resolved once, when the instance is wrapped.
type method struct {
	id       *ident
	name     string
	calls    prometheus.Counter
	errors   prometheus.Counter
	duration prometheus.Observer
	inFlight prometheus.Gauge
}

func (id *ident) method(name string) method {
	lv := []string{string(id.kind), string(id.name), name, id.transport}
	return method{
		id:       id,
		name:     name,
		calls:    id.metrics.calls.WithLabelValues(lv...),
		errors:   id.metrics.errors.WithLabelValues(lv...),
		duration: id.metrics.duration.WithLabelValues(lv...),
		inFlight: id.metrics.inFlight.WithLabelValues(lv...),
	}
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
	if m.id.closed.Load() {
		return nil, m.wrapErr(rigging.ErrClosed)
	}
	start := time.Now()
	pctx := ctx
	ctx, c = newCallCtx(ctx, start, m.id.timeout)
	m.inFlight.Inc()
	defer m.finish(pctx, c, keep, start, &err)
	return c, f(ctx)
}

// finish is deferred by run; it must call recover itself.
func (m *method) finish(ctx context.Context, c *callCtx, keep bool, start time.Time, errp *error) {
	if v := recover(); v != nil {
		*errp = &PanicError{Value: v, Stack: debug.Stack()}
		m.id.log.LogAttrs(ctx, slog.LevelError, "plugin panicked",
			slog.String("method", m.name), slog.Any("panic", v), slog.String("stack", string((*errp).(*PanicError).Stack)))
	}
	if c != nil {
		if *errp != nil || !keep {
			c.end()
		} else {
			c.detach()
		}
	}
	d := time.Since(start)
	m.inFlight.Dec()
	m.calls.Inc()
	m.duration.Observe(d.Seconds())
	if *errp != nil {
		m.errors.Inc()
		*errp = m.wrapErr(*errp)
		if c != nil && errors.Is(*errp, context.DeadlineExceeded) && ctx.Err() == nil {
			m.id.log.LogAttrs(ctx, slog.LevelWarn, "plugin call exceeded its deadline",
				slog.String("method", m.name), slog.Duration("timeout", m.id.timeout))
		}
	}
	if m.id.log.Enabled(ctx, slog.LevelDebug) {
		m.id.log.LogAttrs(ctx, slog.LevelDebug, "plugin call",
			slog.String("method", m.name), slog.Duration("duration", d), slog.Any("error", *errp))
	}
}

// wrapErr prefixes err with the plugin's name and the method.
func (m *method) wrapErr(err error) error {
	return &CallError{Kind: m.id.kind, Name: m.id.name, Method: m.name, Err: err}
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

// Error implements error: "plugin velero.io/pod: Execute: <Err>".
func (e *CallError) Error() string {
	return fmt.Sprintf("plugin %s: %s: %v", e.Name, e.Method, e.Err)
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
