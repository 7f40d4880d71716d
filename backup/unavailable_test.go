package backup_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/archive"
	"github.com/rigging-dev/rigging/archive/archivetest"
	"github.com/rigging-dev/rigging/backup"
)

// TestPluginUnavailable: an Execute that fails with
// rigging.ErrPluginUnavailable (the plugin process died during the call) is
// made once more; the backup is then complete. Unavailable twice, the
// backup fails and nothing is left in the location. Any other plugin error
// is recorded against the item (PartiallyFailed), as before.
func TestPluginUnavailable(t *testing.T) {
	unavailable := fmt.Errorf("Execute: error reading from server: EOF; the plugin process died: %w", rigging.ErrPluginUnavailable)
	tests := []struct {
		name      string
		failures  int   // Execute calls on the target item that fail
		err       error // with this error
		wantCalls int   // Execute calls on the target item
		wantErr   error // Run's error; nil: the backup is listed
		wantPhase rigging.BackupPhase
		wantItems int
	}{
		{"no failure", 0, nil, 1, nil, rigging.BackupPhaseCompleted, 4},
		{"unavailable once", 1, unavailable, 2, nil, rigging.BackupPhaseCompleted, 4},
		{"unavailable always", 1 << 30, unavailable, 2, rigging.ErrPluginUnavailable, "", 0},
		{"plugin error", 1 << 30, errors.New("boom"), 1, nil, rigging.BackupPhasePartiallyFailed, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			items := []*unstructured.Unstructured{
				obj("v1", "Namespace", "", "app", nil),
				obj("v1", "ConfigMap", "app", "a", nil),
				obj("v1", "ConfigMap", "app", "target", nil),
				obj("v1", "ConfigMap", "app", "z", nil),
			}
			calls := 0
			act := &fakeAction{
				name: "example.com/crashy",
				sel:  rigging.ResourceSelector{IncludedResources: []string{"configmaps"}},
				exec: func(item *unstructured.Unstructured) (*unstructured.Unstructured, []rigging.ResourceIdentifier, string, []rigging.ResourceIdentifier, error) {
					if item.GetName() == "target" {
						if calls++; calls <= tt.failures {
							return nil, nil, "", nil, tt.err
						}
					}
					out := item.DeepCopy()
					out.SetAnnotations(map[string]string{"seen-by": "crashy"})
					return out, nil, "", nil, nil
				},
			}
			mem := archivetest.NewMemStore()
			store := archive.NewStore(mem, bucket, "")
			_, sum, err := run(t, backup.Options{Items: items, Store: store, Plugins: managerWith(t, act)})
			if calls != tt.wantCalls {
				t.Errorf("Execute called %d times on the target item, want %d", calls, tt.wantCalls)
			}
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Run error = %v, want %v", err, tt.wantErr)
				}
				if keys := mem.Keys(bucket); len(keys) != 0 {
					t.Errorf("objects left in the location: %v", keys)
				}
				listed, err := store.Backups(context.Background())
				if err != nil || len(listed) != 0 {
					t.Errorf("listed %v, %v", listed, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if sum.Backup.Status.Phase != tt.wantPhase {
				t.Errorf("phase %s, want %s (results %+v)", sum.Backup.Status.Phase, tt.wantPhase, sum.Results)
			}
			c := contents(t, store, "b1")
			if c.Len() != tt.wantItems {
				t.Errorf("%d items in the backup, want %d: %v", c.Len(), tt.wantItems, itemSet(c))
			}
			if tt.wantPhase == rigging.BackupPhaseCompleted && !slices.Contains(itemSet(c), "configmaps/app/target") {
				t.Errorf("target item missing: %v", itemSet(c))
			}
		})
	}
}
