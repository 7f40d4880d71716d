package backup_test

import (
	"context"
	"reflect"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/backup"
)

// TestSharedInputReturnedAfterCopy: an action that got a copy but hands
// back the shared input object (the one the Lookup serves for the item)
// does not make that object private: the next action that may modify its
// item, and the pipeline's own strip of the must-include annotation, work
// on a copy, and the input is never modified.
func TestSharedInputReturnedAfterCopy(t *testing.T) {
	cms := rigging.ResourceSelector{IncludedResources: []string{"configmaps"}}
	for _, tc := range []struct {
		name        string
		mustInclude bool
		second      bool
	}{
		{"next action modifies its item", false, true},
		{"must-include annotation stripped", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			input := obj("v1", "ConfigMap", "app", "cm", map[string]string{"app": "x"})
			if tc.mustInclude {
				input.SetAnnotations(map[string]string{rigging.AnnotationBackupMustIncludeAdditionalItems: "true"})
			}
			ns := obj("v1", "Namespace", "", "app", nil)
			var sh sharedItem
			first := &fakeAction{name: "a.example.com/first", sel: cms,
				execCtx: func(ctx context.Context, item *unstructured.Unstructured) (*unstructured.Unstructured, []rigging.ResourceIdentifier, string, []rigging.ResourceIdentifier, error) {
					s := sh.get(t, ctx, item)
					if item == s {
						t.Error("an action that may modify its item got the shared input")
					}
					return s, nil, "", nil, nil // the Lookup's object for the item
				}}
			acts := plugins{first}
			if tc.second {
				acts = append(acts, &fakeAction{name: "b.example.com/second", sel: cms,
					exec: func(item *unstructured.Unstructured) (*unstructured.Unstructured, []rigging.ResourceIdentifier, string, []rigging.ResourceIdentifier, error) {
						item.SetLabels(map[string]string{"app": "changed"})
						return nil, nil, "", nil, nil
					}})
			}
			if _, _, err := run(t, backup.Options{Items: []*unstructured.Unstructured{ns, input}, Plugins: acts}); err != nil {
				t.Fatal(err)
			}
			sh.unchanged(t)
		})
	}
}

// sharedItem is the object the Lookup serves for an item (shared by every
// reader, the pipeline's own item included), with its content when an
// action first got it.
type sharedItem struct {
	obj, before *unstructured.Unstructured
}

// get returns the Lookup's object for item.
func (s *sharedItem) get(t *testing.T, ctx context.Context, item *unstructured.Unstructured) *unstructured.Unstructured {
	t.Helper()
	o, err := rigging.LookupFrom(ctx).Get(ctx, schema.GroupResource{Resource: "configmaps"}, item.GetNamespace(), item.GetName())
	if err != nil {
		t.Fatal(err)
	}
	if s.obj == nil {
		s.obj, s.before = o, o.DeepCopy()
	}
	return o
}

// unchanged fails if the shared object was modified.
func (s *sharedItem) unchanged(t *testing.T) {
	t.Helper()
	if s.obj == nil {
		t.Fatal("no action got the shared object")
	}
	if !reflect.DeepEqual(s.obj.Object, s.before.Object) {
		t.Errorf("shared input modified:\n got %v\nwant %v", s.obj.Object, s.before.Object)
	}
}
