package all_test

import (
	"cmp"
	"context"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/rigging-dev/rigging"
	_ "github.com/rigging-dev/rigging/builtin/all"
	"github.com/rigging-dev/rigging/builtin/internal/actiontest"
	"github.com/rigging-dev/rigging/registry"
	"github.com/rigging-dev/rigging/resources"
)

// recording is a Lookup over a resources.Index that records the resources
// it is asked about.
type recording struct {
	rigging.Lookup
	mu    sync.Mutex
	asked map[schema.GroupResource]bool
}

func (r *recording) note(gr schema.GroupResource) {
	r.mu.Lock()
	r.asked[gr] = true
	r.mu.Unlock()
}

func (r *recording) Get(ctx context.Context, gr schema.GroupResource, namespace, name string) (*unstructured.Unstructured, error) {
	r.note(gr)
	return r.Lookup.Get(ctx, gr, namespace, name)
}

func (r *recording) List(ctx context.Context, gr schema.GroupResource, namespace string) ([]*unstructured.Unstructured, error) {
	r.note(gr)
	return r.Lookup.List(ctx, gr, namespace)
}

// TestBuiltinsDeclareTheirLookups: every built-in item action that reads
// the Lookup, run on each cluster-export object its selector picks,
// declares it (rigging.LookupUser), and reads only the resources it
// declares; an action that declares reads something.
func TestBuiltinsDeclareTheirLookups(t *testing.T) {
	items := actiontest.ClusterExport(t)
	index := resources.NewIndex(resources.NewMapper())
	if err := index.Add(items...); err != nil {
		t.Fatal(err)
	}
	backup := &rigging.Backup{}
	backup.Name, backup.Namespace = "b1", "velero"
	restore := &rigging.Restore{}
	restore.Name, restore.Namespace, restore.Spec.BackupName = "r1", "velero", "b1"
	log := slog.New(slog.DiscardHandler)
	checked := 0
	for _, e := range registry.Default.All() {
		v, err := e.New(log)
		if err != nil {
			t.Fatalf("%s %s: %v", e.Kind, e.Name, err)
		}
		sel, ok := v.(interface {
			AppliesTo(context.Context) (rigging.ResourceSelector, error)
		})
		if !ok {
			continue // not an item action
		}
		t.Run(string(e.Kind)+" "+string(e.Name), func(t *testing.T) {
			rec := &recording{Lookup: index, asked: map[schema.GroupResource]bool{}}
			ctx := rigging.WithLookup(context.Background(), rec)
			s, err := sel.AppliesTo(ctx)
			if err != nil {
				t.Fatal(err)
			}
			m, err := resources.CompileSelector(s, index.Mapper())
			if err != nil {
				t.Fatal(err)
			}
			for _, it := range items {
				if !m.MatchesObject(it) {
					continue
				}
				it := it.DeepCopy()
				// Errors do not matter here, only what was asked.
				switch a := v.(type) {
				case rigging.BackupItemAction:
					_, _, _ = a.Execute(ctx, it, backup)
				case rigging.BackupItemActionV2:
					_, _, _, _, _ = a.Execute(ctx, it, backup)
				case rigging.RestoreItemAction:
					_, _ = a.Execute(ctx, &rigging.RestoreItemActionExecuteInput{Item: it, ItemFromBackup: it.DeepCopy(), Restore: restore})
				case rigging.RestoreItemActionV2:
					_, _ = a.Execute(ctx, &rigging.RestoreItemActionExecuteInput{Item: it, ItemFromBackup: it.DeepCopy(), Restore: restore})
				case rigging.DeleteItemAction:
					_ = a.Execute(ctx, &rigging.DeleteItemActionExecuteInput{Item: it, Backup: backup})
				case rigging.ItemBlockAction:
					_, _ = a.GetRelatedItems(ctx, it, backup)
				}
			}
			declared := rigging.LookupResources(v)
			asked := slices.SortedFunc(maps.Keys(rec.asked), func(a, b schema.GroupResource) int {
				return cmp.Or(strings.Compare(a.Group, b.Group), strings.Compare(a.Resource, b.Resource))
			})
			for _, gr := range asked {
				if !slices.Contains(declared, gr) {
					t.Errorf("reads %s through the Lookup, declares %v", gr, declared)
				}
			}
			if len(declared) > 0 && len(asked) == 0 {
				t.Errorf("declares %v, read nothing on cluster-export", declared)
			}
			checked++
		})
	}
	if checked < 10 {
		t.Errorf("checked only %d item actions", checked)
	}
}
