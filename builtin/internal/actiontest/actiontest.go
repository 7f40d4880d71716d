// Package actiontest loads the cluster-export manifests (a copy of
// shared/testdata/manifests/cluster-export, described in its README) for the
// tests of rigging's built-in item actions, and provides a map-backed
// rigging.Lookup over them. It is for tests only.
package actiontest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/rigging-dev/rigging"
)

// ClusterExportFiles are the files of the cluster-export scenario.
var ClusterExportFiles = []string{"cluster-scoped.yaml", "kube-system.yaml", "monitoring.json", "shop.yaml"}

// dir is this package's directory, so tests in any package find its testdata.
func dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(file)
}

// ClusterExport returns the 131 objects of the cluster-export scenario,
// decoded fresh on every call (callers may modify them).
func ClusterExport(t testing.TB) []*unstructured.Unstructured {
	t.Helper()
	var all []*unstructured.Unstructured
	for _, f := range ClusterExportFiles {
		all = append(all, LoadFile(t, filepath.Join(dir(), "testdata", "cluster-export", f))...)
	}
	return all
}

// LoadFile decodes every object in a manifest file: multi-document YAML, a
// JSON object, or a `kind: List` in either syntax (its items are returned).
func LoadFile(t testing.TB, path string) []*unstructured.Unstructured {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := Decode(data)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return objs
}

// Decode decodes every object in data (see LoadFile).
func Decode(data []byte) ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var out []*unstructured.Unstructured
	for {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, err
		}
		if len(bytes.TrimSpace(raw)) == 0 || string(raw) == "null" {
			continue
		}
		var list struct {
			Kind  string            `json:"kind"`
			Items []json.RawMessage `json:"items"`
		}
		if err := json.Unmarshal(raw, &list); err != nil {
			return nil, err
		}
		docs := []json.RawMessage{raw}
		if list.Kind == "List" {
			docs = list.Items
		}
		for _, d := range docs {
			u := &unstructured.Unstructured{}
			if err := u.UnmarshalJSON(d); err != nil {
				return nil, err
			}
			out = append(out, u)
		}
	}
}

// Find returns the object of kind in namespace ("" for cluster-scoped) named
// name, failing the test when there is none.
func Find(t testing.TB, objs []*unstructured.Unstructured, kind, namespace, name string) *unstructured.Unstructured {
	t.Helper()
	for _, o := range objs {
		if o.GetKind() == kind && o.GetNamespace() == namespace && o.GetName() == name {
			return o
		}
	}
	t.Fatalf("no %s %s/%s in the manifests", kind, namespace, name)
	return nil
}

// Lookup is a rigging.Lookup over a fixed set of objects, keyed by the
// group-resource its Resource function derives from each object's kind.
type Lookup struct {
	objs map[schema.GroupResource][]*unstructured.Unstructured
}

var _ rigging.Lookup = (*Lookup)(nil)

// NewLookup indexes objs.
func NewLookup(objs ...*unstructured.Unstructured) *Lookup {
	l := &Lookup{objs: map[schema.GroupResource][]*unstructured.Unstructured{}}
	for _, o := range objs {
		gr := Resource(o)
		l.objs[gr] = append(l.objs[gr], o)
	}
	for _, list := range l.objs {
		slices.SortFunc(list, func(a, b *unstructured.Unstructured) int {
			if c := strings.Compare(a.GetNamespace(), b.GetNamespace()); c != 0 {
				return c
			}
			return strings.Compare(a.GetName(), b.GetName())
		})
	}
	return l
}

// Get implements rigging.Lookup.
func (l *Lookup) Get(_ context.Context, gr schema.GroupResource, namespace, name string) (*unstructured.Unstructured, error) {
	for _, o := range l.objs[gr] {
		if o.GetNamespace() == namespace && o.GetName() == name {
			return o, nil
		}
	}
	return nil, fmt.Errorf("%s %s/%s: %w", gr, namespace, name, rigging.ErrNotFound)
}

// List implements rigging.Lookup.
func (l *Lookup) List(_ context.Context, gr schema.GroupResource, namespace string) ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	for _, o := range l.objs[gr] {
		if namespace == "" || o.GetNamespace() == namespace {
			out = append(out, o)
		}
	}
	return out, nil
}

// Context returns a context carrying a Lookup over objs.
func Context(objs ...*unstructured.Unstructured) context.Context {
	return rigging.WithLookup(context.Background(), NewLookup(objs...))
}

// Resource returns the group-resource of obj: its API group and the
// lower-case plural of its kind (good enough for the kinds in the test
// manifests: Endpoints, PriorityClass, Ingress, Policy…).
func Resource(obj *unstructured.Unstructured) schema.GroupResource {
	kind := strings.ToLower(obj.GetKind())
	var plural string
	switch {
	case kind == "endpoints":
		plural = kind
	case strings.HasSuffix(kind, "s"):
		plural = kind + "es"
	case strings.HasSuffix(kind, "y"):
		plural = strings.TrimSuffix(kind, "y") + "ies"
	default:
		plural = kind + "s"
	}
	return schema.GroupResource{Group: obj.GroupVersionKind().Group, Resource: plural}
}

// Clone returns a deep copy of obj, so a test can check that an action left
// its input alone.
func Clone(obj *unstructured.Unstructured) *unstructured.Unstructured {
	if obj == nil {
		return nil
	}
	return obj.DeepCopy()
}
