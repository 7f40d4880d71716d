package cluster

import (
	"context"
	"fmt"
	"strings"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/rest"

	"github.com/rigging-dev/rigging/resources"
)

// The Lookup and the Applier ask the API server's discovery paths (/api,
// /apis, /api/v1, /apis/<group>/<version>) themselves, with a plain REST
// client decoding the meta/v1 discovery types, instead of through
// client-go's discovery package: that package registers every built-in API
// group (k8s.io/client-go/kubernetes/scheme) and the OpenAPI clients, 147
// packages and about half of the size of a plugin binary that links this
// package (docs/DEPENDENCIES.md). The answers are those of client-go's
// unaggregated discovery (ServerPreferredResources and
// ServerGroupsAndResources).

// discoveryBurst is the client-side burst of discovery requests when the
// rest.Config sets none: one request per group version, all at once, as
// client-go's discovery client allows them.
const discoveryBurst = 300

// discoveryCodecs decode the unversioned meta/v1 types the discovery paths
// answer with (APIVersions, APIGroupList, APIResourceList, Status).
var discoveryCodecs = func() serializer.CodecFactory {
	s := runtime.NewScheme()
	metav1.AddToGroupVersion(s, schema.GroupVersion{Version: "v1"})
	return serializer.NewCodecFactory(s)
}()

// newDiscoveryClient returns a REST client for the API server of cfg's
// paths outside any group version (discovery, /version), with client-go's
// discovery defaults: JSON, a timeout of discoveryTimeout and a burst of
// discoveryBurst unless cfg sets them.
func newDiscoveryClient(cfg *rest.Config) (*rest.RESTClient, error) {
	c := rest.CopyConfig(cfg)
	if c.Timeout == 0 {
		c.Timeout = discoveryTimeout
	}
	if c.Burst == 0 {
		c.Burst = discoveryBurst
	}
	return newRawClient(c)
}

// newRawClient returns a REST client of cfg for paths given whole, which
// answers JSON and decodes the API server's Status errors; unlike
// newDiscoveryClient it keeps cfg's timeout and limits.
func newRawClient(cfg *rest.Config) (*rest.RESTClient, error) {
	c := rest.CopyConfig(cfg)
	c.APIPath = ""
	c.GroupVersion = nil
	c.ContentType = runtime.ContentTypeJSON
	c.AcceptContentTypes = runtime.ContentTypeJSON
	c.NegotiatedSerializer = discoveryCodecs.WithoutConversion()
	if c.UserAgent == "" {
		c.UserAgent = rest.DefaultKubernetesUserAgent()
	}
	return rest.UnversionedRESTClientFor(c)
}

// apiDiscovery is what the discovery paths answered: the groups in the
// server's order (the core group first), the resources of each group
// version that answered, and why the others did not.
type apiDiscovery struct {
	groups []metav1.APIGroup
	lists  map[schema.GroupVersion]*metav1.APIResourceList
	failed map[schema.GroupVersion]error
}

// discoverAPI reads the groups (/api, /apis), then the resources of every
// group version concurrently. A group version that does not answer is in
// failed; a failure of /api (other than 404, as an aggregated API server
// answers) or of /apis, or the end of ctx, is an error.
func discoverAPI(ctx context.Context, c rest.Interface) (apiDiscovery, error) {
	var core metav1.APIVersions
	if err := c.Get().AbsPath("/api").Do(ctx).Into(&core); err != nil && !apierrors.IsNotFound(err) {
		return apiDiscovery{}, fmt.Errorf("GET /api: %w", err)
	}
	var list metav1.APIGroupList
	if err := c.Get().AbsPath("/apis").Do(ctx).Into(&list); err != nil {
		return apiDiscovery{}, fmt.Errorf("GET /apis: %w", err)
	}
	var d apiDiscovery
	if len(core.Versions) > 0 {
		g := metav1.APIGroup{}
		for _, v := range core.Versions {
			g.Versions = append(g.Versions, metav1.GroupVersionForDiscovery{GroupVersion: v, Version: v})
		}
		g.PreferredVersion = g.Versions[0]
		d.groups = append(d.groups, g)
	}
	d.groups = append(d.groups, list.Groups...)
	d.lists = map[schema.GroupVersion]*metav1.APIResourceList{}
	d.failed = map[schema.GroupVersion]error{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, g := range d.groups {
		for _, v := range g.Versions {
			gv := schema.GroupVersion{Group: g.Name, Version: v.Version}
			wg.Go(func() {
				rl, err := groupVersionResources(ctx, c, gv)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					d.failed[gv] = err
					return
				}
				d.lists[gv] = rl
			})
		}
	}
	wg.Wait()
	// A group version that failed because the question ended did not
	// fail: no answer, rather than a group marked unavailable.
	if err := ctx.Err(); err != nil {
		return apiDiscovery{}, err
	}
	return d, nil
}

// groupVersionResources reads the resources of one group version; the
// core group's v1 not found is no resources, as client-go tolerates it.
func groupVersionResources(ctx context.Context, c rest.Interface, gv schema.GroupVersion) (*metav1.APIResourceList, error) {
	path := "/apis/" + gv.String()
	if gv.Group == "" {
		path = "/api/" + gv.Version
	}
	rl := &metav1.APIResourceList{}
	err := c.Get().AbsPath(path).Do(ctx).Into(rl)
	if gv.Group == "" && gv.Version == "v1" && apierrors.IsNotFound(err) {
		return &metav1.APIResourceList{GroupVersion: gv.String()}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", path, err)
	}
	return rl, nil
}

// preferred returns each resource (no subresources) in the version the
// server prefers for its group, or, where that version does not serve it,
// in the first version of the group that does: the choice of client-go's
// ServerPreferredResources.
func (d apiDiscovery) preferred() map[schema.GroupResource]servedResource {
	served := map[schema.GroupResource]servedResource{}
	d.each(func(g metav1.APIGroup, version string, ar metav1.APIResource) {
		gr := schema.GroupResource{Group: g.Name, Resource: ar.Name}
		if _, ok := served[gr]; ok && version != g.PreferredVersion.Version {
			return
		}
		served[gr] = servedResource{
			Resource: resources.Resource{
				Group: g.Name, Version: version, Kind: ar.Kind,
				Plural: ar.Name, Singular: ar.SingularName, ShortNames: ar.ShortNames,
				Namespaced: ar.Namespaced,
			},
			verbs: ar.Verbs,
		}
	})
	return served
}

// each calls fn for every resource (no subresources) of every group
// version that answered, in the server's order of groups and versions.
func (d apiDiscovery) each(fn func(g metav1.APIGroup, version string, ar metav1.APIResource)) {
	for _, g := range d.groups {
		for _, v := range g.Versions {
			rl, ok := d.lists[schema.GroupVersion{Group: g.Name, Version: v.Version}]
			if !ok {
				continue
			}
			for _, ar := range rl.APIResources {
				if strings.Contains(ar.Name, "/") {
					continue
				}
				fn(g, v.Version, ar)
			}
		}
	}
}
