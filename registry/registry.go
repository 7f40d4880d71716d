// Package registry holds the static registry of compiled-in plugins: the
// registration side that built-in packages and vendor plugins call from
// init(), as database/sql/driver is for drivers. It imports only the
// contract (package rigging); hosts resolve and call plugins through package
// manager, which reads a Registry.
//
// Built-in plugins register from init() with Register, naming the kind by the
// interface their factory returns:
//
//	func init() {
//		registry.Register("velero.io/pod", func(*slog.Logger) (rigging.BackupItemAction, error) {
//			return &podAction{}, nil
//		})
//	}
//
// Register panics on an invalid or duplicate name, as database/sql.Register
// does: both are programmer errors found at start-up. Tests and embedders
// that want no global state build their own Registry with New and register
// into it with RegisterIn.
package registry

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"

	"github.com/rigging-dev/rigging"
)

// Factory creates one plugin instance of the kind T names. It receives a
// logger already labelled with the plugin's kind and name. A factory has no
// side effects beyond building the instance: configuration arrives later
// through Init (object stores, snapshotters) or rigging.Configurable.
type Factory[T any] func(log *slog.Logger) (T, error)

// Entry is one registered plugin.
type Entry struct {
	Kind rigging.Kind
	Name rigging.Name
	// New builds an instance; the value it returns implements Kind's
	// interface (Kind.Interface()).
	New func(log *slog.Logger) (any, error)
}

// Key identifies a plugin by its kind and name: the one key type the
// Manager, an external catalog and a plugin server index plugins by.
// Comparable, so usable as a map key.
type Key struct {
	Kind rigging.Kind
	Name rigging.Name
}

// String returns "kind name", as errors and logs name a plugin.
func (k Key) String() string { return string(k.Kind) + " " + string(k.Name) }

// Registry is a set of plugin factories keyed by (kind, name). The zero value
// is not usable; call New. A Registry is safe for concurrent use.
type Registry struct {
	mu      sync.RWMutex
	entries map[rigging.Kind]map[rigging.Name]Entry
}

// New returns an empty Registry, independent of Default.
func New() *Registry {
	return &Registry{entries: map[rigging.Kind]map[rigging.Name]Entry{}}
}

// Default is the process-wide registry that built-in plugins register into
// from init() and that hosts use unless told otherwise.
var Default = New()

// Register adds a plugin to Default. See RegisterIn.
func Register[T any](name string, factory Factory[T]) {
	RegisterIn(Default, name, factory)
}

// RegisterIn adds a plugin to r. The kind is the one whose interface T is
// (rigging.KindFor); name is parsed with rigging.ParseName, so "pod" means
// "velero.io/pod". It panics when T is not a kind interface, when the name is
// invalid, when factory is nil, or when r already holds that (kind, name).
func RegisterIn[T any](r *Registry, name string, factory Factory[T]) {
	kind, ok := rigging.KindFor[T]()
	if !ok {
		var zero *T
		panic(fmt.Sprintf("registry: register %q: %T is not a plugin kind interface (want one of rigging.ObjectStore, rigging.BackupItemAction, …)", name, zero))
	}
	n, err := rigging.ParseName(name)
	if err != nil {
		panic(fmt.Sprintf("registry: register %s: %v", kind, err))
	}
	if factory == nil {
		panic(fmt.Sprintf("registry: register %s %s: nil factory", kind, n))
	}
	r.add(Entry{Kind: kind, Name: n, New: func(log *slog.Logger) (any, error) {
		v, err := factory(log)
		if err != nil {
			return nil, err
		}
		return v, nil
	}})
}

func (r *Registry) add(e Entry) {
	r.mu.Lock()
	defer r.mu.Unlock()
	byName := r.entries[e.Kind]
	if byName == nil {
		byName = map[rigging.Name]Entry{}
		r.entries[e.Kind] = byName
	}
	if _, dup := byName[e.Name]; dup {
		panic(fmt.Sprintf("registry: register %s %s: already registered", e.Kind, e.Name))
	}
	byName[e.Name] = e
}

// Lookup returns the entry for (kind, name).
func (r *Registry) Lookup(kind rigging.Kind, name rigging.Name) (Entry, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	e, ok := r.entries[kind][name]
	return e, ok
}

// List returns the entries of one kind, sorted by name.
func (r *Registry) List(kind rigging.Kind) []Entry {
	r.mu.RLock()
	out := make([]Entry, 0, len(r.entries[kind]))
	for _, e := range r.entries[kind] {
		out = append(out, e)
	}
	r.mu.RUnlock()
	slices.SortFunc(out, func(a, b Entry) int { return strings.Compare(string(a.Name), string(b.Name)) })
	return out
}

// All returns every entry, by kind in rigging.Kinds order, then by name.
func (r *Registry) All() []Entry {
	var out []Entry
	for _, k := range rigging.Kinds() {
		out = append(out, r.List(k)...)
	}
	return out
}
