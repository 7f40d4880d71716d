package cluster_test

import (
	"cmp"
	"context"
	"errors"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"

	"github.com/rigging-dev/rigging/cluster"
	"github.com/rigging-dev/rigging/internal/testcluster"
	"github.com/rigging-dev/rigging/resources"
)

// TestBackupResources: Velero's choice of resources: preferred versions,
// only what supports list, create, get and delete, no subresources, and
// events once (as the core group's, not events.k8s.io's).
func TestBackupResources(t *testing.T) {
	c := testcluster.Get(t)
	l, err := cluster.NewLookup(c.Config(), cluster.LookupOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rs, err := l.BackupResources(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	byGR := map[schema.GroupResource]resources.Resource{}
	for _, r := range rs {
		byGR[r.GroupResource()] = r
	}
	tests := []struct {
		gr      schema.GroupResource
		version string // "" for a resource that must be left out
	}{
		{grPods, "v1"},
		{grFeatures, "v1"},
		{schema.GroupResource{Group: "policy", Resource: "poddisruptionbudgets"}, "v1"},
		{schema.GroupResource{Group: "batch", Resource: "cronjobs"}, "v1"},
		{schema.GroupResource{Group: "snapshot.storage.k8s.io", Resource: "volumesnapshots"}, "v1"},
		{schema.GroupResource{Resource: "events"}, "v1"},
		{schema.GroupResource{Group: "events.k8s.io", Resource: "events"}, ""}, // cohabits with events, backed up once
		{schema.GroupResource{Resource: "pods/status"}, ""},
		{schema.GroupResource{Resource: "bindings"}, ""},                                          // create only
		{schema.GroupResource{Resource: "componentstatuses"}, ""},                                 // no create or delete
		{schema.GroupResource{Group: "authentication.k8s.io", Resource: "tokenreviews"}, ""},      // create only
		{schema.GroupResource{Group: "authorization.k8s.io", Resource: "selfsubjectreviews"}, ""}, // not served there
	}
	for _, tt := range tests {
		r, ok := byGR[tt.gr]
		if ok != (tt.version != "") || (ok && r.Version != tt.version) {
			t.Errorf("%s: in the list %v (version %q), want version %q", tt.gr, ok, r.Version, tt.version)
		}
	}
	if !slices.IsSortedFunc(rs, func(a, b resources.Resource) int {
		return cmp.Or(cmp.Compare(a.Group, b.Group), cmp.Compare(a.Plural, b.Plural))
	}) {
		t.Error("not sorted by group, then plural")
	}
}

// TestCollect: the objects of the included namespaces and every
// cluster-scoped object; a resource the credentials may not list is a
// warning naming it and the others go on.
func TestCollect(t *testing.T) {
	c := testcluster.Get(t)
	ctx := context.Background()
	l, err := cluster.NewLookup(c.Config(), cluster.LookupOptions{PageSize: 5})
	if err != nil {
		t.Fatal(err)
	}
	objs, warnings, err := l.Collect(ctx, cluster.CollectOptions{Namespaces: []string{"shop"}})
	if err != nil || len(warnings) > 0 {
		t.Fatalf("Collect: %v %v", warnings, err)
	}
	namespaces := map[string]int{}
	for _, o := range objs {
		namespaces[o.GetNamespace()]++
	}
	// cluster-export has 50 objects in namespace shop, 2 of them Events,
	// read once (as events, not again as events.events.k8s.io).
	if namespaces["shop"] != 50 || namespaces["monitoring"] != 0 || namespaces[""] == 0 {
		t.Errorf("objects per namespace: %v", namespaces)
	}
	// The objects came through the Lookup: asking it again sends nothing.
	pods, err := l.List(ctx, grPods, "shop")
	if err != nil || len(pods) != 6 {
		t.Errorf("pods of shop: %d, %v", len(pods), err)
	}

	// Allowed to list nothing but discovery: every resource is a warning.
	cfg := c.Config()
	cfg.Impersonate = rest.ImpersonationConfig{UserName: "nobody"}
	nobody, err := cluster.NewLookup(cfg, cluster.LookupOptions{})
	if err != nil {
		t.Fatal(err)
	}
	objs, warnings, err = nobody.Collect(ctx, cluster.CollectOptions{Namespaces: []string{"shop", "monitoring"}})
	if err != nil || len(objs) != 0 || len(warnings) == 0 {
		t.Fatalf("Collect as nobody: %d objects, %d warnings, %v", len(objs), len(warnings), err)
	}
	var w cluster.Warning
	if !errors.As(warnings[0], &w) || !apierrors.IsForbidden(warnings[0]) {
		t.Errorf("warning %v is not a forbidden cluster.Warning", warnings[0])
	}
	found := false
	for _, w := range warnings {
		if w.Resource.GroupResource() == grPods && w.Namespace == "monitoring" {
			found = true
		}
	}
	if !found {
		t.Errorf("no warning names pods in monitoring: %v", warnings)
	}
}

// collectNamespaces are the namespaces of cluster-export the scope tests
// back up.
var collectNamespaces = []string{"kube-system", "monitoring", "shop"}

// namespacedPlurals returns the namespaced resources a backup reads, by
// plural.
func namespacedPlurals(t *testing.T, l *cluster.Lookup) map[string]bool {
	t.Helper()
	rs, err := l.BackupResources(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, r := range rs {
		if r.Namespaced {
			out[r.Plural] = true
		}
	}
	return out
}

// TestCollectListScopes: listing each namespaced resource once for all
// namespaces hands over the same objects, byte for byte and in the same
// order, as listing it once per included namespace, with one list per
// resource instead of one per resource and namespace; the Lookup's count
// of its requests is what reached the API server.
func TestCollectListScopes(t *testing.T) {
	c := testcluster.Get(t)
	ctx := context.Background()
	collect := func(scope cluster.ListScope) ([]resources.Encoded, cluster.RequestCounts, int64) {
		cfg, rc := countingConfig(c)
		l, err := cluster.NewLookup(cfg, cluster.LookupOptions{})
		if err != nil {
			t.Fatal(err)
		}
		objs, warnings, err := l.CollectEncoded(ctx, cluster.CollectOptions{Namespaces: collectNamespaces, Lists: scope})
		if err != nil || len(warnings) > 0 {
			t.Fatalf("CollectEncoded (scope %d): %v %v", scope, warnings, err)
		}
		return objs, l.Requests(), rc.total.Load()
	}
	each, eachReqs, eachSeen := collect(cluster.ListEachNamespace)
	all, allReqs, allSeen := collect(cluster.ListAllNamespaces)
	if len(each) == 0 || len(each) != len(all) {
		t.Fatalf("%d objects listed per namespace, %d for all namespaces", len(each), len(all))
	}
	for i := range each {
		if !reflect.DeepEqual(each[i], all[i]) {
			t.Fatalf("object %d: per namespace %s %s/%s, for all namespaces %s %s/%s (or their JSON differs)", i,
				each[i].Kind, each[i].Namespace, each[i].Name, all[i].Kind, all[i].Namespace, all[i].Name)
		}
	}
	if int64(eachReqs.Total()) != eachSeen || int64(allReqs.Total()) != allSeen {
		t.Errorf("Requests counted %d and %d, the API server saw %d and %d", eachReqs.Total(), allReqs.Total(), eachSeen, allSeen)
	}
	pods := cluster.RequestKind{Verb: "list", Resource: grPods}
	if eachReqs[pods] != len(collectNamespaces) || allReqs[pods] != 1 {
		t.Errorf("pods listed %d times per namespace, %d times for all, want %d and 1", eachReqs[pods], allReqs[pods], len(collectNamespaces))
	}
	if saved := eachReqs.ByVerb()["list"] - allReqs.ByVerb()["list"]; saved <= 0 {
		t.Errorf("lists per namespace %d, for all namespaces %d", eachReqs.ByVerb()["list"], allReqs.ByVerb()["list"])
	}
}

// TestCollectAllNamespacesRefused: where the credentials may not list a
// resource in all namespaces (403), Collect lists it in each included
// namespace instead: the same objects, no warning.
func TestCollectAllNamespacesRefused(t *testing.T) {
	c := testcluster.Get(t)
	ctx := context.Background()
	ref, err := cluster.NewLookup(c.Config(), cluster.LookupOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want, warnings, err := ref.CollectEncoded(ctx, cluster.CollectOptions{Namespaces: collectNamespaces, Lists: cluster.ListEachNamespace})
	if err != nil || len(warnings) > 0 {
		t.Fatalf("reference: %v %v", warnings, err)
	}
	namespaced := namespacedPlurals(t, ref)
	var refused atomic.Int64
	cfg, _ := c.FaultProxy(t, func(r *http.Request, _ int) (int, http.Header, string, bool) {
		segs := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
		wide := r.Method == http.MethodGet && !slices.Contains(segs, "namespaces") && namespaced[segs[len(segs)-1]] && len(segs) >= 3
		if wide {
			refused.Add(1)
		}
		return 403, nil, testcluster.Status(403, "Forbidden", "cannot list in all namespaces"), wide
	})
	l, err := cluster.NewLookup(cfg, cluster.LookupOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, warnings, err := l.CollectEncoded(ctx, cluster.CollectOptions{Namespaces: collectNamespaces, Lists: cluster.ListAllNamespaces})
	if err != nil || len(warnings) > 0 {
		t.Fatalf("CollectEncoded: %v %v", warnings, err)
	}
	if refused.Load() < int64(len(namespaced)) {
		t.Errorf("%d lists of all namespaces refused, want one per namespaced resource (%d)", refused.Load(), len(namespaced))
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("after refusals %d objects, per namespace %d (or they differ)", len(got), len(want))
	}
	if n := l.Requests()[cluster.RequestKind{Verb: "list", Resource: grPods}]; n != 1+len(collectNamespaces) {
		t.Errorf("pods listed %d times, want one refused list of all namespaces then one per namespace (%d)", n, 1+len(collectNamespaces))
	}
}
