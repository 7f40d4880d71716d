// Package manager is the host side of plugin resolution: the Manager that
// resolves a (kind, name) to a built-in plugin of a registry.Registry or to
// an external one of a Catalog, and wraps every instance it hands out in the
// same middleware (per-call deadline, panic recovery, Prometheus metrics and
// logs). It is kept apart from package registry so that a plugin, which
// only registers, links neither the Manager nor Prometheus.
package manager

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/registry"
)

// SourceBuiltin is the Info.Source of a plugin of the static registry.
const SourceBuiltin = "builtin"

// Catalog is a set of plugins outside the static registry: the external
// catalog of plugin binaries (*external.Catalog). Its plugins are reported
// with transport TransportGRPC.
type Catalog interface {
	// Plugins lists what the catalog offers, in any order. The Manager calls
	// it once, from New.
	Plugins() []Info
	// Open returns a new client instance of plugin (kind, name) implementing
	// kind's interface (kind.Interface()). The Manager calls Open once per
	// action (kind, name) per Manager and once per ObjectStore or
	// VolumeSnapshotter Get.
	Open(ctx context.Context, kind rigging.Kind, name rigging.Name) (any, error)
	// Close stops everything the catalog started (processes). Manager.Close
	// calls it once, after closing the instances.
	Close() error
}

// Info describes one plugin of the registry or of a Catalog.
type Info struct {
	Kind rigging.Kind
	Name rigging.Name
	// Source is where the plugin comes from: SourceBuiltin for the static
	// registry; for an external plugin, the path of its binary.
	Source string
}

// PluginInfo is what Manager.Plugins reports about one plugin.
type PluginInfo struct {
	Info
	// Active is false when a plugin of the same kind and name from the other
	// source shadows this one.
	Active bool
	// Transport is TransportInProcess or TransportGRPC.
	Transport string
}

// Options configures a Manager. The zero value is valid: built-ins of
// registry.Default only, logs to slog.Default(), metrics not exported, default
// deadlines.
type Options struct {
	// Registry holds the built-in plugins. Nil means registry.Default.
	Registry *registry.Registry
	// External is the second source of plugins. Nil means built-ins only.
	External Catalog
	// PreferBuiltin makes the built-in win a (kind, name) conflict. By
	// default the external plugin wins: the user installed it on purpose.
	PreferBuiltin bool
	// Logger receives the Manager's logs and, labelled with plugin and kind,
	// each plugin's. Nil means slog.Default().
	Logger *slog.Logger
	// Metrics receives the Manager's collectors (MetricCalls and the
	// others). Nil means they are kept but not exported. A registerer that
	// already holds them (from another Manager) is shared.
	Metrics prometheus.Registerer
	// Timeouts is the per-call deadline of each kind's methods. A kind that
	// is missing or zero gets DefaultTimeout(kind); a negative value means no
	// deadline. A caller's earlier deadline always applies.
	Timeouts map[rigging.Kind]time.Duration
	// PluginConfig maps a plugin name to the configuration given to its
	// rigging.Configurable instances (once, after construction). Names are
	// parsed with rigging.ParseName, so "change-storage-class" and
	// "velero.io/change-storage-class" are the same key.
	PluginConfig map[string]map[string]string
}

// DefaultTimeout returns the per-call deadline of kind's methods when
// Options.Timeouts does not set one:
//
//   - ObjectStore: 1h. It bounds a whole PutObject (a backup tarball
//     upload) but only the opening of GetObject: the returned reader is
//     bound by the caller's context alone.
//   - VolumeSnapshotter: 1h (some providers wait for a snapshot or volume to
//     become ready before returning).
//   - every item action kind: 15m, above Velero's default CSI snapshot
//     timeout (10m) that the CSI actions may wait for within one call.
//
// It returns 0 for an invalid kind.
func DefaultTimeout(kind rigging.Kind) time.Duration {
	switch kind {
	case rigging.KindObjectStore, rigging.KindVolumeSnapshotter:
		return time.Hour
	case rigging.KindBackupItemAction, rigging.KindBackupItemActionV2,
		rigging.KindRestoreItemAction, rigging.KindRestoreItemActionV2,
		rigging.KindDeleteItemAction, rigging.KindItemBlockAction:
		return 15 * time.Minute
	}
	return 0
}

// candidate is one plugin of one source.
type candidate struct {
	info      Info
	transport string
	builtin   registry.Entry // valid when transport is TransportInProcess
}

// resolution is the outcome of Resolution rule 2 for one (kind, name).
type resolution struct {
	active   candidate
	shadowed *candidate
}

// slot holds the one instance of an action (kind, name) of a Manager.
type slot struct {
	mu sync.Mutex
	v  any // wrapped; nil until built
}

// Manager resolves a (kind, name) to a built-in or an external plugin and
// hands out instances wrapped in the middleware: a per-call deadline, panic
// recovery, Prometheus metrics and logs (see CallError, PanicError and the
// Metric constants). Action instances are built lazily, one per (kind, name)
// per Manager, and shared; ObjectStore and VolumeSnapshotter instances are
// new on every Get.
//
// Resolution: a (kind, name) offered by one source resolves there; offered
// by both, the external plugin shadows the built-in unless
// Options.PreferBuiltin is set, which New logs once per conflict and
// Plugins shows. Asking for BackupItemActionV2 or RestoreItemActionV2 also
// finds v1 actions, offered through an adapter (velero-protocol.md §4.2).
//
// A Manager is safe for concurrent use. Close it when done.
type Manager struct {
	reg           *registry.Registry
	external      Catalog
	log           *slog.Logger
	metrics       *metrics
	timeouts      map[rigging.Kind]time.Duration
	config        map[rigging.Name]map[string]string
	plugins       map[registry.Key]resolution
	byKind        map[rigging.Kind][]rigging.Name // active names, sorted
	closed        atomic.Bool
	closeOnce     sync.Once
	metricsErr    error
	mu            sync.Mutex // guards slots and closers
	slots         map[registry.Key]*slot
	closers       []closer
	preferBuiltin bool
}

type closer struct {
	cc *callConfig
	c  rigging.Closer
}

// New returns a Manager over opts' sources. It reads both catalogs
// once: plugins registered or offered later are not seen.
func New(opts Options) *Manager {
	m := &Manager{
		reg:           cmp.Or(opts.Registry, registry.Default),
		external:      opts.External,
		log:           cmp.Or(opts.Logger, slog.Default()),
		timeouts:      map[rigging.Kind]time.Duration{},
		config:        map[rigging.Name]map[string]string{},
		plugins:       map[registry.Key]resolution{},
		byKind:        map[rigging.Kind][]rigging.Name{},
		slots:         map[registry.Key]*slot{},
		preferBuiltin: opts.PreferBuiltin,
	}
	m.metrics, m.metricsErr = newMetrics(opts.Metrics)
	if m.metricsErr != nil {
		m.log.Warn("plugin metrics not exported", "error", m.metricsErr)
	}
	for _, k := range rigging.Kinds() {
		t := opts.Timeouts[k]
		if t == 0 {
			t = DefaultTimeout(k)
		}
		m.timeouts[k] = t
	}
	for s, c := range opts.PluginConfig {
		n, err := rigging.ParseName(s)
		if err != nil {
			m.log.Warn("plugin configuration ignored", "error", err)
			continue
		}
		m.config[n] = c
	}
	if r, ok := m.external.(ProcessReporter); ok {
		m.metrics.addReporter(r)
	}
	m.index()
	return m
}

// index applies the resolution rules to both catalogs.
func (m *Manager) index() {
	for _, e := range m.reg.All() {
		m.plugins[registry.Key{Kind: e.Kind, Name: e.Name}] = resolution{active: candidate{
			info: Info{Kind: e.Kind, Name: e.Name, Source: SourceBuiltin}, transport: TransportInProcess, builtin: e,
		}}
	}
	if m.external != nil {
		seen := map[registry.Key]string{}
		for _, info := range m.external.Plugins() {
			k := registry.Key{Kind: info.Kind, Name: info.Name}
			if !info.Kind.Valid() {
				m.log.Warn("external plugin ignored: invalid kind", "kind", info.Kind, "plugin", info.Name, "source", info.Source)
				continue
			}
			if prev, dup := seen[k]; dup {
				m.log.Warn("external plugin ignored: another binary offers the same kind and name",
					"kind", info.Kind, "plugin", info.Name, "source", info.Source, "kept", prev)
				continue
			}
			seen[k] = info.Source
			ext := candidate{info: info, transport: TransportGRPC}
			r, conflict := m.plugins[k]
			switch {
			case !conflict:
				r = resolution{active: ext}
			case m.preferBuiltin:
				r.shadowed = &ext
			default:
				builtin := r.active
				r = resolution{active: ext, shadowed: &builtin}
			}
			if conflict {
				m.log.Info("plugin shadowed by another of the same kind and name",
					"kind", info.Kind, "plugin", info.Name,
					"active", r.active.info.Source, "shadowed", r.shadowed.info.Source,
					"preferBuiltin", m.preferBuiltin)
			}
			m.plugins[k] = r
		}
	}
	for k := range m.plugins {
		m.byKind[k.Kind] = append(m.byKind[k.Kind], k.Name)
	}
	for _, names := range m.byKind {
		slices.Sort(names)
	}
}

// Plugins returns every plugin of both sources, in rigging.Kinds order then
// by name; of two plugins with the same kind and name, the active one comes
// first and the shadowed one has Active false. Adapted v1 actions appear
// once, under their own kind.
func (m *Manager) Plugins() []PluginInfo {
	var out []PluginInfo
	for _, kind := range rigging.Kinds() {
		for _, name := range m.byKind[kind] {
			r := m.plugins[registry.Key{Kind: kind, Name: name}]
			out = append(out, PluginInfo{Info: r.active.info, Active: true, Transport: r.active.transport})
			if r.shadowed != nil {
				out = append(out, PluginInfo{Info: r.shadowed.info, Active: false, Transport: r.shadowed.transport})
			}
		}
	}
	return out
}

// MetricsError reports why the Manager's collectors could not be registered
// with Options.Metrics (nil when they were, or when Options.Metrics is nil).
// The plugins work either way.
func (m *Manager) MetricsError() error { return m.metricsErr }

// Get returns the plugin of T's kind named name, wrapped in the middleware.
// T is a kind interface (rigging.ObjectStore, rigging.BackupItemActionV2, …);
// name is parsed with rigging.ParseName, so "aws" means "velero.io/aws".
// Asking for rigging.BackupItemActionV2 or rigging.RestoreItemActionV2 also
// finds v1 actions of that name, adapted. An unknown plugin gives an error
// wrapping rigging.ErrPluginNotFound; a closed Manager, rigging.ErrClosed.
func Get[T any](ctx context.Context, m *Manager, name string) (T, error) {
	var zero T
	kind, err := kindOf[T]()
	if err != nil {
		return zero, err
	}
	n, err := rigging.ParseName(name)
	if err != nil {
		return zero, fmt.Errorf("manager: get %s: %w", kind, err)
	}
	v, err := m.get(ctx, kind, n)
	if err != nil {
		return zero, err
	}
	return v.(T), nil
}

// List returns every active plugin of T's kind, sorted by name and wrapped
// in the middleware; for rigging.BackupItemActionV2 and
// rigging.RestoreItemActionV2 it includes the v1 actions, adapted, whose
// names no v2 action has. The first plugin that cannot be built fails the
// whole call, as in Velero.
func List[T any](ctx context.Context, m *Manager) ([]T, error) {
	kind, err := kindOf[T]()
	if err != nil {
		return nil, err
	}
	names := m.byKind[kind]
	if v1, ok := adaptedFrom(kind); ok {
		names = slices.Clone(names)
		for _, n := range m.byKind[v1] {
			if _, dup := slices.BinarySearch(m.byKind[kind], n); !dup {
				names = append(names, n)
			}
		}
		slices.Sort(names)
	}
	out := make([]T, 0, len(names))
	for _, n := range names {
		v, err := m.get(ctx, kind, n)
		if err != nil {
			return nil, err
		}
		out = append(out, v.(T))
	}
	return out, nil
}

func kindOf[T any]() (rigging.Kind, error) {
	kind, ok := rigging.KindFor[T]()
	if !ok {
		var zero *T
		return "", fmt.Errorf("manager: %w: %T is not a plugin kind interface (want rigging.ObjectStore, rigging.BackupItemAction, …)",
			rigging.ErrInvalidKind, zero)
	}
	return kind, nil
}

// adaptedFrom returns the v1 kind that adapts to kind, if any.
func adaptedFrom(kind rigging.Kind) (rigging.Kind, bool) {
	for _, k := range rigging.Kinds() {
		if to, ok := k.AdaptsTo(); ok && to == kind {
			return k, true
		}
	}
	return "", false
}

func (m *Manager) get(ctx context.Context, kind rigging.Kind, name rigging.Name) (any, error) {
	if m.closed.Load() {
		return nil, fmt.Errorf("manager: get %s %s: %w", kind, name, rigging.ErrClosed)
	}
	if r, ok := m.plugins[registry.Key{Kind: kind, Name: name}]; ok {
		return m.instance(ctx, kind, r.active)
	}
	if v1, ok := adaptedFrom(kind); ok {
		if r, ok := m.plugins[registry.Key{Kind: v1, Name: name}]; ok {
			v, err := m.instance(ctx, v1, r.active)
			if err != nil {
				return nil, err
			}
			return adapt(v, name), nil
		}
	}
	return nil, m.notFound(kind, name)
}

func (m *Manager) notFound(kind rigging.Kind, name rigging.Name) error {
	var others []string
	for _, k := range rigging.Kinds() {
		if _, ok := m.plugins[registry.Key{Kind: k, Name: name}]; ok && k != kind {
			others = append(others, string(k))
		}
	}
	also := ""
	if len(others) > 0 {
		also = fmt.Sprintf(" (%s exists as %s)", name, strings.Join(others, ", "))
	}
	return fmt.Errorf("manager: %s %s: %w%s; a built-in is available only if its package is imported "+
		"(import _ \"github.com/rigging-dev/rigging/builtin/all\"), an external plugin only if its binary is in the plugin directory (--plugin-dir)",
		kind, name, rigging.ErrPluginNotFound, also)
}

// instance returns the wrapped instance of c: the shared one of an action,
// a new one of an ObjectStore or VolumeSnapshotter.
func (m *Manager) instance(ctx context.Context, kind rigging.Kind, c candidate) (any, error) {
	if kind == rigging.KindObjectStore || kind == rigging.KindVolumeSnapshotter {
		return m.build(ctx, kind, c)
	}
	k := registry.Key{Kind: kind, Name: c.info.Name}
	m.mu.Lock()
	s := m.slots[k]
	if s == nil {
		s = &slot{}
		m.slots[k] = s
	}
	m.mu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.v == nil {
		v, err := m.build(ctx, kind, c)
		if err != nil {
			return nil, err // not cached: a later Get tries again
		}
		s.v = v
	}
	return s.v, nil
}

// build creates, configures and wraps one instance of c.
func (m *Manager) build(ctx context.Context, kind rigging.Kind, c candidate) (any, error) {
	cc := &callConfig{
		kind:      kind,
		name:      c.info.Name,
		transport: c.transport,
		timeout:   m.timeouts[kind],
		log:       m.log.With("plugin", string(c.info.Name), "kind", string(kind)),
		closed:    &m.closed,
		metrics:   m.metrics,
	}
	if c.transport == TransportGRPC {
		cc.log = cc.log.With("source", c.info.Source)
	}
	fail := func(what string, err error) error {
		return fmt.Errorf("manager: %s %s (%s): %s: %w", kind, c.info.Name, c.info.Source, what, err)
	}
	var raw any
	err := protect(func() (err error) {
		if c.transport == TransportInProcess {
			raw, err = c.builtin.New(cc.log)
		} else {
			raw, err = m.external.Open(ctx, kind, c.info.Name)
		}
		return err
	})
	if err != nil {
		return nil, fail("create", err)
	}
	v, err := wrap(kind, raw, cc)
	if err != nil {
		err = fail("create", err)
	} else {
		if cfg, ok := raw.(rigging.Configurable); ok {
			conf := maps.Clone(m.config[c.info.Name])
			if err = protect(func() error { return cfg.Configure(conf) }); err != nil {
				err = fail("configure", err)
			}
		}
	}
	if err == nil {
		err = m.track(cc, raw)
	}
	if err != nil {
		if cl, ok := raw.(rigging.Closer); ok {
			err = errors.Join(err, protect(cl.Close))
		}
		return nil, err
	}
	cc.log.Debug("plugin instance created", "transport", c.transport, "source", c.info.Source)
	return v, nil
}

// track remembers raw for Close, or fails if the Manager closed meanwhile.
func (m *Manager) track(cc *callConfig, raw any) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed.Load() {
		return fmt.Errorf("manager: %s %s: %w", cc.kind, cc.name, rigging.ErrClosed)
	}
	if c, ok := raw.(rigging.Closer); ok {
		m.closers = append(m.closers, closer{cc, c})
	}
	return nil
}

// Close releases everything the Manager created: it calls Close once on
// every instance it built that implements rigging.Closer (in creation
// order), then closes the external Catalog; a Catalog that is a
// ProcessReporter has each process's stats logged at debug level first,
// and its metrics are no longer exported. Later Gets, and later calls
// through instances the Manager handed out, fail with an error wrapping
// rigging.ErrClosed; so does a second Close. Calls in flight are not
// waited for: close the Manager once its users are done.
func (m *Manager) Close() error {
	err := fmt.Errorf("manager: close: %w", rigging.ErrClosed)
	m.closeOnce.Do(func() {
		m.mu.Lock()
		m.closed.Store(true)
		closers := m.closers
		m.closers = nil
		m.mu.Unlock()
		var errs []error
		for _, c := range closers {
			if err := protect(c.c.Close); err != nil {
				errs = append(errs, fmt.Errorf("plugin %s: close %s: %w", c.cc.name, c.cc.kind, err))
			}
		}
		if r, ok := m.external.(ProcessReporter); ok {
			m.logProcessStats()
			m.metrics.removeReporter(r)
		}
		if m.external != nil {
			if err := protect(m.external.Close); err != nil {
				errs = append(errs, fmt.Errorf("manager: close external plugins: %w", err))
			}
		}
		err = errors.Join(errs...)
	})
	return err
}
