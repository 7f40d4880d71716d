package backup_test

import (
	"context"
	"errors"
	"slices"
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

// TestAdditionalItemFromLookup: an additional item that is not among the
// items (a backup of a cluster reads only the included namespaces) is got
// from Options.Lookup and backed up; without a Lookup it is a warning.
func TestAdditionalItemFromLookup(t *testing.T) {
	cms := rigging.ResourceSelector{IncludedResources: []string{"configmaps"}}
	items := []*unstructured.Unstructured{obj("v1", "Namespace", "", "app", nil), obj("v1", "ConfigMap", "app", "cm", nil)}
	other := resources.NewIndex(nil)
	if err := other.Add(obj("v1", "ConfigMap", "other", "extra", nil)); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name     string
		lookup   rigging.Lookup
		want     bool
		warnings int
	}{
		{"from the cluster", other, true, 0},
		{"no lookup", nil, false, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			act := &fakeAction{name: "a.example.com/adds", sel: cms,
				exec: func(item *unstructured.Unstructured) (*unstructured.Unstructured, []rigging.ResourceIdentifier, string, []rigging.ResourceIdentifier, error) {
					if item.GetNamespace() != "app" {
						return nil, nil, "", nil, nil
					}
					return nil, []rigging.ResourceIdentifier{cmID("other", "extra")}, "", nil, nil
				}}
			s, sum, err := run(t, backup.Options{Items: items, Plugins: plugins{act}, Lookup: tt.lookup})
			if err != nil {
				t.Fatal(err)
			}
			got := slices.Contains(itemSet(contents(t, s, "b1")), "configmaps/other/extra")
			if got != tt.want || sum.Backup.Status.Warnings != tt.warnings {
				t.Errorf("extra backed up %v (want %v), %d warnings (want %d); items %v", got, tt.want, sum.Backup.Status.Warnings, tt.warnings, itemSet(contents(t, s, "b1")))
			}
		})
	}
}
