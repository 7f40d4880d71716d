package webhook

import (
	"context"
	"reflect"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/builtin/internal/testmanifest"
	"github.com/rigging-dev/rigging/registry"
)

// sideEffects returns each webhook's sideEffects ("-" when absent).
func sideEffects(t *testing.T, obj *unstructured.Unstructured) []string {
	t.Helper()
	hooks, found, err := unstructured.NestedSlice(obj.Object, "webhooks")
	if err != nil {
		t.Fatal(err)
	}
	if !found {
		return nil
	}
	out := []string{}
	for _, h := range hooks {
		s, ok := h.(map[string]any)["sideEffects"].(string)
		if !ok {
			s = "-"
		}
		out = append(out, s)
	}
	return out
}

func TestExecute(t *testing.T) {
	objs := testmanifest.Load(t, "testdata/webhooks.yaml")
	broken := testmanifest.Find(t, objs, "MutatingWebhookConfiguration", "", "policy-mutator")
	hooks, _, _ := unstructured.NestedSlice(broken.Object, "webhooks")
	broken.Object["webhooks"] = append([]any{"garbage"}, hooks...)

	tests := []struct {
		name   string
		item   *unstructured.Unstructured
		before []string
		want   []string
	}{
		{"validating: Unknown reset, None kept", testmanifest.Find(t, objs, "ValidatingWebhookConfiguration", "", "cert-manager-webhook"),
			[]string{"Unknown", "None"}, []string{"None", "None"}},
		{"mutating: Some and absent reset, NoneOnDryRun kept", testmanifest.Find(t, objs, "MutatingWebhookConfiguration", "", "policy-mutator"),
			[]string{"Some", "NoneOnDryRun", "-"}, []string{"None", "NoneOnDryRun", "None"}},
		{"v1beta1 is left alone", testmanifest.Find(t, objs, "MutatingWebhookConfiguration", "", "legacy-injector"),
			[]string{"Unknown"}, []string{"Unknown"}},
		{"no webhooks", testmanifest.Find(t, objs, "ValidatingWebhookConfiguration", "", "empty-shell"),
			nil, nil},
		{"non-object entry dropped", broken,
			[]string{"Some", "NoneOnDryRun", "-"}, []string{"None", "NoneOnDryRun", "None"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.name != "non-object entry dropped" {
				if got := sideEffects(t, tt.item); !reflect.DeepEqual(got, tt.before) {
					t.Fatalf("test data: sideEffects = %v, want %v", got, tt.before)
				}
			}
			before := tt.item.DeepCopy()
			out, err := New(nil).Execute(context.Background(), &rigging.RestoreItemActionExecuteInput{Item: tt.item, ItemFromBackup: before, Restore: &rigging.Restore{}})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(tt.item, before) {
				t.Error("Execute modified its input")
			}
			if got := sideEffects(t, out.UpdatedItem); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("sideEffects = %v, want %v", got, tt.want)
			}
			if out.SkipRestore || len(out.AdditionalItems) != 0 {
				t.Errorf("unexpected output %+v", out)
			}
		})
	}
}

func TestExecuteBadWebhooks(t *testing.T) {
	item := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": APIVersion, "kind": "ValidatingWebhookConfiguration",
		"metadata": map[string]any{"name": "bad"}, "webhooks": "nope",
	}}
	_, err := New(nil).Execute(context.Background(), &rigging.RestoreItemActionExecuteInput{Item: item})
	if err == nil {
		t.Fatal("want error")
	}
	const prefix = "plugin velero.io/admission-webhook-configuration: ValidatingWebhookConfiguration bad: read webhooks: "
	if got := err.Error(); len(got) < len(prefix) || got[:len(prefix)] != prefix {
		t.Errorf("error = %q, want prefix %q", got, prefix)
	}
}

func TestRegistered(t *testing.T) {
	if _, ok := registry.Default.Lookup(rigging.KindRestoreItemAction, Name); !ok {
		t.Fatal("not registered")
	}
}
