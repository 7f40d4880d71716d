package secret

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/builtin/internal/actiontest"
	"github.com/rigging-dev/rigging/builtin/internal/testmanifest"
	"github.com/rigging-dev/rigging/registry"
)

var errBroken = errors.New("lookup broken")

func execute(t *testing.T, ctx context.Context, item *unstructured.Unstructured) *rigging.RestoreItemActionExecuteOutput {
	t.Helper()
	before := item.DeepCopy()
	out, err := (&RestoreAction{}).Execute(ctx, &rigging.RestoreItemActionExecuteInput{Item: item, ItemFromBackup: before, Restore: &rigging.Restore{}})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(before.Object, item.Object) {
		t.Error("Execute modified its input")
	}
	if out.AdditionalItems != nil {
		t.Errorf("additional items %v", out.AdditionalItems)
	}
	return out
}

// TestScenarioSecrets runs the action on every Secret of the export: the 12
// token Secrets are auto-generated ones of their namespace's service
// accounts and are skipped; the 4 others pass through untouched.
func TestScenarioSecrets(t *testing.T) {
	objs := actiontest.ClusterExport(t)
	ctx := actiontest.Context(objs...)
	var tokens, others int
	for _, s := range objs {
		if s.GetKind() != "Secret" {
			continue
		}
		t.Run(s.GetNamespace()+"/"+s.GetName(), func(t *testing.T) {
			out := execute(t, ctx, s)
			if out.UpdatedItem != s {
				t.Error("UpdatedItem is not the input item")
			}
			token := s.Object["type"] == "kubernetes.io/service-account-token"
			if token {
				tokens++
			} else {
				others++
			}
			if out.SkipRestore != token {
				t.Errorf("SkipRestore = %v for a secret of type %v", out.SkipRestore, s.Object["type"])
			}
		})
	}
	if tokens != 12 || others != 4 {
		t.Errorf("saw %d token and %d other secrets, the README says 12 and 4", tokens, others)
	}
}

func TestUserTokenSecret(t *testing.T) {
	objs := actiontest.ClusterExport(t)
	auto := testmanifest.Find(t, objs, "Secret", "shop", "storefront-token-m7bxw")
	user := auto.DeepCopy()
	user.SetName("storefront-ci") // created by a user for service account storefront
	onlyNamespace := auto.DeepCopy()
	unstructured.RemoveNestedField(onlyNamespace.Object, "data", "namespace")

	strip := func(u *unstructured.Unstructured) *unstructured.Unstructured {
		w := u.DeepCopy()
		unstructured.RemoveNestedField(w.Object, "metadata", "annotations", "kubernetes.io/service-account.uid")
		unstructured.RemoveNestedField(w.Object, "data", "token")
		unstructured.RemoveNestedField(w.Object, "data", "ca.crt")
		return w
	}
	noData := strip(onlyNamespace)
	unstructured.RemoveNestedField(noData.Object, "data")

	tests := []struct {
		name string
		ctx  context.Context
		item *unstructured.Unstructured
		want *unstructured.Unstructured
	}{
		{"user-created token secret", actiontest.Context(objs...), user, strip(user)},
		{"service account of another namespace", actiontest.Context(testmanifest.Find(t, objs, "ServiceAccount", "monitoring", "grafana"), testmanifest.Find(t, objs, "ServiceAccount", "kube-system", "coredns")),
			testmanifest.Find(t, objs, "Secret", "monitoring", "prometheus-token-h6tqb"), strip(testmanifest.Find(t, objs, "Secret", "monitoring", "prometheus-token-h6tqb"))},
		{"no service accounts: nothing is known to be auto-generated", actiontest.Context(), auto, strip(auto)},
		{"data left empty is removed", actiontest.Context(), onlyNamespace, noData},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := execute(t, tc.ctx, tc.item)
			if out.SkipRestore {
				t.Fatal("SkipRestore set")
			}
			if !reflect.DeepEqual(out.UpdatedItem.Object, tc.want.Object) {
				t.Errorf("item\n got %v\nwant %v", out.UpdatedItem.Object, tc.want.Object)
			}
			if got := out.UpdatedItem.GetAnnotations()["kubernetes.io/service-account.name"]; got == "" {
				t.Error("service-account.name annotation lost")
			}
		})
	}
}

func TestErrors(t *testing.T) {
	objs := actiontest.ClusterExport(t)
	s := testmanifest.Find(t, objs, "Secret", "shop", "storefront-token-m7bxw")
	a := &RestoreAction{}
	_, err := a.Execute(actiontest.FailingContext(errBroken), &rigging.RestoreItemActionExecuteInput{Item: s})
	if !errors.Is(err, errBroken) || !strings.Contains(err.Error(), "plugin velero.io/secret: Secret shop/storefront-token-m7bxw: list serviceaccounts") {
		t.Errorf("failing lookup: error %v", err)
	}
	// No Lookup: a token Secret cannot be told auto-generated or not.
	out, err := a.Execute(context.Background(), &rigging.RestoreItemActionExecuteInput{Item: s})
	if !errors.Is(err, rigging.ErrNoCluster) || out != nil || !strings.Contains(err.Error(), "plugin velero.io/secret: Secret shop/storefront-token-m7bxw: list serviceaccounts") {
		t.Errorf("no lookup: %v, %v; want an error naming the plugin and the Secret, matching ErrNoCluster", out, err)
	}
	s.Object["type"] = int64(3)
	if _, err := a.Execute(context.Background(), &rigging.RestoreItemActionExecuteInput{Item: s}); err == nil {
		t.Error("malformed type: no error")
	}
	if _, err := a.Execute(context.Background(), nil); err == nil {
		t.Error("nil input: no error")
	}
}

func TestRegistered(t *testing.T) {
	e, ok := registry.Default.Lookup(rigging.KindRestoreItemAction, Name)
	if !ok {
		t.Fatal("velero.io/secret not registered")
	}
	v, err := e.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	sel, _ := v.(rigging.RestoreItemAction).AppliesTo(context.Background())
	if !reflect.DeepEqual(sel.IncludedResources, []string{"secrets"}) {
		t.Errorf("AppliesTo = %+v", sel)
	}
}
