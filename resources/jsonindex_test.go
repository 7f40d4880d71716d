package resources

import (
	"context"
	"errors"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// TestJSONIndexEncoded: objects added encoded are found by Ref without
// decoding, decode to what was added, keep their JSON as it was (with the
// default namespace put in a namespaced object that had none, and counted),
// and are refused with Add's errors when they cannot be indexed.
func TestJSONIndexEncoded(t *testing.T) {
	ctx := context.Background()
	cm := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "cm"}, "data": map[string]any{"k": "v"}}}
	pv := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "PersistentVolume",
		"metadata": map[string]any{"name": "pv1"}}}
	widget := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "example.com/v1", "kind": "Widget",
		"metadata": map[string]any{"name": "w", "namespace": "a"}}}
	var enc []Encoded
	for _, o := range []*unstructured.Unstructured{cm, pv, widget} {
		e, err := Encode(o)
		if err != nil {
			t.Fatal(err)
		}
		enc = append(enc, e)
	}
	ix := NewJSONIndex(nil, JSONIndexOptions{DefaultNamespace: "default"})
	err := ix.AddEncoded(enc...)
	if !errors.Is(err, ErrUnknownKind) || ix.Len() != 2 {
		t.Fatalf("AddEncoded: err %v, %d objects; want the Widget refused, 2 indexed", err, ix.Len())
	}
	if n := ix.Defaulted(); n != 1 {
		t.Errorf("Defaulted() = %d, want 1 (the ConfigMap)", n)
	}
	for _, tc := range []struct {
		gr         schema.GroupResource
		ns, name   string
		wantJSON   string
		wantAbsent bool
	}{
		{gr: schema.GroupResource{Resource: "configmaps"}, ns: "default", name: "cm",
			wantJSON: `{"apiVersion":"v1","data":{"k":"v"},"kind":"ConfigMap","metadata":{"name":"cm","namespace":"default"}}`},
		{gr: schema.GroupResource{Resource: "persistentvolumes"}, name: "pv1",
			wantJSON: `{"apiVersion":"v1","kind":"PersistentVolume","metadata":{"name":"pv1"}}`},
		{gr: schema.GroupResource{Resource: "configmaps"}, name: "cm", wantAbsent: true},
	} {
		ref, ok := ix.Ref(tc.gr, tc.ns, tc.name)
		if ok == tc.wantAbsent {
			t.Errorf("Ref(%s %s/%s) found %v", tc.gr, tc.ns, tc.name, ok)
			continue
		}
		if tc.wantAbsent {
			continue
		}
		if string(ref.JSON()) != tc.wantJSON || ref.Size() != len(tc.wantJSON) {
			t.Errorf("JSON of %s = %s, want %s", tc.name, ref.JSON(), tc.wantJSON)
		}
		obj, err := ix.Object(ref)
		if err != nil || obj.GetName() != tc.name || obj.GetNamespace() != tc.ns {
			t.Errorf("Object(%s) = %v, %v", tc.name, obj, err)
		}
		got, err := ix.Get(ctx, tc.gr, tc.ns, tc.name)
		if err != nil || got != obj {
			t.Errorf("Get(%s) did not return the cached object: %v", tc.name, err)
		}
	}
	if refs := ix.Refs(schema.GroupResource{Resource: "configmaps"}, ""); len(refs) != 1 || refs[0].Namespace != "default" {
		t.Errorf("Refs = %+v", refs)
	}
	// A List asked again is answered from the cache: the same objects.
	l1, _ := ix.List(ctx, schema.GroupResource{Resource: "configmaps"}, "default")
	l2, _ := ix.List(ctx, schema.GroupResource{Resource: "configmaps"}, "default")
	if len(l1) != 1 || len(l2) != 1 || l1[0] != l2[0] {
		t.Errorf("List again: %v, %v; want the same object", l1, l2)
	}
	// The caller's object is not kept: changing it changes nothing.
	cm.SetName("changed")
	if _, ok := ix.Ref(schema.GroupResource{Resource: "configmaps"}, "default", "cm"); !ok {
		t.Error("the index depends on the caller's object")
	}
}
