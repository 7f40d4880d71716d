// Package testmanifest loads Kubernetes manifests for the built-in actions'
// tests and serves them through a minimal rigging.Lookup. It is for tests
// only: the resource names it derives from kinds follow English plurals
// ("StorageClass" → "storageclasses"), which is right for every kind the
// tests use but is no REST mapping.
package testmanifest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/rigging-dev/rigging"
)

// Load reads every object of a manifest file: multi-document YAML, a single
// JSON object, or a `kind: List` in either format (its items are returned).
// Empty documents are skipped. Any error fails the test.
func Load(t testing.TB, path string) []*unstructured.Unstructured {
	t.Helper()
	objs, err := load(path)
	if err != nil {
		t.Fatalf("load %s: %v", path, err)
	}
	return objs
}

func load(path string) ([]*unstructured.Unstructured, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	dec := utilyaml.NewYAMLOrJSONDecoder(f, 4096)
	var out []*unstructured.Unstructured
	for {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, err
		}
		if len(m) == 0 {
			continue
		}
		u := &unstructured.Unstructured{Object: m}
		if u.IsList() {
			items, _, err := unstructured.NestedSlice(m, "items")
			if err != nil {
				return nil, err
			}
			for i, it := range items {
				im, ok := it.(map[string]any)
				if !ok {
					return nil, fmt.Errorf("items[%d] is not an object", i)
				}
				obj, err := normalize(im)
				if err != nil {
					return nil, fmt.Errorf("items[%d]: %w", i, err)
				}
				out = append(out, obj)
			}
			continue
		}
		obj, err := normalize(m)
		if err != nil {
			return nil, err
		}
		out = append(out, obj)
	}
}

// normalize re-decodes m as a host does (unstructured's JSON scheme), so
// whole numbers are int64 rather than float64.
func normalize(m map[string]any) (*unstructured.Unstructured, error) {
	data, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(data); err != nil {
		return nil, err
	}
	return u, nil
}

// FromYAML decodes one YAML or JSON object the way Load does, failing the
// test on error.
func FromYAML(t testing.TB, doc string) *unstructured.Unstructured {
	t.Helper()
	var m map[string]any
	if err := utilyaml.Unmarshal([]byte(doc), &m); err != nil {
		t.Fatalf("decode %q: %v", doc, err)
	}
	u, err := normalize(m)
	if err != nil {
		t.Fatalf("decode %q: %v", doc, err)
	}
	return u
}

// Find returns a deep copy of the object of kind, namespace and name among
// objs, failing the test when there is none.
func Find(t testing.TB, objs []*unstructured.Unstructured, kind, namespace, name string) *unstructured.Unstructured {
	t.Helper()
	for _, o := range objs {
		if o.GetKind() == kind && o.GetNamespace() == namespace && o.GetName() == name {
			return o.DeepCopy()
		}
	}
	t.Fatalf("no %s %s/%s among %d objects", kind, namespace, name, len(objs))
	return nil
}

// LoadOne is Load followed by Find.
func LoadOne(t testing.TB, path, kind, namespace, name string) *unstructured.Unstructured {
	t.Helper()
	return Find(t, Load(t, path), kind, namespace, name)
}

// Resource returns the group and plural resource of obj, derived from its
// apiVersion and kind.
func Resource(obj *unstructured.Unstructured) schema.GroupResource {
	gvk := obj.GroupVersionKind()
	return schema.GroupResource{Group: gvk.Group, Resource: plural(gvk.Kind)}
}

func plural(kind string) string {
	k := strings.ToLower(kind)
	switch {
	case strings.HasSuffix(k, "s"):
		return k + "es"
	case strings.HasSuffix(k, "y"):
		return strings.TrimSuffix(k, "y") + "ies"
	}
	return k + "s"
}

// Lookup is a rigging.Lookup over a fixed set of objects.
type Lookup struct {
	objs []*unstructured.Unstructured
}

// NewLookup returns a Lookup serving deep copies of objs.
func NewLookup(objs ...*unstructured.Unstructured) *Lookup {
	l := &Lookup{}
	for _, o := range objs {
		l.objs = append(l.objs, o.DeepCopy())
	}
	slices.SortFunc(l.objs, func(a, b *unstructured.Unstructured) int {
		if c := strings.Compare(a.GetNamespace(), b.GetNamespace()); c != 0 {
			return c
		}
		return strings.Compare(a.GetName(), b.GetName())
	})
	return l
}

// Context returns ctx carrying l.
func (l *Lookup) Context(ctx context.Context) context.Context {
	return rigging.WithLookup(ctx, l)
}

// Get implements rigging.Lookup.
func (l *Lookup) Get(_ context.Context, gr schema.GroupResource, namespace, name string) (*unstructured.Unstructured, error) {
	for _, o := range l.objs {
		if Resource(o) == gr && o.GetNamespace() == namespace && o.GetName() == name {
			return o, nil
		}
	}
	return nil, fmt.Errorf("%s: %w", rigging.ResourceIdentifier{GroupResource: gr, Namespace: namespace, Name: name}, rigging.ErrNotFound)
}

// List implements rigging.Lookup.
func (l *Lookup) List(_ context.Context, gr schema.GroupResource, namespace string) ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	for _, o := range l.objs {
		if Resource(o) == gr && (namespace == "" || o.GetNamespace() == namespace) {
			out = append(out, o)
		}
	}
	return out, nil
}

var _ rigging.Lookup = (*Lookup)(nil)
