package job

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/builtin/internal/actiontest"
	"github.com/rigging-dev/rigging/builtin/internal/kube"
	"github.com/rigging-dev/rigging/builtin/internal/testmanifest"
	"github.com/rigging-dev/rigging/registry"
)

func TestRestoreAction(t *testing.T) {
	objs := actiontest.ClusterExport(t)
	find := func(name string) *unstructured.Unstructured { return testmanifest.Find(t, objs, "Job", "shop", name) }
	withNewLabels := find("db-migrate-v42")
	_ = unstructured.SetNestedStringMap(withNewLabels.Object, map[string]string{
		"batch.kubernetes.io/controller-uid": "e2edd0cf-c4c4-46cb-b311-8f7f4c537b2b",
		"controller-uid":                     "e2edd0cf-c4c4-46cb-b311-8f7f4c537b2b",
		"app":                                "db-migrate",
	}, "spec", "selector", "matchLabels")
	_ = unstructured.SetNestedStringMap(withNewLabels.Object, map[string]string{
		"batch.kubernetes.io/controller-uid": "e2edd0cf-c4c4-46cb-b311-8f7f4c537b2b",
		"batch.kubernetes.io/job-name":       "db-migrate-v42",
		"controller-uid":                     "e2edd0cf-c4c4-46cb-b311-8f7f4c537b2b",
		"job-name":                           "db-migrate-v42",
	}, "spec", "template", "metadata", "labels")
	noSelector := find("db-migrate-v42")
	unstructured.RemoveNestedField(noSelector.Object, "spec", "selector")
	unstructured.RemoveNestedField(noSelector.Object, "spec", "template", "metadata", "labels")

	tests := []struct {
		name          string
		job           *unstructured.Unstructured
		wantSelector  map[string]string // nil: matchLabels absent
		wantTemplate  map[string]string
		wantSelectorT bool // spec.selector itself present
	}{
		{"completed job", find("db-migrate-v42"), nil,
			map[string]string{"app.kubernetes.io/name": "db-migrate", "app.kubernetes.io/part-of": "shop", "job-name": "db-migrate-v42"}, true},
		{"job owned by a cronjob", find("orders-report-28506360"), nil,
			map[string]string{"app.kubernetes.io/name": "orders-report", "app.kubernetes.io/part-of": "shop", "job-name": "orders-report-28506360"}, true},
		{"1.27 label keys and other selector labels", withNewLabels, map[string]string{"app": "db-migrate"},
			map[string]string{"batch.kubernetes.io/job-name": "db-migrate-v42", "job-name": "db-migrate-v42"}, true},
		{"no selector, no template labels", noSelector, nil, nil, false},
	}
	a := &RestoreAction{}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := tc.job.DeepCopy()
			out, err := a.Execute(context.Background(), &rigging.RestoreItemActionExecuteInput{Item: tc.job, ItemFromBackup: before, Restore: &rigging.Restore{}})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(before.Object, tc.job.Object) {
				t.Error("Execute modified its input")
			}
			got := out.UpdatedItem
			sel, _, _ := unstructured.NestedStringMap(got.Object, "spec", "selector", "matchLabels")
			if !reflect.DeepEqual(sel, tc.wantSelector) {
				t.Errorf("selector %v, want %v", sel, tc.wantSelector)
			}
			if _, found, _ := unstructured.NestedFieldNoCopy(got.Object, "spec", "selector"); found != tc.wantSelectorT {
				t.Errorf("spec.selector present: %v, want %v", found, tc.wantSelectorT)
			}
			tmpl, _, _ := unstructured.NestedStringMap(got.Object, "spec", "template", "metadata", "labels")
			if !reflect.DeepEqual(tmpl, tc.wantTemplate) {
				t.Errorf("template labels %v, want %v", tmpl, tc.wantTemplate)
			}
			if !reflect.DeepEqual(got.GetLabels(), before.GetLabels()) {
				t.Error("the job's own labels changed")
			}
			// Nothing else changes but for the normalisation of Velero's
			// typed round trip.
			norm, err := kube.Normalize[batchv1.Job](Name, before)
			if err != nil {
				t.Fatal(err)
			}
			want := got.DeepCopy()
			for _, f := range [][]string{{"spec", "selector"}, {"spec", "template", "metadata", "labels"}} {
				v, found, _ := unstructured.NestedFieldCopy(norm.Object, f...)
				if found {
					_ = unstructured.SetNestedField(want.Object, v, f...)
				} else {
					unstructured.RemoveNestedField(want.Object, f...)
				}
			}
			if !reflect.DeepEqual(want.Object, norm.Object) {
				t.Error("fields other than the selector and the template labels changed")
			}
		})
	}

	bad := find("db-migrate-v42")
	_ = unstructured.SetNestedField(bad.Object, "controller-uid=x", "spec", "selector", "matchLabels")
	if _, err := a.Execute(context.Background(), &rigging.RestoreItemActionExecuteInput{Item: bad}); err == nil ||
		!strings.Contains(err.Error(), "plugin velero.io/job: Job shop/db-migrate-v42: spec.selector.matchLabels: is string") {
		t.Errorf("malformed selector: error %v", err)
	}
}

func TestRegistered(t *testing.T) {
	e, ok := registry.Default.Lookup(rigging.KindRestoreItemAction, Name)
	if !ok {
		t.Fatal("velero.io/job not registered")
	}
	v, err := e.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	sel, _ := v.(rigging.RestoreItemAction).AppliesTo(context.Background())
	if !reflect.DeepEqual(sel.IncludedResources, []string{"jobs"}) {
		t.Errorf("AppliesTo = %+v", sel)
	}
}

// TestRestoreActionNormalizes: Velero's action converts the job to a typed
// Job and back, which drops fields at their zero value (a claim volume's
// readOnly: false, an empty list); rigging's result is the same.
func TestRestoreActionNormalizes(t *testing.T) {
	job := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "batch/v1", "kind": "Job",
		"metadata": map[string]any{"name": "report", "namespace": "shop"},
		"spec": map[string]any{
			"selector": map[string]any{"matchLabels": map[string]any{"controller-uid": "x"}},
			"template": map[string]any{
				"metadata": map[string]any{"labels": map[string]any{"controller-uid": "x", "job-name": "report"}},
				"spec": map[string]any{
					"restartPolicy": "Never",
					"volumes":       []any{map[string]any{"name": "data", "persistentVolumeClaim": map[string]any{"claimName": "data", "readOnly": false}}},
					"containers":    []any{map[string]any{"name": "report", "image": "busybox", "args": []any{}}},
				},
			},
		},
	}}
	out, err := (&RestoreAction{}).Execute(context.Background(), &rigging.RestoreItemActionExecuteInput{Item: job, ItemFromBackup: job, Restore: &rigging.Restore{}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(out.UpdatedItem.Object["spec"])
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"selector":{},"template":{"metadata":{"labels":{"job-name":"report"}},"spec":{"containers":[{"image":"busybox","name":"report","resources":{}}],"restartPolicy":"Never","volumes":[{"name":"data","persistentVolumeClaim":{"claimName":"data"}}]}}}`
	if string(b) != want {
		t.Errorf("spec\n got %s\nwant %s", b, want)
	}
}
