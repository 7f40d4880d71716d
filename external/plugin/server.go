package plugin

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
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
		grpc.ChainUnaryInterceptor(m.unary),
		grpc.ChainStreamInterceptor(streamErrors),
	}, extra...)...)
	generated.RegisterPluginListerServer(s, listerServer{m})
	generated.RegisterObjectStoreServer(s, objectStoreServer{serves[rigging.ObjectStore](m)})
	generated.RegisterVolumeSnapshotterServer(s, volumeSnapshotterServer{serves[rigging.VolumeSnapshotter](m)})
	generated.RegisterBackupItemActionServer(s, backupItemActionServer{serves[rigging.BackupItemAction](m)})
	biav2.RegisterBackupItemActionServer(s, backupItemActionV2Server{serves[rigging.BackupItemActionV2](m)})
	generated.RegisterRestoreItemActionServer(s, restoreItemActionServer{serves[rigging.RestoreItemAction](m)})
	riav2.RegisterRestoreItemActionServer(s, restoreItemActionV2Server{serves[rigging.RestoreItemActionV2](m)})
	generated.RegisterDeleteItemActionServer(s, deleteItemActionServer{serves[rigging.DeleteItemAction](m)})
	ibav1.RegisterItemBlockActionServer(s, itemBlockActionServer{serves[rigging.ItemBlockAction](m)})
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

	// backups decodes the Backup of action requests.
	backups backupDecoder

	// lookup is what the plugins find with rigging.LookupFrom.
	lookup *lazyLookup

	mu       sync.Mutex
	handlers map[registry.Key]*handler

	// ready maps a request's kind and plugin field, exactly as sent (the
	// Name not parsed), to the instance already built for it: after the
	// first call, routing a request is one map read, with no name parsing,
	// lock or allocation. The map is copied on write (under mu); there are
	// as many entries as plugins.
	ready atomic.Pointer[map[registry.Key]any]
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
	newLookup := opts.Lookup
	if newLookup == nil {
		newLookup = ClusterLookup
	}
	return &mux{opts: opts, reg: reg, log: log, handlers: map[registry.Key]*handler{}, lookup: &lazyLookup{newLookup: newLookup}}
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
		if v, ok := (*ready)[registry.Key{Kind: kind, Name: rigging.Name(plugin)}].(T); ok {
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
	k := registry.Key{Kind: kind, Name: name}
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
	m.markReady(registry.Key{Kind: kind, Name: rigging.Name(plugin)}, h.v)
	return v, nil
}

// kindServer is what every per-kind server holds: the mux and the kind
// whose interface T is.
type kindServer[T any] struct {
	m    *mux
	kind rigging.Kind
}

// serves returns the kindServer of the kind whose interface T is (one of
// rigging's kind interfaces).
func serves[T any](m *mux) kindServer[T] {
	kind, ok := rigging.KindFor[T]()
	if !ok {
		panic(fmt.Sprintf("plugin: %s is not a kind interface", reflect.TypeFor[T]()))
	}
	return kindServer[T]{m: m, kind: kind}
}

// get returns the instance serving a request's plugin field.
func (s kindServer[T]) get(plugin string) (T, error) { return handlerFor[T](s.m, s.kind, plugin) }

// appliesTo answers the AppliesTo of every action kind: the selector of
// the instance serving plugin.
func appliesTo[T interface {
	AppliesTo(context.Context) (rigging.ResourceSelector, error)
}](ctx context.Context, s kindServer[T], plugin string) (*generated.ResourceSelector, error) {
	impl, err := s.get(plugin)
	if err != nil {
		return nil, err
	}
	sel, err := impl.AppliesTo(ctx)
	return wire.Selector(sel), err
}

// markReady adds a built instance to the lock-free routing map.
func (m *mux) markReady(k registry.Key, v any) {
	m.mu.Lock()
	defer m.mu.Unlock()
	old := m.ready.Load()
	if old != nil {
		if _, ok := (*old)[k]; ok {
			return
		}
	}
	next := make(map[registry.Key]any, 1+lenOf(old))
	if old != nil {
		for kk, vv := range *old {
			next[kk] = vv
		}
	}
	next[k] = v
	m.ready.Store(&next)
}

func lenOf(m *map[registry.Key]any) int {
	if m == nil {
		return 0
	}
	return len(*m)
}

// unary gives the handler the process's Lookup (rigging.LookupFrom) and
// encodes its error or panic as Velero does (§3.4). One interceptor, not
// two: gRPC chains two with an allocation per call.
func (m *mux) unary(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (resp any, err error) {
	defer func() {
		if p := recover(); p != nil {
			resp, err = nil, panicStatus(p)
		}
	}()
	resp, err = h(rigging.WithLookup(ctx, m.lookup), req)
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
