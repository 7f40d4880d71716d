package backup_test

import (
	"context"
	"reflect"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/backup"
)

// preservingAction is a fakeAction that declares rigging.InputPreserver.
type preservingAction struct{ *fakeAction }

func (preservingAction) PreservesInput() bool { return true }

// plugins serves actions directly, without a Manager's wrappers.
type plugins []rigging.BackupItemActionV2

func (p plugins) BackupItemActionsV2(context.Context) ([]rigging.BackupItemActionV2, error) {
	return p, nil
}

func (plugins) ItemBlockActions(context.Context) ([]rigging.ItemBlockAction, error) { return nil, nil }

// TestSharedInputCopies: an action that preserves its input gets the input
// object itself (the one the Lookup serves); the first one that may modify its item gets a copy; the
// pipeline never modifies the input, even when it strips the
// must-include annotation from an item a preserving action returned.
func TestSharedInputCopies(t *testing.T) {
	input := obj("v1", "ConfigMap", "app", "cm", map[string]string{"app": "x"})
	input.SetAnnotations(map[string]string{rigging.AnnotationBackupMustIncludeAdditionalItems: "true"})
	ns := obj("v1", "Namespace", "", "app", nil)
	before := input.DeepCopy()
	cms := rigging.ResourceSelector{IncludedResources: []string{"configmaps"}}

	var gotFirst, gotSecond *unstructured.Unstructured
	var sh sharedItem
	first := preservingAction{&fakeAction{name: "a.example.com/first", sel: cms,
		execCtx: func(ctx context.Context, item *unstructured.Unstructured) (*unstructured.Unstructured, []rigging.ResourceIdentifier, string, []rigging.ResourceIdentifier, error) {
			gotFirst = item
			sh.get(t, ctx, item)
			return item, nil, "", nil, nil
		}}}
	second := &fakeAction{name: "b.example.com/second", sel: cms,
		exec: func(item *unstructured.Unstructured) (*unstructured.Unstructured, []rigging.ResourceIdentifier, string, []rigging.ResourceIdentifier, error) {
			gotSecond = item
			item.SetLabels(map[string]string{"app": "changed"}) // modifies what it was given
			return nil, nil, "", nil, nil
		}}
	s, sum, err := run(t, backup.Options{Items: []*unstructured.Unstructured{ns, input}, Plugins: plugins{first, second}})
	if err != nil || sum.Backup.Status.Phase != rigging.BackupPhaseCompleted {
		t.Fatalf("backup: %v %+v", err, sum)
	}
	if gotFirst == nil || gotFirst != sh.obj {
		t.Error("the input-preserving action did not get the shared input object itself")
	}
	if gotSecond == nil || gotSecond == sh.obj {
		t.Error("the action that may modify its item did not get a copy")
	}
	sh.unchanged(t)
	if !reflect.DeepEqual(input.Object, before.Object) {
		t.Errorf("caller's item modified:\n got %v\nwant %v", input.Object, before.Object)
	}
	it := contents(t, s, "b1").Get("configmaps", "app", "cm")
	if it == nil {
		t.Fatal("item not in the backup")
	}
	stored, err := it.Object()
	if err != nil {
		t.Fatal(err)
	}
	if l := stored.GetLabels()["app"]; l != "changed" {
		t.Errorf("stored label app=%q, want the second action's change", l)
	}
	if _, ok := stored.GetAnnotations()[rigging.AnnotationBackupMustIncludeAdditionalItems]; ok {
		t.Error("must-include annotation left in the stored item")
	}

	// Alone, the preserving action's item is stored without a copy being
	// modified: the annotation is stripped from a copy.
	gotFirst, sh = nil, sharedItem{}
	if _, _, err := run(t, backup.Options{Items: []*unstructured.Unstructured{ns, input}, Plugins: plugins{first}}); err != nil {
		t.Fatal(err)
	}
	if gotFirst == nil || gotFirst != sh.obj {
		t.Error("input not passed as is")
	}
	sh.unchanged(t)
}
