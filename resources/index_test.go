package resources

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/rigging-dev/rigging"
)

// testIndex is what the tests ask of Index and JSONIndex alike: the same
// answers.
type testIndex interface {
	IndexedLookup
	Add(objs ...*unstructured.Unstructured) error
	Len() int
}

// forEachIndex runs test on an Index and on a JSONIndex, in memory and
// spooled.
func forEachIndex(t *testing.T, test func(t *testing.T, newIndex func() testIndex)) {
	for _, k := range []struct {
		name string
		new  func() testIndex
	}{
		{"Index", func() testIndex { return NewIndex(nil) }},
		{"JSONIndex", func() testIndex { return NewJSONIndex(nil, JSONIndexOptions{}) }},
		{"JSONIndexSpooled", func() testIndex {
			sp, err := NewSpool(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { sp.Close() })
			return NewJSONIndex(nil, JSONIndexOptions{Spool: sp})
		}},
	} {
		t.Run(k.name, func(t *testing.T) { test(t, k.new) })
	}
}

func clusterIndex(t *testing.T, newIndex func() testIndex) testIndex {
	t.Helper()
	ix := newIndex()
	objs := objectsIn(loadManifests(t, manifestsDir), "cluster-export/")
	// Shuffle deterministically so that sorting is the index's doing, and
	// put the custom resources before their CRD.
	slices.Reverse(objs)
	if err := ix.Add(objs...); err != nil {
		t.Fatal(err)
	}
	return ix
}

var (
	grPods     = schema.GroupResource{Resource: "pods"}
	grCRB      = schema.GroupResource{Group: "rbac.authorization.k8s.io", Resource: "clusterrolebindings"}
	grFlags    = schema.GroupResource{Group: "shop.example.com", Resource: "featureflags"}
	grPVC      = schema.GroupResource{Resource: "persistentvolumeclaims"}
	grNS       = schema.GroupResource{Resource: "namespaces"}
	grSnapshot = schema.GroupResource{Group: "snapshot.storage.k8s.io", Resource: "volumesnapshots"}
)

func keysOf(objs []*unstructured.Unstructured) []string {
	out := make([]string, len(objs))
	for i, o := range objs {
		out[i] = o.GetNamespace() + "/" + o.GetName()
	}
	return out
}

func TestIndexClusterExport(t *testing.T) { forEachIndex(t, testIndexClusterExport) }

func testIndexClusterExport(t *testing.T, newIndex func() testIndex) {
	ix := clusterIndex(t, newIndex)
	ctx := context.Background()
	if got := ix.Len(); got != 131 {
		t.Errorf("Len() = %d, want 131", got)
	}
	tests := []struct {
		gr        schema.GroupResource
		namespace string
		want      []string
	}{
		{grPVC, "", []string{"monitoring/grafana-storage", "monitoring/prometheus-data-prometheus-0", "shop/data-postgres-0", "shop/redis-data", "shop/shop-assets"}},
		{grPVC, "shop", []string{"shop/data-postgres-0", "shop/redis-data", "shop/shop-assets"}},
		{grPVC, "nope", []string{}},
		{grFlags, "shop", []string{"shop/checkout-v2", "shop/dark-mode", "shop/recommendations"}},
		{grNS, "", []string{"/kube-system", "/monitoring", "/shop"}},
		{grSnapshot, "", []string{"shop/data-postgres-0-snap-20240313"}},
		{schema.GroupResource{Group: "example.com", Resource: "widgets"}, "", []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.gr.String()+"/"+tt.namespace, func(t *testing.T) {
			got, err := ix.List(ctx, tt.gr, tt.namespace)
			if err != nil {
				t.Fatal(err)
			}
			if n := keysOf(got); !slices.Equal(n, tt.want) {
				t.Errorf("List = %v, want %v", n, tt.want)
			}
		})
	}

	// Every pod listed is sorted by namespace, then name.
	pods, _ := ix.List(ctx, grPods, "")
	if len(pods) != 15 || !slices.IsSortedFunc(pods, func(a, b *unstructured.Unstructured) int {
		return strings.Compare(a.GetNamespace()+"\x00"+a.GetName(), b.GetNamespace()+"\x00"+b.GetName())
	}) {
		t.Errorf("pods: %v", keysOf(pods))
	}

	// The ClusterRoleBindings that name ServiceAccount shop/storefront.
	crbs, _ := ix.List(ctx, grCRB, "")
	var bound []string
	for _, crb := range crbs {
		subjects, _, _ := unstructured.NestedSlice(crb.Object, "subjects")
		for _, s := range subjects {
			s := s.(map[string]any)
			if s["kind"] == "ServiceAccount" && s["namespace"] == "shop" && s["name"] == "storefront" {
				bound = append(bound, crb.GetName())
			}
		}
	}
	if !slices.Equal(bound, []string{"storefront-node-reader"}) {
		t.Errorf("ClusterRoleBindings of shop/storefront = %v", bound)
	}

	got, err := ix.Get(ctx, grPVC, "shop", "redis-data")
	if err != nil || got.GetUID() != "fdaa0c8d-a004-43bb-8405-675f02589234" {
		t.Errorf("Get(shop/redis-data) = %v, %v", got, err)
	}
	if _, err := ix.Get(ctx, schema.GroupResource{Resource: "persistentvolumes"}, "", "shop-assets-nfs"); err != nil {
		t.Errorf("Get(cluster-scoped PV): %v", err)
	}
	_, err = ix.Get(ctx, grPVC, "monitoring", "redis-data")
	if !errors.Is(err, rigging.ErrNotFound) || !strings.Contains(err.Error(), "persistentvolumeclaims/monitoring/redis-data") {
		t.Errorf("Get(missing) err = %v", err)
	}
}

func TestIndexAdd(t *testing.T) { forEachIndex(t, testIndexAdd) }

func testIndexAdd(t *testing.T, newIndex func() testIndex) {
	ctx := context.Background()
	ix := newIndex()
	cm := func(ns, name, v string) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{"name": name, "namespace": ns}, "data": map[string]any{"v": v}}}
	}
	pv := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "PersistentVolume",
		"metadata": map[string]any{"name": "pv1", "namespace": "bogus"}}}
	widget := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "example.com/v1", "kind": "Widget",
		"metadata": map[string]any{"name": "w", "namespace": "a"}}}
	noName := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Secret"}}

	err := ix.Add(cm("b", "x", "1"), cm("a", "y", "1"), widget, nil, noName, pv, cm("a", "x", "1"), cm("b", "x", "2"))
	if !errors.Is(err, ErrUnknownKind) || !strings.Contains(err.Error(), `"Widget"`) || !strings.Contains(err.Error(), "object 3 is nil") || !strings.Contains(err.Error(), `object 4 (apiVersion "v1" kind "Secret") has no metadata.name`) {
		t.Errorf("Add err = %v", err)
	}
	list, _ := ix.List(ctx, schema.GroupResource{Resource: "configmaps"}, "")
	if n := keysOf(list); !slices.Equal(n, []string{"a/x", "a/y", "b/x"}) {
		t.Errorf("List = %v", n)
	}
	if v, _, _ := unstructured.NestedString(list[2].Object, "data", "v"); v != "2" {
		t.Errorf("duplicate did not replace: v = %q", v)
	}
	if _, err := ix.Get(ctx, schema.GroupResource{Resource: "persistentvolumes"}, "", "pv1"); err != nil {
		t.Errorf("cluster-scoped object with a namespace: %v", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := ix.Get(cancelled, grPods, "a", "b"); !errors.Is(err, context.Canceled) {
		t.Errorf("Get with cancelled ctx: %v", err)
	}
	if _, err := ix.List(cancelled, grPods, ""); !errors.Is(err, context.Canceled) {
		t.Errorf("List with cancelled ctx: %v", err)
	}
}

// TestIndexConcurrent reads while another goroutine adds (run with -race).
func TestIndexConcurrent(t *testing.T) { forEachIndex(t, testIndexConcurrent) }

func testIndexConcurrent(t *testing.T, newIndex func() testIndex) {
	ix := clusterIndex(t, newIndex)
	ctx := context.Background()
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range 200 {
			obj := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
				"metadata": map[string]any{"name": fmt.Sprintf("cm-%03d", i), "namespace": "shop"}}}
			if err := ix.Add(obj); err != nil {
				t.Error(err)
			}
		}
	})
	for range 4 {
		wg.Go(func() {
			for range 200 {
				if _, err := ix.Get(ctx, grPVC, "shop", "redis-data"); err != nil {
					t.Error(err)
				}
				l, err := ix.List(ctx, schema.GroupResource{Resource: "configmaps"}, "shop")
				if err != nil || !slices.IsSortedFunc(l, func(a, b *unstructured.Unstructured) int { return strings.Compare(a.GetName(), b.GetName()) }) {
					t.Errorf("List: %v sorted=false", err)
				}
			}
		})
	}
	wg.Wait()
	l, _ := ix.List(ctx, schema.GroupResource{Resource: "configmaps"}, "shop")
	if len(l) < 200 {
		t.Errorf("after concurrent adds: %d configmaps in shop", len(l))
	}
}
