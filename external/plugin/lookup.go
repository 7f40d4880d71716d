package plugin

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/cluster"
	"github.com/rigging-dev/rigging/resources"
)

// ClusterLookup is ServeOptions.Lookup's default: a rigging.Lookup over
// the API server of the cluster the process finds as Velero's own plugin
// processes do (cluster.FromEnvironment: $KUBECONFIG or ~/.kube/config,
// else the in-cluster configuration). It only reads files and the
// environment; the Lookup it returns sends no request until it is asked a
// question.
func ClusterLookup() (rigging.Lookup, error) {
	cfg, err := cluster.FromEnvironment()
	if err != nil {
		return nil, err
	}
	return cluster.NewLookup(cfg, cluster.LookupOptions{})
}

// lazyLookup is the Lookup a served process puts in the context of every
// call: it makes its Lookup (newLookup) at the first Get or List, keeps it
// once made, and, while making it fails, fails every question with that
// error and tries again at the next one. Safe for concurrent use.
type lazyLookup struct {
	newLookup func() (rigging.Lookup, error)

	made atomic.Pointer[rigging.Lookup]
	mu   sync.Mutex // serialises newLookup
}

var _ resources.IndexedLookup = (*lazyLookup)(nil)

func (z *lazyLookup) lookup() (rigging.Lookup, error) {
	if l := z.made.Load(); l != nil {
		return *l, nil
	}
	z.mu.Lock()
	defer z.mu.Unlock()
	if l := z.made.Load(); l != nil {
		return *l, nil
	}
	l, err := z.newLookup()
	if err == nil && l == nil {
		err = fmt.Errorf("%w: the plugin's Lookup function returned none", rigging.ErrNoCluster)
	}
	if err != nil {
		return nil, err
	}
	z.made.Store(&l)
	return l, nil
}

// Get implements rigging.Lookup.
func (z *lazyLookup) Get(ctx context.Context, gr schema.GroupResource, namespace, name string) (*unstructured.Unstructured, error) {
	l, err := z.lookup()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", rigging.ResourceIdentifier{GroupResource: gr, Namespace: namespace, Name: name}, err)
	}
	return l.Get(ctx, gr, namespace, name)
}

// List implements rigging.Lookup.
func (z *lazyLookup) List(ctx context.Context, gr schema.GroupResource, namespace string) ([]*unstructured.Unstructured, error) {
	l, err := z.lookup()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", gr, err)
	}
	return l.List(ctx, gr, namespace)
}

// ListByIndex implements resources.IndexedLookup, answering from the
// made Lookup's indexes when it keeps them (cluster.Lookup does).
func (z *lazyLookup) ListByIndex(ctx context.Context, gr schema.GroupResource, namespace, index string, fn resources.IndexFunc, value string) ([]*unstructured.Unstructured, error) {
	l, err := z.lookup()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", gr, err)
	}
	return resources.ListByIndexOf(ctx, l, gr, namespace, index, fn, value)
}
