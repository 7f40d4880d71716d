package rigging

import (
	"context"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Lookup is read-only access to the other objects of the cluster or backup
// being processed, for actions that relate an item to others (the bindings of
// a service account, the pods that mount a claim). Hosts fill it from the
// items they are processing or from a live cluster; a plugin finds it with
// LookupFrom. Implementations are safe for concurrent use.
type Lookup interface {
	// Get returns the object, or an error matching ErrNotFound. namespace is
	// "" for a cluster-scoped resource. The result must not be modified.
	Get(ctx context.Context, gr schema.GroupResource, namespace, name string) (*unstructured.Unstructured, error)
	// List returns the objects of a resource in namespace ("" for all
	// namespaces, and for cluster-scoped resources), sorted by namespace and
	// name. The results must not be modified.
	List(ctx context.Context, gr schema.GroupResource, namespace string) ([]*unstructured.Unstructured, error)
}

type lookupKey struct{}

// WithLookup returns a context that carries l to the plugins called with it.
func WithLookup(ctx context.Context, l Lookup) context.Context {
	return context.WithValue(ctx, lookupKey{}, l)
}

// LookupFrom returns the Lookup the host put in ctx, or an empty Lookup (every
// Get is ErrNotFound, every List is empty) when there is none. It never
// returns nil.
func LookupFrom(ctx context.Context) Lookup {
	if l, ok := ctx.Value(lookupKey{}).(Lookup); ok && l != nil {
		return l
	}
	return emptyLookup{}
}

type emptyLookup struct{}

func (emptyLookup) Get(_ context.Context, gr schema.GroupResource, namespace, name string) (*unstructured.Unstructured, error) {
	return nil, &lookupMissError{gr: gr, namespace: namespace, name: name}
}

func (emptyLookup) List(context.Context, schema.GroupResource, string) ([]*unstructured.Unstructured, error) {
	return nil, nil
}

type lookupMissError struct {
	gr              schema.GroupResource
	namespace, name string
}

func (e *lookupMissError) Error() string {
	return (ResourceIdentifier{GroupResource: e.gr, Namespace: e.namespace, Name: e.name}).String() + ": " + ErrNotFound.Error()
}

func (e *lookupMissError) Unwrap() error { return ErrNotFound }
