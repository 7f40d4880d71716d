package plugin

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"

	"google.golang.org/grpc"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/external/generated"
	biav2 "github.com/rigging-dev/rigging/external/generated/backupitemaction/v2"
	ibav1 "github.com/rigging-dev/rigging/external/generated/itemblockaction/v1"
	riav2 "github.com/rigging-dev/rigging/external/generated/restoreitemaction/v2"
	"github.com/rigging-dev/rigging/external/internal/wire"
	"github.com/rigging-dev/rigging/registry"
)

// NewGRPCServer returns a gRPC server with every service of Velero's plugin
// protocol registered and serving the plugins opts selects, with rigging's
// message limit (256 MiB each way, wire.MaxMessageSize) and the error and
// panic encoding Velero's hosts expect. Serve uses it under go-plugin; tests
// and embedders can serve it on any listener (an in-memory one, say).
// extra options are appended after rigging's.
func NewGRPCServer(opts ServeOptions, extra ...grpc.ServerOption) *grpc.Server {
	m := newMux(opts)
	s := grpc.NewServer(append([]grpc.ServerOption{
		grpc.MaxRecvMsgSize(wire.MaxMessageSize),
		grpc.MaxSendMsgSize(wire.MaxMessageSize),
		// Handlers run on long-lived workers whose stacks have already
		// grown, not on a new goroutine per call that grows its stack
		// again (gRPC starts a goroutine when every worker is busy).
		grpc.NumStreamWorkers(uint32(runtime.GOMAXPROCS(0))),
		grpc.ChainUnaryInterceptor(unaryErrors),
		grpc.ChainStreamInterceptor(streamErrors),
	}, extra...)...)
	generated.RegisterPluginListerServer(s, listerServer{m})
	generated.RegisterObjectStoreServer(s, objectStoreServer{m})
	generated.RegisterVolumeSnapshotterServer(s, volumeSnapshotterServer{m})
	generated.RegisterBackupItemActionServer(s, backupItemActionServer{m})
	biav2.RegisterBackupItemActionServer(s, backupItemActionV2Server{m})
	generated.RegisterRestoreItemActionServer(s, restoreItemActionServer{m})
	riav2.RegisterRestoreItemActionServer(s, restoreItemActionV2Server{m})
	generated.RegisterDeleteItemActionServer(s, deleteItemActionServer{m})
	ibav1.RegisterItemBlockActionServer(s, itemBlockActionServer{m})
	registerDataPath(s, m)
	return s
}

// mux routes a request to the instance of (kind, name), creating it on
// first use. Unlike Velero's, it is safe under concurrent first calls: each
// instance is built exactly once.
type mux struct {
	opts ServeOptions
	reg  *registry.Registry
	log  *slog.Logger

	mu       sync.Mutex
	handlers map[handlerKey]*handler

	// ready maps a request's kind and plugin field, exactly as sent, to the
	// instance already built for it: after the first call, routing a request
	// is one map read, with no name parsing, lock or allocation. The map is
	// copied on write (under mu); there are as many entries as plugins.
	ready atomic.Pointer[map[readyKey]any]
}

type readyKey struct {
	kind   rigging.Kind
	plugin string
}

type handlerKey struct {
	kind rigging.Kind
	name rigging.Name
}

type handler struct {
	once sync.Once
	v    any
	err  error
}

func newMux(opts ServeOptions) *mux {
	reg := opts.Registry
	if reg == nil {
		reg = registry.Default
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	return &mux{opts: opts, reg: reg, log: log, handlers: map[handlerKey]*handler{}}
}

// entries returns the served plugins in Velero's listing order.
func (m *mux) entries() []registry.Entry {
	var out []registry.Entry
	for _, e := range m.reg.All() {
		if m.opts.Select == nil || m.opts.Select(e.Kind, e.Name) {
			out = append(out, e)
		}
	}
	return out
}

// handlerFor returns the instance of kind T serving the plugin named by a
// request's plugin field.
func handlerFor[T any](m *mux, kind rigging.Kind, plugin string) (T, error) {
	if ready := m.ready.Load(); ready != nil {
		if v, ok := (*ready)[readyKey{kind, plugin}].(T); ok {
			return v, nil
		}
	}
	var zero T
	name, err := rigging.ParseName(plugin)
	if err != nil {
		return zero, fmt.Errorf("%s plugin: %s was not found or has an invalid name format: %w", kind, plugin, err)
	}
	e, ok := m.reg.Lookup(kind, name)
	if !ok || (m.opts.Select != nil && !m.opts.Select(kind, name)) {
		return zero, fmt.Errorf("%s plugin: %s was not found or has an invalid name format: %w", kind, plugin, rigging.ErrPluginNotFound)
	}
	k := handlerKey{kind, name}
	m.mu.Lock()
	h := m.handlers[k]
	if h == nil {
		h = &handler{}
		m.handlers[k] = h
	}
	m.mu.Unlock()
	h.once.Do(func() {
		h.v, h.err = e.New(m.log.With("kind", string(kind), "plugin", string(name)))
		if h.err != nil {
			h.err = fmt.Errorf("%s plugin %s: create: %w", kind, name, h.err)
		}
	})
	if h.err != nil {
		return zero, h.err
	}
	v, ok := h.v.(T)
	if !ok {
		return zero, fmt.Errorf("%s plugin %s: %T is not a %s", kind, name, h.v, kind)
	}
	m.markReady(readyKey{kind, plugin}, h.v)
	return v, nil
}

// markReady adds a built instance to the lock-free routing map.
func (m *mux) markReady(k readyKey, v any) {
	m.mu.Lock()
	defer m.mu.Unlock()
	old := m.ready.Load()
	if old != nil {
		if _, ok := (*old)[k]; ok {
			return
		}
	}
	next := make(map[readyKey]any, 1+lenOf(old))
	if old != nil {
		for kk, vv := range *old {
			next[kk] = vv
		}
	}
	next[k] = v
	m.ready.Store(&next)
}

func lenOf(m *map[readyKey]any) int {
	if m == nil {
		return 0
	}
	return len(*m)
}

// unaryErrors encodes a handler's error or panic as Velero does (§3.4).
func unaryErrors(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (resp any, err error) {
	defer func() {
		if p := recover(); p != nil {
			resp, err = nil, panicStatus(p)
		}
	}()
	resp, err = h(ctx, req)
	return resp, wire.Status(err)
}

func streamErrors(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = panicStatus(p)
		}
	}()
	return wire.Status(h(srv, ss))
}

func panicStatus(p any) error {
	pcs := make([]uintptr, 64)
	n := runtime.Callers(3, pcs)
	return wire.PanicStatus(p, pcs[:n])
}
