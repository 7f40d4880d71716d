package rigging

import (
	"context"
	"fmt"

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

// LookupUser is an optional interface of an action that reads other objects
// through the Lookup (LookupFrom): its answers depend on them, so a host
// with no Lookup to give has no right answer for it. LookupResources
// returns the resources it may read (group and plural, "" group for the
// core API), sorted by group then resource; the answer must not change
// during the action's life. It makes the dependency visible before a call:
// a host can list it, check that it can answer (the manifests hold those
// resources, the cluster's RBAC allows reading them), and name them when
// it cannot. Wrappers of an action (a Manager's middleware) forward the
// underlying action's answer; an empty answer is the same as not
// implementing the interface.
//
// Declaring it changes no call: whether or not an action declares it, a
// Lookup with nothing behind it fails (ErrNoCluster) rather than answer
// empty.
type LookupUser interface {
	LookupResources() []schema.GroupResource
}

// LookupResources returns what action declares, as a LookupUser, that it
// reads through the Lookup, or nil.
func LookupResources(action any) []schema.GroupResource {
	if u, ok := action.(LookupUser); ok {
		return u.LookupResources()
	}
	return nil
}

type lookupKey struct{}

// WithLookup returns a context that carries l to the plugins called with it.
func WithLookup(ctx context.Context, l Lookup) context.Context {
	return context.WithValue(ctx, lookupKey{}, l)
}

// LookupFrom returns the Lookup the host put in ctx. It never returns nil:
// when there is none, every Get and List of the Lookup it returns fails with
// an error matching ErrNoCluster (and not ErrNotFound) that names the
// object or resource asked for, so an action that needs other objects
// reports that they are missing instead of answering as if the cluster had
// none. A host that processes manifests gives a Lookup over them; one that
// reads a cluster, a Lookup over its API server.
func LookupFrom(ctx context.Context) Lookup {
	if l, ok := ctx.Value(lookupKey{}).(Lookup); ok && l != nil {
		return l
	}
	return noLookup{}
}

// noLookup is the Lookup of a context that carries none.
type noLookup struct{}

func (noLookup) Get(_ context.Context, gr schema.GroupResource, namespace, name string) (*unstructured.Unstructured, error) {
	return nil, fmt.Errorf("%s: %w: the host gave the plugin no Lookup", ResourceIdentifier{GroupResource: gr, Namespace: namespace, Name: name}, ErrNoCluster)
}

func (noLookup) List(_ context.Context, gr schema.GroupResource, _ string) ([]*unstructured.Unstructured, error) {
	return nil, fmt.Errorf("%s: %w: the host gave the plugin no Lookup", gr, ErrNoCluster)
}
