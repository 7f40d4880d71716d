package backup_test

import (
	"reflect"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

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
			before := input.DeepCopy()
			first := &fakeAction{name: "a.example.com/first", sel: cms,
				exec: func(item *unstructured.Unstructured) (*unstructured.Unstructured, []rigging.ResourceIdentifier, string, []rigging.ResourceIdentifier, error) {
					if item == input {
						t.Error("an action that may modify its item got the shared input")
					}
					return input, nil, "", nil, nil // the Lookup's object for the item
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
			if !reflect.DeepEqual(input.Object, before.Object) {
				t.Errorf("shared input modified:\n got %v\nwant %v", input.Object, before.Object)
			}
		})
	}
}
