package cluster_test

import (
	"cmp"
	"context"
	"errors"
	"slices"
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
