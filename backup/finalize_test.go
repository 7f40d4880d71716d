package backup_test

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/backup"
	"github.com/rigging-dev/rigging/manager"
	"github.com/rigging-dev/rigging/registry"
)

// phaseAction starts an operation on every ConfigMap of a backup that is
// not finalizing, naming as its post-operation items the ConfigMap and
// "<name>-content", as the CSI VolumeSnapshot backupper names a snapshot and
// its content; in a finalizing backup it starts none and deletes
// "<name>-content" from the cluster (its lookup), as that backupper does.
// It records the phase of each backup it is given. The operation on a
// ConfigMap named "broken" fails.
type phaseAction struct {
	mu      sync.Mutex
	phases  []rigging.BackupPhase
	cluster *mapLookup
}

func (a *phaseAction) Name() string { return "example.com/phase" }
func (a *phaseAction) AppliesTo(context.Context) (rigging.ResourceSelector, error) {
	return rigging.ResourceSelector{IncludedResources: []string{"configmaps"}}, nil
}
func (a *phaseAction) Execute(_ context.Context, item *unstructured.Unstructured, b *rigging.Backup) (*unstructured.Unstructured, []rigging.ResourceIdentifier, string, []rigging.ResourceIdentifier, error) {
	a.mu.Lock()
	a.phases = append(a.phases, b.Status.Phase)
	a.mu.Unlock()
	ns, name := item.GetNamespace(), item.GetName()
	if strings.HasSuffix(name, "-content") {
		return item, nil, "", nil, nil
	}
	if p := b.Status.Phase; p == rigging.BackupPhaseFinalizing || p == rigging.BackupPhaseFinalizingPartiallyFailed {
		a.cluster.delete(ns, name+"-content")
		return item, nil, "", nil, nil
	}
	return item, nil, name, []rigging.ResourceIdentifier{cmID(ns, name), cmID(ns, name+"-content")}, nil
}
func (a *phaseAction) Progress(_ context.Context, id string, _ *rigging.Backup) (rigging.OperationProgress, error) {
	p := rigging.OperationProgress{Completed: true}
	if id == "broken" {
		p.Err = "the operation failed"
	}
	return p, nil
}
func (a *phaseAction) Cancel(context.Context, string, *rigging.Backup) error { return nil }

// mapLookup is a cluster of ConfigMaps in namespace app.
type mapLookup struct {
	mu   sync.Mutex
	objs map[string]*unstructured.Unstructured
}

func (l *mapLookup) Get(_ context.Context, gr schema.GroupResource, namespace, name string) (*unstructured.Unstructured, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if o, ok := l.objs[name]; ok && gr.Resource == "configmaps" && namespace == "app" {
		return o, nil
	}
	return nil, rigging.ErrNotFound
}

func (l *mapLookup) List(context.Context, schema.GroupResource, string) ([]*unstructured.Unstructured, error) {
	return nil, nil
}

func (l *mapLookup) delete(namespace, name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.objs, name)
}

// TestFinalizePhase: the actions run on post-operation items with the
// Backup in phase Finalizing, or FinalizingPartiallyFailed once an
// operation failed (Velero's finalizer), so an action that starts an
// operation only outside finalizing does not start one there; the backup
// still ends Completed or PartiallyFailed. Every post-operation item is
// read before the actions run on any (Velero's finalizer), so one that an
// action deletes from the cluster while finalizing is still backed up.
func TestFinalizePhase(t *testing.T) {
	tests := []struct {
		name      string
		configMap []string
		want      []rigging.BackupPhase
		end       rigging.BackupPhase
	}{
		{"operations completed", []string{"cm"},
			[]rigging.BackupPhase{rigging.BackupPhaseInProgress, rigging.BackupPhaseFinalizing, rigging.BackupPhaseFinalizing}, rigging.BackupPhaseCompleted},
		{"an operation failed", []string{"broken", "cm"},
			[]rigging.BackupPhase{rigging.BackupPhaseInProgress, rigging.BackupPhaseInProgress, rigging.BackupPhaseFinalizingPartiallyFailed, rigging.BackupPhaseFinalizingPartiallyFailed},
			rigging.BackupPhasePartiallyFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cluster := &mapLookup{objs: map[string]*unstructured.Unstructured{}}
			act := &phaseAction{cluster: cluster}
			r := registry.New()
			registry.RegisterIn(r, act.Name(), func(*slog.Logger) (rigging.BackupItemActionV2, error) { return act, nil })
			m := manager.New(manager.Options{Registry: r, Logger: slog.New(slog.DiscardHandler)})
			t.Cleanup(func() { _ = m.Close() })
			var items []*unstructured.Unstructured
			for _, name := range tt.configMap {
				items = append(items, obj("v1", "ConfigMap", "app", name, nil))
				cluster.objs[name+"-content"] = obj("v1", "ConfigMap", "app", name+"-content", nil)
			}
			s, sum, err := run(t, backup.Options{Items: items, Lookup: cluster, Plugins: m, Workers: 1})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(act.phases, tt.want) {
				t.Errorf("the action saw phases %v, want %v", act.phases, tt.want)
			}
			if st := sum.Backup.Status; st.Phase != tt.end || st.Warnings != 0 {
				t.Errorf("backup ended %s (errors %d: %+v, warnings %+v), want %s without warnings", st.Phase, st.Errors, sum.Results.Errors, sum.Results.Warnings, tt.end)
			}
			if c := contents(t, s, "b1"); c.Get("configmaps", "app", "cm-content") == nil {
				t.Errorf("the post-operation item deleted while finalizing is not in the backup: %v", itemSet(c))
			}
		})
	}
}

// fetchLookup is a Lookup over a live cluster: Get answers from what it
// read (old), Fetch from the cluster as it is now (current).
type fetchLookup struct {
	old, current map[string]*unstructured.Unstructured
}

func (l fetchLookup) Get(_ context.Context, _ schema.GroupResource, _, name string) (*unstructured.Unstructured, error) {
	if o, ok := l.old[name]; ok {
		return o, nil
	}
	return nil, rigging.ErrNotFound
}

func (l fetchLookup) List(context.Context, schema.GroupResource, string) ([]*unstructured.Unstructured, error) {
	return nil, nil
}

func (l fetchLookup) Fetch(_ context.Context, _ schema.GroupResource, _, name string) (*unstructured.Unstructured, error) {
	if o, ok := l.current[name]; ok {
		return o, nil
	}
	return nil, rigging.ErrNotFound
}

// TestAdditionalItemsFetched: with a Lookup that can Fetch (a live
// cluster's), the additional items an action names come from Fetch, as
// Velero gets them from the API server: one created during the backup is
// backed up, as is the current version of one changed since it was read.
func TestAdditionalItemsFetched(t *testing.T) {
	labelled := func(name, v string) *unstructured.Unstructured {
		return obj("v1", "ConfigMap", "app", name, map[string]string{"v": v})
	}
	act := &fakeAction{
		name: "example.com/adds",
		sel:  rigging.ResourceSelector{IncludedResources: []string{"secrets"}},
		exec: func(item *unstructured.Unstructured) (*unstructured.Unstructured, []rigging.ResourceIdentifier, string, []rigging.ResourceIdentifier, error) {
			return item, []rigging.ResourceIdentifier{cmID("app", "changed"), cmID("app", "created")}, "", nil, nil
		},
	}
	l := fetchLookup{
		old:     map[string]*unstructured.Unstructured{"changed": labelled("changed", "old")},
		current: map[string]*unstructured.Unstructured{"changed": labelled("changed", "new"), "created": labelled("created", "new")},
	}
	s, sum, err := run(t, backup.Options{Items: []*unstructured.Unstructured{obj("v1", "Secret", "app", "s", nil)}, Lookup: l, Plugins: managerWith(t, act)})
	if err != nil || sum.Backup.Status.Warnings+sum.Backup.Status.Errors != 0 {
		t.Fatalf("%v %+v", err, sum.Results)
	}
	c := contents(t, s, "b1")
	for _, name := range []string{"changed", "created"} {
		it := c.Get("configmaps", "app", name)
		if it == nil {
			t.Errorf("configmap %s not backed up: %v", name, itemSet(c))
			continue
		}
		if o, err := it.Object(); err != nil || o.GetLabels()["v"] != "new" {
			t.Errorf("configmap %s backed up as %v (%v), want its current version", name, o, err)
		}
	}
}
