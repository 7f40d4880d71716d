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
	d := ix.s.derivedIndex(gr, index, func(e sortedEntry[*unstructured.Unstructured]) ([]string, error) { return fn(e.v) })
	list, err := d.lookup(namespace, value)
	if err != nil || len(list) == 0 {
		return nil, err
	}
	return slices.Clone(list), nil
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
