package resources

import (
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

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
