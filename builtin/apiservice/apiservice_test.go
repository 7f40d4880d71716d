package apiservice

import (
	"context"
	"reflect"
	"testing"

	"k8s.io/apimachinery/pkg/labels"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/builtin/internal/testmanifest"
	"github.com/rigging-dev/rigging/registry"
)

func TestExecute(t *testing.T) {
	adapter := testmanifest.LoadOne(t, "testdata/prometheus-adapter.yaml", "APIService", "", "v1beta1.custom.metrics.k8s.io")
	withLabel := func(v string) map[string]string { return map[string]string{ManagedLabel: v} }
	tests := []struct {
		name     string
		labels   map[string]string
		wantSkip bool
	}{
		{"user-created adapter APIService is restored", nil, false},
		{"automanaged=true is skipped", withLabel("true"), true},
		{"automanaged=onstart is skipped", withLabel("onstart"), true},
	}
	sel, err := New(nil).AppliesTo(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	selector, err := labels.Parse(sel.LabelSelector)
	if err != nil {
		t.Fatalf("AppliesTo label selector %q: %v", sel.LabelSelector, err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			item := adapter.DeepCopy()
			if tt.labels != nil {
				item.SetLabels(tt.labels)
			}
			before := item.DeepCopy()
			out, err := New(nil).Execute(context.Background(), &rigging.RestoreItemActionExecuteInput{Item: item, ItemFromBackup: before, Restore: &rigging.Restore{}})
			if err != nil {
				t.Fatal(err)
			}
			if out.SkipRestore != tt.wantSkip {
				t.Errorf("SkipRestore = %v, want %v", out.SkipRestore, tt.wantSkip)
			}
			if got := selector.Matches(labels.Set(item.GetLabels())); got != tt.wantSkip {
				t.Errorf("AppliesTo selector matches = %v, want %v", got, tt.wantSkip)
			}
			if !reflect.DeepEqual(item, before) || !reflect.DeepEqual(out.UpdatedItem, before) {
				t.Error("item changed")
			}
		})
	}
}

func TestRegistered(t *testing.T) {
	e, ok := registry.Default.Lookup(rigging.KindRestoreItemAction, Name)
	if !ok {
		t.Fatal("not registered")
	}
	v, err := e.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	sel, _ := v.(rigging.RestoreItemAction).AppliesTo(context.Background())
	if !reflect.DeepEqual(sel.IncludedResources, []string{"apiservices"}) {
		t.Errorf("IncludedResources = %v", sel.IncludedResources)
	}
}
