package cluster_test

import (
	"context"
	"errors"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/cluster"
	"github.com/rigging-dev/rigging/internal/testcluster"
)

// TestFetch: Fetch answers from the API server as it is now: an object
// created after the Lookup read its namespace, which Get does not see; an
// object deleted since is ErrNotFound, as are a resource nobody serves and
// a namespace given for a cluster-scoped resource.
func TestFetch(t *testing.T) {
	c := testcluster.Get(t)
	ctx := context.Background()
	l, err := cluster.NewLookup(c.Config(), cluster.LookupOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cms := schema.GroupResource{Resource: "configmaps"}
	if _, err := l.List(ctx, cms, "default"); err != nil {
		t.Fatal(err)
	}
	core, err := kubernetes.NewForConfig(c.Config())
	if err != nil {
		t.Fatal(err)
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "fetched-later", Namespace: "default"}, Data: map[string]string{"k": "v"}}
	if _, err := core.CoreV1().ConfigMaps("default").Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Get(ctx, cms, "default", "fetched-later"); !errors.Is(err, rigging.ErrNotFound) {
		t.Fatalf("Get of an object created after the read = %v, want ErrNotFound (answered from what was read)", err)
	}
	got, err := l.Fetch(ctx, cms, "default", "fetched-later")
	if err != nil || got.GetName() != "fetched-later" || got.GetKind() != "ConfigMap" || got.Object["data"].(map[string]any)["k"] != "v" {
		t.Fatalf("Fetch = %v, %v", got, err)
	}
	if err := core.CoreV1().ConfigMaps("default").Delete(ctx, "fetched-later", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name          string
		gr            schema.GroupResource
		namespace, id string
	}{
		{"deleted since", cms, "default", "fetched-later"},
		{"resource nobody serves", schema.GroupResource{Group: "nothing.example.com", Resource: "things"}, "default", "x"},
		{"namespace for a cluster-scoped resource", schema.GroupResource{Resource: "namespaces"}, "default", "default"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := l.Fetch(ctx, tt.gr, tt.namespace, tt.id); !errors.Is(err, rigging.ErrNotFound) {
				t.Errorf("Fetch = %v, want ErrNotFound", err)
			}
		})
	}
}
