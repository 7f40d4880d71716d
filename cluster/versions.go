package cluster

import (
	"context"
	"fmt"
	"slices"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
)

// versions is what a Lookup knows of the versions the API server serves
// besides the preferred ones (Velero's EnableAPIGroupVersions feature),
// read at the first question about them.
type versions struct {
	once  sync.Once
	other map[schema.GroupResource][]string // non-preferred versions, in the server's order
	err   error

	mu    sync.Mutex
	reads map[versionScope]*versionRead
}

// versionScope is one list of a resource in one version: in one namespace,
// or in the cluster ("").
type versionScope struct {
	gvr       schema.GroupVersionResource
	namespace string
}

// versionRead is such a list, read once: the objects by namespace/name.
type versionRead struct {
	once sync.Once
	objs map[string]*unstructured.Unstructured
	err  error
}

// OtherVersions returns the object named by gr, namespace and name in each
// version of gr that the API server serves besides its preferred one (with
// the verbs a backup needs), in the server's order of versions: what Velero
// backs up of an item with its EnableAPIGroupVersions feature. An object
// the server does not return in a version is left out. Each resource is
// listed once per version and namespace (paginated, as the Lookup's
// lists), at the first question about it; the objects are the Lookup's and
// must not be modified. A failed discovery or list is an error naming the
// resource, version and namespace. OtherVersions is safe for concurrent
// use.
func (l *Lookup) OtherVersions(ctx context.Context, gr schema.GroupResource, namespace, name string) ([]*unstructured.Unstructured, error) {
	r, ok, err := l.resolve(ctx, gr)
	if err != nil || !ok || r.Namespaced != (namespace != "") {
		return nil, err
	}
	// Asked once for the Lookup's life: not ended by this question's
	// cancellation (the discovery timeout bounds it).
	l.versions.once.Do(func() { l.versions.other, l.versions.err = l.discoverVersions(context.WithoutCancel(ctx)) })
	if l.versions.err != nil {
		return nil, l.versions.err
	}
	var out []*unstructured.Unstructured
	for _, v := range l.versions.other[gr] {
		objs, err := l.readVersion(ctx, versionScope{gr.WithVersion(v), namespace})
		if err != nil {
			return nil, err
		}
		if o, ok := objs[namespace+"/"+name]; ok {
			out = append(out, o)
		}
	}
	return out, nil
}

// discoverVersions asks the API server for every version it serves and
// keeps, per resource, those it does not prefer that support the verbs a
// backup needs.
func (l *Lookup) discoverVersions(ctx context.Context) (map[schema.GroupResource][]string, error) {
	d, err := discoverAPI(ctx, l.disc)
	if err != nil {
		return nil, fmt.Errorf("cluster lookup: discovery of every version: %w", err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[schema.GroupResource][]string{}
	d.each(func(g metav1.APIGroup, version string, ar metav1.APIResource) {
		gr := schema.GroupResource{Group: g.Name, Resource: ar.Name}
		preferred, ok := l.served[gr]
		if !ok || preferred.Version == version || !containsAll(ar.Verbs, backupVerbs) || slices.Contains(out[gr], version) {
			return
		}
		out[gr] = append(out[gr], version)
	})
	return out, nil
}

// readVersion lists one scope of a resource in one version, once.
func (l *Lookup) readVersion(ctx context.Context, s versionScope) (map[string]*unstructured.Unstructured, error) {
	l.versions.mu.Lock()
	if l.versions.reads == nil {
		l.versions.reads = map[versionScope]*versionRead{}
	}
	rd := l.versions.reads[s]
	if rd == nil {
		rd = &versionRead{}
		l.versions.reads[s] = rd
	}
	l.versions.mu.Unlock()
	rd.once.Do(func() {
		var ri dynamic.ResourceInterface = l.dyn.Resource(s.gvr)
		where := "the cluster"
		if s.namespace != "" {
			ri = l.dyn.Resource(s.gvr).Namespace(s.namespace)
			where = "namespace " + s.namespace
		}
		var objs []*unstructured.Unstructured
		err := l.listAll(ctx, ri, metav1.ListOptions{}, func() { objs = objs[:0] }, func(u *unstructured.Unstructured) error {
			objs = append(objs, u)
			return nil
		})
		if err != nil {
			rd.err = fmt.Errorf("cluster lookup: list %s in version %s in %s: %w", s.gvr.GroupResource(), s.gvr.Version, where, err)
			return
		}
		rd.objs = make(map[string]*unstructured.Unstructured, len(objs))
		for _, o := range objs {
			rd.objs[o.GetNamespace()+"/"+o.GetName()] = o
		}
	})
	return rd.objs, rd.err
}
