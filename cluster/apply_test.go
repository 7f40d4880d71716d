package cluster_test

import (
	"context"
	"fmt"
	"maps"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/cluster"
	"github.com/rigging-dev/rigging/internal/testcluster"
)

func obj(apiVersion, kind, ns, name string, fields map[string]any) *unstructured.Unstructured {
	o := &unstructured.Unstructured{Object: map[string]any{"apiVersion": apiVersion, "kind": kind}}
	for k, v := range fields {
		o.Object[k] = v
	}
	o.SetName(name)
	o.SetNamespace(ns)
	return o
}

func configMap(ns, name, value, restore string) *unstructured.Unstructured {
	o := obj("v1", "ConfigMap", ns, name, map[string]any{"data": map[string]any{"k": value}})
	o.SetLabels(map[string]string{"app": "x", rigging.LabelBackupName: "b", rigging.LabelRestoreName: restore})
	return o
}

func newApplier(t *testing.T, cfg *rest.Config, policy string) *cluster.Applier {
	t.Helper()
	a, err := cluster.NewApplier(cfg, cluster.ApplyOptions{ExistingResourcePolicy: policy})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// applyOK applies o and checks the action and the number of warnings.
func applyOK(t *testing.T, a *cluster.Applier, o *unstructured.Unstructured, resource, wantAction string, wantWarnings int) {
	t.Helper()
	action, warnings, rejected, err := a.Apply(context.Background(), o, resource)
	if err != nil || rejected != nil {
		t.Fatalf("Apply %s %s: rejected %v, err %v", o.GetKind(), o.GetName(), rejected, err)
	}
	if action != wantAction || len(warnings) != wantWarnings {
		t.Fatalf("Apply %s %s: %s with warnings %v; want %s with %d", o.GetKind(), o.GetName(), action, warnings, wantAction, wantWarnings)
	}
}

var grConfigMaps = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}

// TestApply: against the test API server, objects are created (with the
// backup's managedFields); an existing
// one that is the same is skipped; one that differs is left with a warning
// (policy none, or no policy) or patched (update), and its restore labels
// follow the latest restore under update; namespaces are ensured.
func TestApply(t *testing.T) {
	c := testcluster.Get(t)
	ctx := context.Background()
	dyn, err := dynamic.NewForConfig(c.Config())
	if err != nil {
		t.Fatal(err)
	}
	none, update := newApplier(t, c.Config(), cluster.PolicyNone), newApplier(t, c.Config(), cluster.PolicyUpdate)
	if err := none.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	ns := obj("v1", "Namespace", "", "apply-test", nil)
	applyOK(t, none, ns, "namespaces", rigging.RestoreActionCreated, 0)
	applyOK(t, none, ns, "namespaces", rigging.RestoreActionExists, 0)

	withFields := configMap("apply-test", "cm", "v1", "r1")
	withFields.SetManagedFields([]metav1.ManagedFieldsEntry{{Manager: "kubectl-client-side-apply", Operation: metav1.ManagedFieldsOperationUpdate,
		APIVersion: "v1", FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:data":{"f:k":{}}}`)}}})
	applyOK(t, none, withFields, "configmaps", rigging.RestoreActionCreated, 0)
	applyOK(t, none, configMap("apply-test", "cm", "v1", "r2"), "configmaps", rigging.RestoreActionSkipped, 0)
	// Changed in the cluster: none leaves it, with a warning.
	cms := dyn.Resource(grConfigMaps).Namespace("apply-test")
	cur, err := cms.Get(ctx, "cm", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if mf := cur.GetManagedFields(); len(mf) != 1 || mf[0].Manager != "kubectl-client-side-apply" {
		t.Errorf("managed fields %+v, want the backup's (kubectl-client-side-apply)", mf)
	}
	_ = unstructured.SetNestedField(cur.Object, "changed", "data", "k")
	_ = unstructured.SetNestedField(cur.Object, "added", "data", "extra")
	if _, err := cms.Update(ctx, cur, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	applyOK(t, none, configMap("apply-test", "cm", "v1", "r3"), "configmaps", rigging.RestoreActionFailed, 1)
	if got, _ := cms.Get(ctx, "cm", metav1.GetOptions{}); got.Object["data"].(map[string]any)["k"] != "changed" {
		t.Errorf("policy none changed the object: %v", got.Object["data"])
	}
	// update patches it to the backup's version, extra key removed.
	applyOK(t, update, configMap("apply-test", "cm", "v1", "r4"), "configmaps", rigging.RestoreActionUpdated, 0)
	got, err := cms.Get(ctx, "cm", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d := got.Object["data"].(map[string]any); len(d) != 1 || d["k"] != "v1" || got.GetLabels()[rigging.LabelRestoreName] != "r4" {
		t.Errorf("after update: data %v labels %v", d, got.GetLabels())
	}
	// The same object from a later restore: skipped, its labels moved on.
	applyOK(t, update, configMap("apply-test", "cm", "v1", "r5"), "configmaps", rigging.RestoreActionSkipped, 0)
	if got, _ := cms.Get(ctx, "cm", metav1.GetOptions{}); got.GetLabels()[rigging.LabelRestoreName] != "r5" {
		t.Errorf("restore label %v after update of an unchanged object", got.GetLabels())
	}
}

// TestApplyServiceAccount: an existing ServiceAccount that differs is
// merged with the backup's whatever the policy (secrets and image pull
// secrets by name, labels and annotations by key, the cluster's values
// kept), as Velero merges them.
func TestApplyServiceAccount(t *testing.T) {
	c := testcluster.Get(t)
	ctx := context.Background()
	a := newApplier(t, c.Config(), "")
	applyOK(t, a, obj("v1", "Namespace", "", "apply-sa", nil), "namespaces", rigging.RestoreActionCreated, 0)
	inCluster := obj("v1", "ServiceAccount", "apply-sa", "builder", map[string]any{"secrets": []any{map[string]any{"name": "a"}}})
	inCluster.SetLabels(map[string]string{"team": "cluster"})
	applyOK(t, a, inCluster, "serviceaccounts", rigging.RestoreActionCreated, 0)
	fromBackup := obj("v1", "ServiceAccount", "apply-sa", "builder", map[string]any{
		"secrets":          []any{map[string]any{"name": "b"}, map[string]any{"name": "a"}},
		"imagePullSecrets": []any{map[string]any{"name": "registry"}},
	})
	fromBackup.SetLabels(map[string]string{"team": "backup", "tier": "ci", rigging.LabelBackupName: "b", rigging.LabelRestoreName: "r"})
	fromBackup.SetAnnotations(map[string]string{"note": "restored"})
	applyOK(t, a, fromBackup, "serviceaccounts", rigging.RestoreActionUpdated, 0)
	dyn, err := dynamic.NewForConfig(c.Config())
	if err != nil {
		t.Fatal(err)
	}
	got, err := dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "serviceaccounts"}).Namespace("apply-sa").Get(ctx, "builder", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	secrets, _, _ := unstructured.NestedSlice(got.Object, "secrets")
	pull, _, _ := unstructured.NestedSlice(got.Object, "imagePullSecrets")
	l := got.GetLabels()
	if len(secrets) != 2 || len(pull) != 1 || l["team"] != "cluster" || l["tier"] != "ci" || got.GetAnnotations()["note"] != "restored" {
		t.Errorf("merged service account: secrets %v, image pull secrets %v, labels %v, annotations %v", secrets, pull, l, got.GetAnnotations())
	}
	// Merged: the same backup's version again changes nothing.
	applyOK(t, a, fromBackup, "serviceaccounts", rigging.RestoreActionSkipped, 0)
}

// TestApplyRejected: what the API server refuses is rejected (the restore
// goes on), naming the object; a namespace still being deleted at the
// terminating timeout is refused.
func TestApplyRejected(t *testing.T) {
	c := testcluster.Get(t)
	ctx := context.Background()
	a, err := cluster.NewApplier(c.Config(), cluster.ApplyOptions{TerminatingTimeout: 50 * time.Millisecond, PollInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	applyOK(t, a, obj("v1", "Namespace", "", "apply-rejected", nil), "namespaces", rigging.RestoreActionCreated, 0)
	applyOK(t, a, obj("v1", "Namespace", "", "apply-doomed", nil), "namespaces", rigging.RestoreActionCreated, 0)
	dyn, err := dynamic.NewForConfig(c.Config())
	if err != nil {
		t.Fatal(err)
	}
	// Nothing finishes deleting a namespace here: it stays Terminating.
	if err := dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}).Delete(ctx, "apply-doomed", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		obj      *unstructured.Unstructured
		resource string
		want     string
	}{
		{"invalid name", configMap("apply-rejected", "Bad_Name", "v", "r"), "configmaps", `ConfigMap apply-rejected/Bad_Name`},
		{"no such namespace", configMap("apply-none-such", "cm", "v", "r"), "configmaps", `namespaces "apply-none-such" not found`},
		{"terminating namespace", obj("v1", "Namespace", "", "apply-doomed", nil), "namespaces", "timed out waiting for terminating namespace apply-doomed to disappear before restoring"},
		{"unknown resource", obj("example.com/v1", "Gadget", "apply-rejected", "g", nil), "gadgets", "Gadget apply-rejected/g"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			action, _, rejected, err := a.Apply(ctx, tt.obj, tt.resource)
			if err != nil || rejected == nil || action != rigging.RestoreActionFailed || !strings.Contains(rejected.Error(), tt.want) {
				t.Errorf("Apply: %s, rejected %v, err %v; want failed, rejected naming %q", action, rejected, err, tt.want)
			}
		})
	}
}

// TestApplyStatusAndCRD: a status is restored through the status
// subresource; a created CRD is established when Apply returns, and its
// objects can be created at once.
func TestApplyStatusAndCRD(t *testing.T) {
	c := testcluster.Get(t)
	ctx := context.Background()
	a := newApplier(t, c.Config(), "")
	applyOK(t, a, obj("v1", "Namespace", "", "apply-status", nil), "namespaces", rigging.RestoreActionCreated, 0)
	pvc := obj("v1", "PersistentVolumeClaim", "apply-status", "data", map[string]any{
		"spec":   map[string]any{"accessModes": []any{"ReadWriteOnce"}, "resources": map[string]any{"requests": map[string]any{"storage": "1Gi"}}},
		"status": map[string]any{"phase": "Bound"},
	})
	applyOK(t, a, pvc, "persistentvolumeclaims", rigging.RestoreActionCreated, 0)
	dyn, err := dynamic.NewForConfig(c.Config())
	if err != nil {
		t.Fatal(err)
	}
	got, err := dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "persistentvolumeclaims"}).Namespace("apply-status").Get(ctx, "data", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if phase, _, _ := unstructured.NestedString(got.Object, "status", "phase"); phase != "Bound" {
		t.Errorf("claim phase %q, want the restored Bound", phase)
	}

	crd := obj("apiextensions.k8s.io/v1", "CustomResourceDefinition", "", "widgets.apply.example.com", map[string]any{
		"spec": map[string]any{
			"group": "apply.example.com", "scope": "Namespaced",
			"names": map[string]any{"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
			"versions": []any{map[string]any{"name": "v1", "served": true, "storage": true,
				"schema": map[string]any{"openAPIV3Schema": map[string]any{"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}},
		},
	})
	applyOK(t, a, crd, "customresourcedefinitions", rigging.RestoreActionCreated, 0)
	applyOK(t, a, obj("apply.example.com/v1", "Widget", "apply-status", "w1", map[string]any{"spec": map[string]any{"size": int64(3)}}), "widgets", rigging.RestoreActionCreated, 0)
}

// TestApplyServerGone: an API server that cannot be reached is an error
// (the restore cannot go on), not a rejected object; Ping says so at once.
func TestApplyServerGone(t *testing.T) {
	c := testcluster.Get(t)
	cfg, _ := c.FaultProxy(t, func(r *http.Request, n int) (int, http.Header, string, bool) {
		if r.Method == http.MethodPost {
			panic(http.ErrAbortHandler) // the connection drops
		}
		return 0, nil, "", false
	})
	a := newApplier(t, cfg, "")
	action, _, rejected, err := a.Apply(context.Background(), configMap("default", "gone", "v", "r"), "configmaps")
	if err == nil || rejected != nil || action != "" || !strings.Contains(err.Error(), "create ConfigMap default/gone") {
		t.Errorf("Apply through a dropped connection: %q, rejected %v, err %v", action, rejected, err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	b := newApplier(t, &rest.Config{Host: "http://" + addr}, "")
	if err := b.Ping(context.Background()); err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("Ping of nothing: %v", err)
	}
}

// TestApplyTerminatingNamespace: a namespace of the restore that is
// terminating is waited for, as Velero waits (up to its terminating
// resource timeout), and created again once gone (one still terminating
// at the timeout: TestApplyRejected). The namespace is finalized (what
// the namespace controller, absent here, does) once the applier has read
// it terminating at least twice: it waited.
func TestApplyTerminatingNamespace(t *testing.T) {
	c := testcluster.Get(t)
	ctx := context.Background()
	kube, err := kubernetes.NewForConfig(c.Config())
	if err != nil {
		t.Fatal(err)
	}
	terminate := func(name string) {
		t.Helper()
		if _, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := kube.CoreV1().Namespaces().Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	terminate("term-gone")
	reads := make(chan struct{}, 100)
	cfg, _ := c.FaultProxy(t, func(r *http.Request, n int) (int, http.Header, string, bool) {
		if r.Method == http.MethodGet && r.URL.Path == "/api/v1/namespaces/term-gone" {
			select {
			case reads <- struct{}{}:
			default: // the first two are what counts
			}
		}
		return 0, nil, "", false
	})
	a, err := cluster.NewApplier(cfg, cluster.ApplyOptions{TerminatingTimeout: time.Minute, PollInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	finalized := make(chan error, 1)
	go func() {
		<-reads // existing's read
		<-reads // the wait's first
		ns, err := kube.CoreV1().Namespaces().Get(ctx, "term-gone", metav1.GetOptions{})
		if err == nil {
			ns.Spec.Finalizers = nil
			_, err = kube.CoreV1().Namespaces().Finalize(ctx, ns, metav1.UpdateOptions{})
		}
		finalized <- err
	}()
	applyOK(t, a, obj("v1", "Namespace", "", "term-gone", nil), "namespaces", rigging.RestoreActionCreated, 0)
	if err := <-finalized; err != nil {
		t.Fatal(err)
	}
	if ns, err := kube.CoreV1().Namespaces().Get(ctx, "term-gone", metav1.GetOptions{}); err != nil || ns.DeletionTimestamp != nil {
		t.Errorf("namespace term-gone after the restore: %v, %v; want it created again", ns, err)
	}
}

// TestApplyRequests: a new object costs one request, the create; one that
// exists, the create and a get (then a patch under update when it
// differs); a namespace that exists, the create and a get. Counted by a
// RequestCounter on the Applier's config.
func TestApplyRequests(t *testing.T) {
	c := testcluster.Get(t)
	var counter cluster.RequestCounter
	cfg := rest.CopyConfig(c.Config())
	cfg.Wrap(counter.Wrap)
	none, update := newApplier(t, cfg, cluster.PolicyNone), newApplier(t, cfg, cluster.PolicyUpdate)
	for _, tc := range []struct {
		name     string
		a        *cluster.Applier
		o        *unstructured.Unstructured
		resource string
		want     string
	}{
		{"new namespace", none, obj("v1", "Namespace", "", "requests-test", nil), "namespaces", "[{create 1}]"},
		{"existing namespace", none, obj("v1", "Namespace", "", "requests-test", nil), "namespaces", "[{create 1} {get 1}]"},
		{"new object", none, configMap("requests-test", "cm", "v1", "r1"), "configmaps", "[{create 1}]"},
		{"existing, same", none, configMap("requests-test", "cm", "v1", "r2"), "configmaps", "[{create 1} {get 1}]"},
		{"existing, differs, none", none, configMap("requests-test", "cm", "v2", "r3"), "configmaps", "[{create 1} {get 1}]"},
		{"existing, differs, update", update, configMap("requests-test", "cm", "v2", "r4"), "configmaps", "[{create 1} {get 1} {patch 1}]"},
	} {
		before := counter.Counts()
		if _, _, rej, err := tc.a.Apply(context.Background(), tc.o, tc.resource); err != nil || rej != nil {
			t.Fatalf("%s: rejected %v, err %v", tc.name, rej, err)
		}
		if got := fmt.Sprint(diffCounts(before, counter.Counts())); got != tc.want {
			t.Errorf("%s: requests %s, want %s", tc.name, got, tc.want)
		}
	}
}

// diffCounts is after minus before by verb, verbs without requests left
// out, sorted: "[{create 1} {get 1}]".
func diffCounts(before, after cluster.RequestCounts) []verbCount {
	was, now := before.ByVerb(), after.ByVerb()
	var out []verbCount
	for _, verb := range slices.Sorted(maps.Keys(now)) {
		if n := now[verb] - was[verb]; n > 0 {
			out = append(out, verbCount{verb, n})
		}
	}
	return out
}

// verbCount is the requests of one verb.
type verbCount struct {
	verb string
	n    int
}
