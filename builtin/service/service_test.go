package service

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/builtin/internal/actiontest"
	"github.com/rigging-dev/rigging/builtin/internal/testmanifest"
	"github.com/rigging-dev/rigging/registry"
)

func must(err error) {
	if err != nil {
		panic(err)
	}
}

func clearIPs(u *unstructured.Unstructured) {
	unstructured.RemoveNestedField(u.Object, "spec", "clusterIP")
	unstructured.RemoveNestedField(u.Object, "spec", "clusterIPs")
}

// dropNodePort removes spec.ports[i].nodePort.
func dropNodePort(i int) func(*unstructured.Unstructured) {
	return func(u *unstructured.Unstructured) {
		delete(u.Object["spec"].(map[string]any)["ports"].([]any)[i].(map[string]any), "nodePort")
	}
}

func setAnnotation(u *unstructured.Unstructured, k, v string) {
	a := u.GetAnnotations()
	if a == nil {
		a = map[string]string{}
	}
	a[k] = v
	u.SetAnnotations(a)
}

// setLastApplied replaces the last-applied configuration's spec.ports and
// sets spec.healthCheckNodePort in it when hc is non-zero.
func setLastApplied(u *unstructured.Unstructured, ports []any, hc int64) {
	cfg := map[string]any{}
	if raw, ok := u.GetAnnotations()[annotationLastApplied]; ok {
		must(json.Unmarshal([]byte(raw), &cfg))
	}
	must(unstructured.SetNestedSlice(cfg, ports, "spec", "ports"))
	if hc != 0 {
		must(unstructured.SetNestedField(cfg, hc, "spec", "healthCheckNodePort"))
	}
	b, err := json.Marshal(cfg)
	must(err)
	setAnnotation(u, annotationLastApplied, string(b))
}

// setManagedFields gives the service one server-side-apply entry owning fields.
func setManagedFields(u *unstructured.Unstructured, fields map[string]any) {
	must(unstructured.SetNestedSlice(u.Object, []any{map[string]any{
		"apiVersion": "v1", "fieldsType": "FieldsV1", "fieldsV1": fields,
		"manager": "kubectl", "operation": "Apply", "time": "2024-01-10T16:20:00Z",
	}}, "metadata", "managedFields"))
}

func localTraffic(hc int64) func(*unstructured.Unstructured) {
	return func(u *unstructured.Unstructured) {
		must(unstructured.SetNestedField(u.Object, "Local", "spec", "externalTrafficPolicy"))
		must(unstructured.SetNestedField(u.Object, hc, "spec", "healthCheckNodePort"))
	}
}

func TestRestoreAction(t *testing.T) {
	objs := actiontest.ClusterExport(t)
	svc := func(ns, name string, edits ...func(*unstructured.Unstructured)) *unstructured.Unstructured {
		u := testmanifest.Find(t, objs, "Service", ns, name)
		for _, e := range edits {
			e(u)
		}
		return u
	}
	dropHealthCheck := func(u *unstructured.Unstructured) {
		unstructured.RemoveNestedField(u.Object, "spec", "healthCheckNodePort")
	}
	unnamed := func(u *unstructured.Unstructured) {
		delete(u.Object["spec"].(map[string]any)["ports"].([]any)[0].(map[string]any), "name")
	}

	tests := []struct {
		name     string
		item     *unstructured.Unstructured
		preserve bool
		expect   []func(*unstructured.Unstructured) // applied to a copy of the input: the wanted output
	}{
		// The scenario's services (cluster-export/README.md, "Services").
		{name: "ClusterIP service loses its cluster IPs", item: svc("kube-system", "kube-dns"), expect: []func(*unstructured.Unstructured){clearIPs}},
		{name: "ClusterIP service from a JSON list", item: svc("monitoring", "prometheus"), expect: []func(*unstructured.Unstructured){clearIPs}},
		{name: "headless service unchanged", item: svc("shop", "postgres-headless")},
		{name: "headless service from a JSON list unchanged", item: svc("monitoring", "node-exporter")},
		{name: "allocated node port dropped", item: svc("monitoring", "grafana"), expect: []func(*unstructured.Unstructured){clearIPs, dropNodePort(0)}},
		{name: "allocated node port kept with preserveNodePorts", item: svc("monitoring", "grafana"), preserve: true, expect: []func(*unstructured.Unstructured){clearIPs}},
		{name: "node port in last-applied-configuration kept", item: svc("shop", "storefront"), expect: []func(*unstructured.Unstructured){clearIPs}},
		{name: "node port owned through server-side apply kept", item: svc("shop", "storefront-admin"), expect: []func(*unstructured.Unstructured){clearIPs}},

		// Variations.
		{
			name: "unnamed port matched by node port value",
			item: svc("shop", "storefront", unnamed, func(u *unstructured.Unstructured) {
				setLastApplied(u, []any{map[string]any{"nodePort": int64(30080), "port": int64(80)}}, 0)
			}),
			expect: []func(*unstructured.Unstructured){clearIPs},
		},
		{
			name: "unnamed port with another node port dropped",
			item: svc("shop", "storefront", unnamed, func(u *unstructured.Unstructured) {
				setLastApplied(u, []any{map[string]any{"nodePort": "30090", "port": int64(80)}}, 0)
			}),
			expect: []func(*unstructured.Unstructured){clearIPs, dropNodePort(0)},
		},
		{
			name: "annotation wins over managedFields",
			item: svc("shop", "storefront-admin", func(u *unstructured.Unstructured) {
				setLastApplied(u, []any{map[string]any{"name": "admin", "port": int64(8081)}}, 0)
			}),
			expect: []func(*unstructured.Unstructured){clearIPs, dropNodePort(0)},
		},
		{
			name: "managedFields entry for another protocol does not count",
			item: svc("shop", "storefront-admin", func(u *unstructured.Unstructured) {
				setManagedFields(u, map[string]any{"f:spec": map[string]any{"f:ports": map[string]any{
					`k:{"port":8081,"protocol":"UDP"}`: map[string]any{".": map[string]any{}, "f:nodePort": map[string]any{}},
				}}})
			}),
			expect: []func(*unstructured.Unstructured){clearIPs, dropNodePort(0)},
		},
		{
			name:   "allocated health check node port dropped",
			item:   svc("monitoring", "grafana", localTraffic(32123)),
			expect: []func(*unstructured.Unstructured){clearIPs, dropNodePort(0), dropHealthCheck},
		},
		{
			name: "health check node port in last-applied-configuration kept",
			item: svc("monitoring", "grafana", localTraffic(32123), func(u *unstructured.Unstructured) {
				setLastApplied(u, []any{map[string]any{"name": "http", "port": int64(80), "targetPort": int64(3000)}}, 32123)
			}),
			expect: []func(*unstructured.Unstructured){clearIPs, dropNodePort(0)},
		},
		{
			name: "health check node port owned through server-side apply kept",
			item: svc("monitoring", "grafana", localTraffic(32123), func(u *unstructured.Unstructured) {
				setManagedFields(u, map[string]any{"f:spec": map[string]any{"f:healthCheckNodePort": map[string]any{}}})
			}),
			expect: []func(*unstructured.Unstructured){clearIPs, dropNodePort(0)},
		},
		{
			name:     "health check node port kept with preserveNodePorts",
			item:     svc("monitoring", "grafana", localTraffic(32123)),
			preserve: true,
			expect:   []func(*unstructured.Unstructured){clearIPs},
		},
		{
			name: "ExternalName ports untouched",
			item: svc("shop", "storefront", func(u *unstructured.Unstructured) {
				unstructured.RemoveNestedField(u.Object, "metadata", "annotations")
				clearIPs(u)
				must(unstructured.SetNestedField(u.Object, "ExternalName", "spec", "type"))
				must(unstructured.SetNestedField(u.Object, "storefront.shop.example.com", "spec", "externalName"))
			}),
		},
	}
	a := &RestoreAction{}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			restore := &rigging.Restore{}
			if tc.preserve {
				restore.Spec.PreserveNodePorts = &tc.preserve
			}
			before := tc.item.DeepCopy()
			out, err := a.Execute(context.Background(), &rigging.RestoreItemActionExecuteInput{Item: tc.item, ItemFromBackup: before, Restore: restore})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(before.Object, tc.item.Object) {
				t.Error("Execute modified its input")
			}
			want := before.DeepCopy()
			for _, e := range tc.expect {
				e(want)
			}
			if !reflect.DeepEqual(out.UpdatedItem.Object, want.Object) {
				g, _ := json.Marshal(out.UpdatedItem.Object["spec"])
				w, _ := json.Marshal(want.Object["spec"])
				t.Errorf("spec\n got %s\nwant %s", g, w)
			}
			if out.AdditionalItems != nil || out.SkipRestore {
				t.Errorf("unexpected output %+v", out)
			}
		})
	}
}

func TestRestoreActionErrors(t *testing.T) {
	objs := actiontest.ClusterExport(t)
	bad := testmanifest.Find(t, objs, "Service", "shop", "storefront")
	setAnnotation(bad, annotationLastApplied, `{"spec":`)
	_, err := (&RestoreAction{}).Execute(context.Background(), &rigging.RestoreItemActionExecuteInput{Item: bad, Restore: &rigging.Restore{}})
	if err == nil || !strings.Contains(err.Error(), "plugin velero.io/service: Service shop/storefront: annotation kubectl.kubernetes.io/last-applied-configuration: ") {
		t.Errorf("bad annotation: error %v", err)
	}
	if _, err := (&RestoreAction{}).Execute(context.Background(), &rigging.RestoreItemActionExecuteInput{}); err == nil {
		t.Error("nil item: no error")
	}
}

func TestRegistered(t *testing.T) {
	e, ok := registry.Default.Lookup(rigging.KindRestoreItemAction, Name)
	if !ok {
		t.Fatal("velero.io/service not registered")
	}
	v, err := e.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	sel, _ := v.(rigging.RestoreItemAction).AppliesTo(context.Background())
	if !reflect.DeepEqual(sel.IncludedResources, []string{"services"}) {
		t.Errorf("AppliesTo = %+v", sel)
	}
}
