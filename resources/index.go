package resources

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/rigging-dev/rigging"
)

// Index is an in-memory rigging.Lookup over a set of items: what a host fills
// from the items it is processing so that actions can find related objects.
// Objects are keyed by group resource (through the mapper), namespace and
// name. Get and List may run concurrently with each other and with Add.
//
// The Index holds the objects it is given, not copies; neither the caller
// nor the readers may modify them afterwards.
type Index struct {
	mapper *Mapper
	mu     sync.RWMutex
	// byGR holds, per group resource, the objects sorted by namespace and
	// name, without duplicates.
	byGR map[schema.GroupResource][]indexed
	// gen counts the Adds; derived holds the secondary indexes
	// (ListByIndex) built since the last one.
	gen     uint64
	derived map[derivedKey]*derived
}

type indexed struct {
	namespace, name string
	obj             *unstructured.Unstructured
}

func compareIndexed(a indexed, ns, name string) int {
	return cmp.Or(cmp.Compare(a.namespace, ns), cmp.Compare(a.name, name))
}

// NewIndex returns an empty Index that maps kinds with m (nil: a new
// NewMapper()).
func NewIndex(m *Mapper) *Index {
	if m == nil {
		m = NewMapper()
	}
	return &Index{mapper: m, byGR: map[schema.GroupResource][]indexed{}}
}

// Mapper returns the mapper the index maps kinds with.
func (ix *Index) Mapper() *Mapper { return ix.mapper }

// Add indexes objs. CustomResourceDefinitions among them are given to the
// mapper first (Mapper.AddCRD), so custom resources added in the same call
// map. An object with the group resource, namespace and name of one already
// indexed replaces it. The namespace of a cluster-scoped object is ignored.
//
// Objects that cannot be indexed (nil, no name, an unknown kind, an invalid
// CRD) are skipped and the others are indexed; the error joins one error per
// skipped object, each naming it, and matches ErrUnknownKind or ErrInvalidCRD
// where those apply.
func (ix *Index) Add(objs ...*unstructured.Unstructured) error {
	var errs []error
	for _, obj := range objs {
		if obj != nil && IsCRD(obj) {
			if err := ix.mapper.AddCRD(obj); err != nil {
				errs = append(errs, err)
			}
		}
	}
	type keyed struct {
		gr schema.GroupResource
		indexed
	}
	batch := make([]keyed, 0, len(objs))
	for i, obj := range objs {
		if obj == nil {
			errs = append(errs, fmt.Errorf("index: object %d is nil", i))
			continue
		}
		if obj.GetName() == "" {
			errs = append(errs, fmt.Errorf("index: object %d (apiVersion %q kind %q) has no metadata.name", i, obj.GetAPIVersion(), obj.GetKind()))
			continue
		}
		r, err := ix.mapper.ForObject(obj)
		if err != nil {
			errs = append(errs, fmt.Errorf("index: %w", err))
			continue
		}
		ns := obj.GetNamespace()
		if !r.Namespaced {
			ns = ""
		}
		batch = append(batch, keyed{r.GroupResource(), indexed{ns, obj.GetName(), obj}})
	}

	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.gen++
	ix.derived = nil
	for _, k := range batch {
		list := ix.byGR[k.gr]
		i, found := slices.BinarySearchFunc(list, k.indexed, func(a, b indexed) int { return compareIndexed(a, b.namespace, b.name) })
		if found {
			list[i] = k.indexed
		} else {
			list = slices.Insert(list, i, k.indexed)
		}
		ix.byGR[k.gr] = list
	}
	return errors.Join(errs...)
}

// Len returns the number of objects indexed.
func (ix *Index) Len() int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	n := 0
	for _, l := range ix.byGR {
		n += len(l)
	}
	return n
}

// Get returns the object of resource gr named name in namespace ("" for a
// cluster-scoped resource). A missing object gives an error matching
// rigging.ErrNotFound that names it.
func (ix *Index) Get(ctx context.Context, gr schema.GroupResource, namespace, name string) (*unstructured.Unstructured, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ix.mu.RLock()
	list := ix.byGR[gr]
	i, found := slices.BinarySearchFunc(list, name, func(a indexed, name string) int { return compareIndexed(a, namespace, name) })
	var obj *unstructured.Unstructured
	if found {
		obj = list[i].obj
	}
	ix.mu.RUnlock()
	if !found {
		id := rigging.ResourceIdentifier{GroupResource: gr, Namespace: namespace, Name: name}
		return nil, fmt.Errorf("%s: %w", id, rigging.ErrNotFound)
	}
	return obj, nil
}

// List returns the objects of resource gr in namespace ("" for every
// namespace, and for a cluster-scoped resource), sorted by namespace, then
// name. The slice is the caller's; the objects are shared.
func (ix *Index) List(ctx context.Context, gr schema.GroupResource, namespace string) ([]*unstructured.Unstructured, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	list := ix.byGR[gr]
	if namespace != "" {
		lo, _ := slices.BinarySearchFunc(list, namespace, func(a indexed, ns string) int { return cmp.Compare(a.namespace, ns) })
		hi := lo
		for hi < len(list) && list[hi].namespace == namespace {
			hi++
		}
		list = list[lo:hi]
	}
	if len(list) == 0 {
		return nil, nil
	}
	out := make([]*unstructured.Unstructured, len(list))
	for i, e := range list {
		out[i] = e.obj
	}
	return out, nil
}

var _ rigging.Lookup = (*Index)(nil)
