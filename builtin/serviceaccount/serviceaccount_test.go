package serviceaccount

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/builtin/internal/actiontest"
	"github.com/rigging-dev/rigging/builtin/internal/kube"
	"github.com/rigging-dev/rigging/builtin/internal/testmanifest"
	"github.com/rigging-dev/rigging/registry"
)

func crb(name string) rigging.ResourceIdentifier {
	return rigging.ResourceIdentifier{GroupResource: kube.ClusterRoleBindings, Name: name}
}

func role(name string) rigging.ResourceIdentifier {
	return rigging.ResourceIdentifier{GroupResource: kube.ClusterRoles, Name: name}
}

// binding returns a ClusterRoleBinding of clusterRole to subjects given as
// kind/namespace/name.
func binding(name, clusterRole string, subjects ...[3]string) *unstructured.Unstructured {
	var subs []any
	for _, s := range subjects {
		sub := map[string]any{"kind": s[0], "name": s[2]}
		if s[1] != "" {
			sub["namespace"] = s[1]
		}
		if s[0] == "Group" {
			sub["apiGroup"] = "rbac.authorization.k8s.io"
		}
		subs = append(subs, sub)
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
		"metadata": map[string]any{"name": name},
		"roleRef":  map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": clusterRole},
		"subjects": subs,
	}}
}

var errBroken = errors.New("lookup broken")

// TestRelatedItems checks both backup-side actions against the RBAC table of
// cluster-export/README.md: every service account of the export, with the
// bindings that name it.
func TestRelatedItems(t *testing.T) {
	objs := actiontest.ClusterExport(t)
	ctx := actiontest.Context(objs...)
	want := map[string][]rigging.ResourceIdentifier{
		"shop/storefront":                   {crb("storefront-node-reader"), role("node-reader")},
		"kube-system/ebs-csi-controller-sa": {crb("ebs-csi-provisioner-binding"), crb("ebs-csi-snapshotter-binding"), role("ebs-external-provisioner-role"), role("ebs-external-snapshotter-role")},
		"kube-system/coredns":               {crb("system:coredns"), role("system:coredns")},
		"monitoring/prometheus":             {crb("prometheus"), role("prometheus")},
	}
	// Execute leaves its input alone (checked for every case below), as
	// PreservesInput promises.
	if !(&BackupAction{}).PreservesInput() {
		t.Error("BackupAction.PreservesInput() = false")
	}
	type action func(context.Context, *unstructured.Unstructured) ([]rigging.ResourceIdentifier, error)
	actions := map[string]action{
		"BackupItemAction": func(ctx context.Context, item *unstructured.Unstructured) ([]rigging.ResourceIdentifier, error) {
			got, extra, err := (&BackupAction{}).Execute(ctx, item, &rigging.Backup{})
			if err == nil && got != item {
				t.Error("Execute did not return the item itself")
			}
			return extra, err
		},
		"ItemBlockAction": func(ctx context.Context, item *unstructured.Unstructured) ([]rigging.ResourceIdentifier, error) {
			return (&ItemBlockAction{}).GetRelatedItems(ctx, item, &rigging.Backup{})
		},
	}
	seen := 0
	for kind, run := range actions {
		for _, sa := range objs {
			if sa.GetKind() != "ServiceAccount" {
				continue
			}
			seen++
			key := sa.GetNamespace() + "/" + sa.GetName()
			t.Run(kind+"/"+key, func(t *testing.T) {
				before := sa.DeepCopy()
				got, err := run(ctx, sa)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, want[key]) {
					t.Errorf("related\n got %v\nwant %v", got, want[key])
				}
				if !reflect.DeepEqual(before.Object, sa.Object) {
					t.Error("input modified")
				}
			})
		}
	}
	if seen != 2*12 {
		t.Errorf("saw %d service accounts per action, the README says 12", seen/2)
	}

	// Bindings beyond the export: a role bound twice is named once; a subject
	// of the same name in another namespace, a User or a Group does not match.
	sa := testmanifest.Find(t, objs, "ServiceAccount", "shop", "orders-worker")
	extra := []*unstructured.Unstructured{
		binding("orders-a", "orders-reader", [3]string{"ServiceAccount", "shop", "orders-worker"}),
		binding("orders-b", "orders-reader", [3]string{"Group", "", "shop-oncall"}, [3]string{"ServiceAccount", "shop", "orders-worker"}),
		binding("other-ns", "orders-admin", [3]string{"ServiceAccount", "monitoring", "orders-worker"}),
		binding("user", "orders-admin", [3]string{"User", "", "orders-worker"}),
	}
	for kind, run := range actions {
		got, err := run(actiontest.Context(append(extra, objs...)...), sa)
		wantExtra := []rigging.ResourceIdentifier{crb("orders-a"), crb("orders-b"), role("orders-reader")}
		if err != nil || !reflect.DeepEqual(got, wantExtra) {
			t.Errorf("%s: got %v, %v; want %v", kind, got, err, wantExtra)
		}
		if got, err := run(context.Background(), sa); !errors.Is(err, rigging.ErrNoCluster) || got != nil ||
			!strings.Contains(err.Error(), "plugin velero.io/service-account: ServiceAccount shop/orders-worker: list clusterrolebindings") {
			t.Errorf("%s without a Lookup: got %v, %v; want an error naming the plugin and the account, matching ErrNoCluster", kind, got, err)
		}
		_, err = run(actiontest.FailingContext(errBroken), sa)
		if !errors.Is(err, errBroken) || !strings.Contains(err.Error(), "plugin velero.io/service-account: ServiceAccount shop/orders-worker: list clusterrolebindings") {
			t.Errorf("%s with a failing Lookup: error %v", kind, err)
		}
	}
}

func TestRestoreAction(t *testing.T) {
	objs := actiontest.ClusterExport(t)
	a := &RestoreAction{}
	run := func(t *testing.T, sa *unstructured.Unstructured) *unstructured.Unstructured {
		t.Helper()
		before := sa.DeepCopy()
		out, err := a.Execute(context.Background(), &rigging.RestoreItemActionExecuteInput{Item: sa, ItemFromBackup: before, Restore: &rigging.Restore{}})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(before.Object, sa.Object) {
			t.Error("Execute modified its input")
		}
		if out.AdditionalItems != nil || out.SkipRestore {
			t.Errorf("unexpected output %+v", out)
		}
		return out.UpdatedItem
	}
	// Every service account of the export lists exactly its token Secret.
	n := 0
	for _, sa := range objs {
		if sa.GetKind() != "ServiceAccount" {
			continue
		}
		n++
		t.Run(sa.GetNamespace()+"/"+sa.GetName(), func(t *testing.T) {
			secrets, _ := kube.NestedSlice(sa.Object, "secrets")
			if len(secrets) != 1 || !strings.HasPrefix(secrets[0].(map[string]any)["name"].(string), sa.GetName()+"-token-") {
				t.Fatalf("test data: secrets %v", secrets)
			}
			got := run(t, sa)
			want := sa.DeepCopy()
			unstructured.RemoveNestedField(want.Object, "secrets")
			if !reflect.DeepEqual(got.Object, want.Object) {
				t.Errorf("got %v\nwant %v", got.Object, want.Object)
			}
		})
	}
	if n != 12 {
		t.Errorf("saw %d service accounts, the README says 12", n)
	}

	tests := []struct {
		name    string
		secrets []any
		want    []any
	}{
		{"others kept, every token dropped",
			[]any{map[string]any{"name": "regcred"}, map[string]any{"name": "storefront-token-m7bxw"}, map[string]any{"name": "storefront-token-zz9k2"}},
			[]any{map[string]any{"name": "regcred"}}},
		{"prefix must match the whole name",
			[]any{map[string]any{"name": "storefronts-token-abcde"}, map[string]any{"name": "storefront-tokens"}},
			[]any{map[string]any{"name": "storefronts-token-abcde"}, map[string]any{"name": "storefront-tokens"}}},
		{"no secrets", nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sa := testmanifest.Find(t, objs, "ServiceAccount", "shop", "storefront")
			unstructured.RemoveNestedField(sa.Object, "secrets")
			if tc.secrets != nil {
				sa.Object["secrets"] = tc.secrets
			}
			got := run(t, sa)
			var want any // absent when nothing is left
			if tc.want != nil {
				want = tc.want
			}
			if !reflect.DeepEqual(got.Object["secrets"], want) {
				t.Errorf("secrets %v, want %v", got.Object["secrets"], tc.want)
			}
			if !reflect.DeepEqual(got.Object["imagePullSecrets"], sa.Object["imagePullSecrets"]) {
				t.Error("imagePullSecrets changed")
			}
		})
	}

	bad := testmanifest.Find(t, objs, "ServiceAccount", "shop", "storefront")
	bad.Object["secrets"] = "regcred"
	if _, err := a.Execute(context.Background(), &rigging.RestoreItemActionExecuteInput{Item: bad}); err == nil || !strings.Contains(err.Error(), "ServiceAccount shop/storefront: secrets: is string") {
		t.Errorf("malformed secrets: error %v", err)
	}
}

func TestRegistered(t *testing.T) {
	for _, kind := range []rigging.Kind{rigging.KindBackupItemAction, rigging.KindItemBlockAction, rigging.KindRestoreItemAction} {
		e, ok := registry.Default.Lookup(kind, Name)
		if !ok {
			t.Fatalf("%s %s not registered", kind, Name)
		}
		v, err := e.New(nil)
		if err != nil {
			t.Fatal(err)
		}
		sel, _ := v.(interface {
			AppliesTo(context.Context) (rigging.ResourceSelector, error)
		}).AppliesTo(context.Background())
		if !reflect.DeepEqual(sel.IncludedResources, []string{"serviceaccounts"}) {
			t.Errorf("%s AppliesTo = %+v", kind, sel)
		}
	}
}
