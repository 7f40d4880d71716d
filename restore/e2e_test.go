package restore_test

import (
	"log/slog"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/manager"
	"github.com/rigging-dev/rigging/restore"

	_ "github.com/rigging-dev/rigging/builtin/all"
)

// TestClusterExportWithBuiltins backs up namespace shop with the built-in
// actions and restores it with them, then checks the scenario's
// relationships (cluster-export/README.md) in what would be applied.
func TestClusterExportWithBuiltins(t *testing.T) {
	m := manager.New(manager.Options{Logger: slog.New(slog.DiscardHandler)})
	defer m.Close()
	store := backupOf(t, clusterExport(t), m)
	out, sum := runRestore(t, store, restore.Options{Plugins: m, Spec: rigging.RestoreSpec{IncludedNamespaces: []string{"shop"}}})
	if sum.Restore.Status.Errors != 0 {
		t.Fatalf("errors %+v", sum.Results.Errors)
	}
	get := func(kind, ns, name string) *unstructured.Unstructured {
		t.Helper()
		o := out.find(kind, ns, name)
		if o == nil {
			t.Fatalf("%s %s/%s not restored", kind, ns, name)
		}
		return o
	}
	nodePort := func(svc *unstructured.Unstructured) int64 {
		ports, _, _ := unstructured.NestedSlice(svc.Object, "spec", "ports")
		np, _, _ := unstructured.NestedInt64(ports[0].(map[string]any), "nodePort")
		return np
	}
	// Services: cluster IPs go; node ports set explicitly (last-applied, or
	// server-side apply managedFields) stay.
	sf := get("Service", "shop", "storefront")
	if _, ok, _ := unstructured.NestedString(sf.Object, "spec", "clusterIP"); ok {
		t.Error("storefront keeps its clusterIP")
	}
	if nodePort(sf) != 30080 {
		t.Errorf("storefront nodePort %d, want 30080", nodePort(sf))
	}
	if np := nodePort(get("Service", "shop", "storefront-admin")); np != 30081 {
		t.Errorf("storefront-admin nodePort %d, want 30081", np)
	}
	// The claim restored through the PV it is bound to (Retain NFS volume).
	get("PersistentVolume", "", "shop-assets-nfs")
	pvc := get("PersistentVolumeClaim", "shop", "data-postgres-0")
	if _, ok := pvc.GetAnnotations()["pv.kubernetes.io/bind-completed"]; ok {
		t.Error("claim keeps pv.kubernetes.io/bind-completed")
	}
	// Auto-generated service-account token secrets are not restored; the
	// others are.
	if out.find("Secret", "shop", "storefront-token-m7bxw") != nil {
		t.Error("service-account token secret restored")
	}
	get("Secret", "shop", "regcred")
	// Pods lose their node and their service-account token volume.
	pod := get("Pod", "shop", "postgres-0")
	if _, ok, _ := unstructured.NestedString(pod.Object, "spec", "nodeName"); ok {
		t.Error("postgres-0 keeps spec.nodeName")
	}
	vols, _, _ := unstructured.NestedSlice(pod.Object, "spec", "volumes")
	for _, v := range vols {
		if name, _ := v.(map[string]any)["name"].(string); strings.HasPrefix(name, "postgres-token-") {
			t.Errorf("postgres-0 keeps token volume %s", name)
		}
	}
	// Custom resources are restored; their CRD, cluster-scoped, is not in
	// a restore of one namespace (as in Velero, without
	// includeClusterResources).
	get("FeatureFlag", "shop", "dark-mode")
	if out.find("CustomResourceDefinition", "", "featureflags.shop.example.com") != nil {
		t.Error("CRD restored in a namespace-only restore")
	}
	for _, o := range out.objs {
		if o.GetKind() == "Namespace" {
			continue
		}
		if o.GetLabels()[rigging.LabelRestoreName] != "r1" {
			t.Errorf("%s %s/%s lacks the restore label", o.GetKind(), o.GetNamespace(), o.GetName())
		}
	}
}
