package resources

import (
	"context"
	"slices"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/rigging-dev/rigging"
)

// IndexFunc returns the values an object is indexed under (none: the object
// is in no entry of the index), as client-go's cache.IndexFunc does for
// typed objects. An error marks the object as one the index cannot place.
type IndexFunc func(obj *unstructured.Unstructured) ([]string, error)

// IndexedLookup is an optional interface of a rigging.Lookup: one that can
// keep secondary indexes of its objects, so that an action asking the same
// question for every item (which pods mount this claim?) does not scan a
// namespace each time. *Index implements it. Actions find it by type
// assertion on rigging.LookupFrom's result and fall back to List when it is
// absent; both ways must give the same answer.
type IndexedLookup interface {
	rigging.Lookup
	// ListByIndex returns the objects of resource gr in namespace ("" for
	// every namespace, and for a cluster-scoped resource) for which fn
	// returns value among its values, sorted by namespace, then name: what
	// filtering List(ctx, gr, namespace) through fn gives. index names fn:
	// callers must pass the same fn with the same index name (a plugin's
	// name plus what it indexes is a good name).
	//
	// If fn failed on an object of namespace (of any namespace when
	// namespace is ""), ListByIndex returns the error fn returned for the
	// first such object in List order, and no objects.
	ListByIndex(ctx context.Context, gr schema.GroupResource, namespace, index string, fn IndexFunc, value string) ([]*unstructured.Unstructured, error)
}

var _ IndexedLookup = (*Index)(nil)

// derivedKey names one secondary index of an Index.
type derivedKey struct {
	gr    schema.GroupResource
	index string
}

// derived is a secondary index of one resource: the objects per value, in
// the primary index's order, with and without their namespace.
type derived struct {
	byNamespace map[nsValue][]*unstructured.Unstructured
	byValue     map[string][]*unstructured.Unstructured
	// failed holds the objects fn failed on, in order, with fn's error.
	failed []failedObject
}

type nsValue struct{ namespace, value string }

type failedObject struct {
	namespace string
	err       error
}

// ListByIndex implements IndexedLookup. The secondary index is built on
// first use, from fn, and kept until the next Add; fn is called outside the
// Index's lock, once per object of gr, and may use the Index.
func (ix *Index) ListByIndex(ctx context.Context, gr schema.GroupResource, namespace, index string, fn IndexFunc, value string) ([]*unstructured.Unstructured, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	d := ix.derivedIndex(gr, index, fn)
	for _, f := range d.failed {
		if namespace == "" || f.namespace == namespace {
			return nil, f.err
		}
	}
	var list []*unstructured.Unstructured
	if namespace == "" {
		list = d.byValue[value]
	} else {
		list = d.byNamespace[nsValue{namespace, value}]
	}
	if len(list) == 0 {
		return nil, nil
	}
	return slices.Clone(list), nil
}

// derivedIndex returns the secondary index named index of gr, building it
// when Add has run since it was last built.
func (ix *Index) derivedIndex(gr schema.GroupResource, index string, fn IndexFunc) *derived {
	k := derivedKey{gr, index}
	ix.mu.RLock()
	d, ok := ix.derived[k]
	gen := ix.gen
	var list []indexed
	if !ok {
		list = slices.Clone(ix.byGR[gr])
	}
	ix.mu.RUnlock()
	if ok {
		return d
	}
	d = buildDerived(list, fn)
	ix.mu.Lock()
	// Keep it only if no Add ran meanwhile; a concurrent builder of the
	// same index may have stored an equal one first.
	if ix.gen == gen {
		if ix.derived == nil {
			ix.derived = map[derivedKey]*derived{}
		}
		ix.derived[k] = d
	}
	ix.mu.Unlock()
	return d
}

func buildDerived(list []indexed, fn IndexFunc) *derived {
	d := &derived{byNamespace: map[nsValue][]*unstructured.Unstructured{}, byValue: map[string][]*unstructured.Unstructured{}}
	for _, e := range list {
		values, err := fn(e.obj)
		if err != nil {
			d.failed = append(d.failed, failedObject{namespace: e.namespace, err: err})
			continue
		}
		for i, v := range values {
			if slices.Contains(values[:i], v) {
				continue // an object is listed once per value
			}
			k := nsValue{e.namespace, v}
			d.byNamespace[k] = append(d.byNamespace[k], e.obj)
			d.byValue[v] = append(d.byValue[v], e.obj)
		}
	}
	return d
}

// ListByIndexOf answers l.ListByIndex when l is an IndexedLookup, and
// otherwise lists gr in namespace and keeps the objects fn gives value
// for, failing with the first error fn returns: the same answer either
// way.
func ListByIndexOf(ctx context.Context, l rigging.Lookup, gr schema.GroupResource, namespace, index string, fn IndexFunc, value string) ([]*unstructured.Unstructured, error) {
	if il, ok := l.(IndexedLookup); ok {
		return il.ListByIndex(ctx, gr, namespace, index, fn, value)
	}
	objs, err := l.List(ctx, gr, namespace)
	if err != nil {
		return nil, err
	}
	var out []*unstructured.Unstructured
	for _, o := range objs {
		values, err := fn(o)
		if err != nil {
			return nil, err
		}
		if slices.Contains(values, value) {
			out = append(out, o)
		}
	}
	return out, nil
}
