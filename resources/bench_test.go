package resources

import (
	"context"
	"fmt"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/rigging-dev/rigging"
)

// BenchmarkMatchesObject measures the per-item cost a host pays for every
// (item, action) pair: resolving the kind and matching a typical selector.
func BenchmarkMatchesObject(b *testing.B) {
	m := NewMapper()
	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": "web", "namespace": "shop", "labels": map[string]any{"app": "web"}},
	}}
	sels := map[string]rigging.ResourceSelector{
		"everything": {},
		"resources":  {IncludedResources: []string{"pods", "deployments.apps"}},
		"full":       {IncludedResources: []string{"deploy"}, ExcludedNamespaces: []string{"kube-*"}, LabelSelector: "app=web"},
		"glob":       {IncludedResources: []string{"*.apps"}},
	}
	for name, sel := range sels {
		x, err := CompileSelector(sel, m)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if !x.MatchesObject(obj) {
					b.Fatal("no match")
				}
			}
		})
	}
}

// BenchmarkIndexGet measures a Lookup read of the in-memory Index (what
// an action's Get costs during a backup), from one goroutine and from
// GOMAXPROCS goroutines at once (the backup's workers share one Index;
// reads take only its read lock):
//
//	go test -run '^$' -bench IndexGet -count 5 ./resources
func BenchmarkIndexGet(b *testing.B) {
	ix := NewIndex(nil)
	var objs []*unstructured.Unstructured
	for i := range 1000 {
		objs = append(objs, &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{"name": fmt.Sprintf("cm-%04d", i), "namespace": fmt.Sprintf("ns-%d", i%10)},
		}})
	}
	if err := ix.Add(objs...); err != nil {
		b.Fatal(err)
	}
	gr := schema.GroupResource{Resource: "configmaps"}
	ctx := context.Background()
	names := make([]struct{ ns, name string }, len(objs))
	for i, o := range objs {
		names[i].ns, names[i].name = o.GetNamespace(), o.GetName()
	}
	get := func(i int) {
		n := names[i%len(names)]
		if _, err := ix.Get(ctx, gr, n.ns, n.name); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			get(i)
			i++
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				get(i)
				i++
			}
		})
	})
}
