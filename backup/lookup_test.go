package backup_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/backup"
	"github.com/rigging-dev/rigging/resources"
)

// lookupAction is a fakeAction that records the Lookup its calls see.
type lookupAction struct {
	*fakeAction
	seen []rigging.Lookup
}

func (a *lookupAction) Execute(ctx context.Context, item *unstructured.Unstructured, _ *rigging.Backup) (*unstructured.Unstructured, []rigging.ResourceIdentifier, string, []rigging.ResourceIdentifier, error) {
	a.seen = append(a.seen, rigging.LookupFrom(ctx))
	return item, nil, "", nil, nil
}

// TestLookupAndWarnings: the plugins see Options.Lookup when it is set (a
// backup of a live cluster) and an index of the items otherwise; each of
// Options.Warnings is a warning of the backup, in its results.
func TestLookupAndWarnings(t *testing.T) {
	cms := rigging.ResourceSelector{IncludedResources: []string{"configmaps"}}
	items := []*unstructured.Unstructured{obj("v1", "Namespace", "", "app", nil), obj("v1", "ConfigMap", "app", "cm", nil)}
	clusterLookup := resources.NewIndex(nil)
	tests := []struct {
		name     string
		lookup   rigging.Lookup
		warnings []error
	}{
		{"items", nil, nil},
		{"cluster", clusterLookup, []error{errors.New(`secrets is forbidden: User "backup" cannot list resource "secrets"`)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			act := &lookupAction{fakeAction: &fakeAction{name: "a.example.com/lookup", sel: cms}}
			_, sum, err := run(t, backup.Options{Items: items, Plugins: plugins{act}, Lookup: tt.lookup, Warnings: tt.warnings})
			if err != nil {
				t.Fatal(err)
			}
			if len(act.seen) != 1 {
				t.Fatalf("action called %d times", len(act.seen))
			}
			if tt.lookup != nil && act.seen[0] != tt.lookup {
				t.Errorf("the action saw %T, not Options.Lookup", act.seen[0])
			}
			if tt.lookup == nil {
				if _, err := act.seen[0].Get(context.Background(), schemaGR("", "configmaps"), "app", "cm"); err != nil {
					t.Errorf("the items' Lookup lacks the item: %v", err)
				}
			}
			if got := sum.Backup.Status.Warnings; got != len(tt.warnings) {
				t.Errorf("%d warnings, want %d", got, len(tt.warnings))
			}
			all := strings.Join(append(sum.Results.Warnings.Velero, sum.Results.Warnings.Cluster...), "\n")
			for _, w := range tt.warnings {
				if !strings.Contains(all, w.Error()) {
					t.Errorf("results %+v lack warning %q", sum.Results.Warnings, w)
				}
			}
		})
	}
}
