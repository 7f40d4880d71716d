package resources

import (
	"context"
	"errors"
	"fmt"

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
	s      sorted[*unstructured.Unstructured]
}

// NewIndex returns an empty Index that maps kinds with m (nil: a new
// NewMapper()).
func NewIndex(m *Mapper) *Index {
	if m == nil {
		m = NewMapper()
	}
	return &Index{mapper: m}
}

// Mapper returns the mapper the index maps kinds with.
func (ix *Index) Mapper() *Mapper { return ix.mapper }

// Add indexes objs. CustomResourceDefinitions among them are given to the
// mapper first (Mapper.AddCRD), so custom resources added in the same call
// map. An object with the group resource, namespace and name of one already
// indexed replaces it (the last one of objs wins). The namespace of a
// cluster-scoped object is ignored.
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
	batch := make([]keyed[*unstructured.Unstructured], 0, len(objs))
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
		batch = append(batch, keyed[*unstructured.Unstructured]{r.GroupResource(), sortedEntry[*unstructured.Unstructured]{ns, obj.GetName(), obj}})
	}
	ix.s.add(batch)
	return errors.Join(errs...)
}

// Len returns the number of objects indexed.
func (ix *Index) Len() int { return ix.s.len() }

// Get returns the object of resource gr named name in namespace ("" for a
// cluster-scoped resource). A missing object gives an error matching
// rigging.ErrNotFound that names it.
func (ix *Index) Get(ctx context.Context, gr schema.GroupResource, namespace, name string) (*unstructured.Unstructured, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	e, found := ix.s.get(gr, namespace, name)
	if !found {
		return nil, notFound(gr, namespace, name)
	}
	return e.v, nil
}

// notFound is Get's error for a missing object.
func notFound(gr schema.GroupResource, namespace, name string) error {
	id := rigging.ResourceIdentifier{GroupResource: gr, Namespace: namespace, Name: name}
	return fmt.Errorf("%s: %w", id, rigging.ErrNotFound)
}

// List returns the objects of resource gr in namespace ("" for every
// namespace, and for a cluster-scoped resource), sorted by namespace, then
// name. The slice is the caller's; the objects are shared.
func (ix *Index) List(ctx context.Context, gr schema.GroupResource, namespace string) ([]*unstructured.Unstructured, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	list := ix.s.list(gr, namespace)
	if len(list) == 0 {
		return nil, nil
	}
	out := make([]*unstructured.Unstructured, len(list))
	for i, e := range list {
		out[i] = e.v
	}
	return out, nil
}

var _ rigging.Lookup = (*Index)(nil)
