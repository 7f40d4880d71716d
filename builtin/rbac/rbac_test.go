package rbac

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/builtin/internal/actiontest"
	"github.com/rigging-dev/rigging/builtin/internal/testmanifest"
	"github.com/rigging-dev/rigging/registry"
)

type subject struct{ kind, name, namespace string }

func subjectsOf(t *testing.T, obj *unstructured.Unstructured) []subject {
	t.Helper()
	list, _, err := unstructured.NestedSlice(obj.Object, "subjects")
	if err != nil {
		t.Fatal(err)
	}
	var out []subject
	for _, s := range list {
		m := s.(map[string]any)
		ns, _ := m["namespace"].(string)
		out = append(out, subject{m["kind"].(string), m["name"].(string), ns})
	}
	return out
}

func TestBindingActions(t *testing.T) {
	shop := actiontest.ClusterExport(t)
	cluster := shop
	adapter := testmanifest.Load(t, "testdata/prometheus-adapter.yaml")

	tests := []struct {
		name    string
		action  *BindingAction
		item    *unstructured.Unstructured
		mapping map[string]string
		want    []subject
	}{
		{
			name:    "role binding: both subjects remapped",
			action:  NewRoleBindingAction(nil),
			item:    testmanifest.Find(t, shop, "RoleBinding", "shop", "storefront-view"),
			mapping: map[string]string{"shop": "shop-dr", "monitoring": "monitoring-dr"},
			want:    []subject{{"ServiceAccount", "storefront", "shop-dr"}, {"ServiceAccount", "prometheus", "monitoring-dr"}},
		},
		{
			name:    "role binding: cross-namespace subject not in mapping is kept",
			action:  NewRoleBindingAction(nil),
			item:    testmanifest.Find(t, shop, "RoleBinding", "shop", "storefront-view"),
			mapping: map[string]string{"shop": "shop-dr"},
			want:    []subject{{"ServiceAccount", "storefront", "shop-dr"}, {"ServiceAccount", "prometheus", "monitoring"}},
		},
		{
			name:    "role binding: no mapping",
			action:  NewRoleBindingAction(nil),
			item:    testmanifest.Find(t, shop, "RoleBinding", "shop", "orders-worker"),
			mapping: nil,
			want:    []subject{{"ServiceAccount", "orders-worker", "shop"}},
		},
		{
			name:    "role binding in kube-system naming a monitoring service account",
			action:  NewRoleBindingAction(nil),
			item:    testmanifest.Find(t, adapter, "RoleBinding", "kube-system", "prometheus-adapter-auth-reader"),
			mapping: map[string]string{"monitoring": "metrics"},
			want:    []subject{{"ServiceAccount", "prometheus-adapter", "metrics"}},
		},
		{
			name:    "cluster role binding: group subject without namespace is kept",
			action:  NewClusterRoleBindingAction(nil),
			item:    testmanifest.Find(t, cluster, "ClusterRoleBinding", "", "storefront-node-reader"),
			mapping: map[string]string{"shop": "shop-dr", "": "never"},
			want:    []subject{{"ServiceAccount", "storefront", "shop-dr"}, {"Group", "shop-oncall", ""}},
		},
		{
			name:    "cluster role binding: unrelated mapping",
			action:  NewClusterRoleBindingAction(nil),
			item:    testmanifest.Find(t, cluster, "ClusterRoleBinding", "", "system:coredns"),
			mapping: map[string]string{"shop": "shop-dr"},
			want:    []subject{{"ServiceAccount", "coredns", "kube-system"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := tt.item.DeepCopy()
			restore := &rigging.Restore{Spec: rigging.RestoreSpec{NamespaceMapping: tt.mapping}}
			out, err := tt.action.Execute(context.Background(), &rigging.RestoreItemActionExecuteInput{
				Item: tt.item, ItemFromBackup: tt.item.DeepCopy(), Restore: restore,
			})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(tt.item, before) {
				t.Error("Execute modified its input")
			}
			if out.SkipRestore || len(out.AdditionalItems) != 0 {
				t.Errorf("unexpected output %+v", out)
			}
			if got := subjectsOf(t, out.UpdatedItem); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("subjects = %v, want %v", got, tt.want)
			}
			// Everything but the subjects is untouched.
			a, b := out.UpdatedItem.DeepCopy(), before.DeepCopy()
			delete(a.Object, "subjects")
			delete(b.Object, "subjects")
			if !reflect.DeepEqual(a, b) {
				t.Error("fields other than subjects changed")
			}
		})
	}
}

func TestBindingActionErrors(t *testing.T) {
	item := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
		"metadata": map[string]any{"name": "broken", "namespace": "shop"},
		"subjects": []any{"not-an-object"},
	}}
	restore := &rigging.Restore{Spec: rigging.RestoreSpec{NamespaceMapping: map[string]string{"shop": "x"}}}
	_, err := NewRoleBindingAction(nil).Execute(context.Background(), &rigging.RestoreItemActionExecuteInput{Item: item, Restore: restore})
	if err == nil {
		t.Fatal("want error")
	}
	const want = "plugin velero.io/role-bindings: RoleBinding shop/broken: subjects[0] is a string, not an object"
	if err.Error() != want {
		t.Errorf("error = %q, want %q", err, want)
	}

	item.Object["subjects"] = "nope"
	_, err = NewRoleBindingAction(nil).Execute(context.Background(), &rigging.RestoreItemActionExecuteInput{Item: item, Restore: restore})
	if err == nil || errors.Unwrap(err) == nil {
		t.Fatalf("want a wrapped error, got %v", err)
	}
}

func TestRegistered(t *testing.T) {
	for name, resource := range map[string]string{RoleBindingsName: "rolebindings", ClusterRoleBindingsName: "clusterrolebindings"} {
		e, ok := registry.Default.Lookup(rigging.KindRestoreItemAction, rigging.Name(name))
		if !ok {
			t.Fatalf("%s not registered", name)
		}
		v, err := e.New(nil)
		if err != nil {
			t.Fatal(err)
		}
		sel, err := v.(rigging.RestoreItemAction).AppliesTo(context.Background())
		if err != nil || !reflect.DeepEqual(sel.IncludedResources, []string{resource}) {
			t.Errorf("%s AppliesTo = %+v, %v", name, sel, err)
		}
	}
}
