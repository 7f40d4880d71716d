package cluster_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/archive"
	"github.com/rigging-dev/rigging/archive/archivetest"
	"github.com/rigging-dev/rigging/backup"
	"github.com/rigging-dev/rigging/cluster"
	"github.com/rigging-dev/rigging/internal/testcluster"
)

var grCMs = schema.GroupResource{Resource: "configmaps"}

// collectNamespace returns a Lookup of c and the objects of a backup of
// namespace ns it collected.
func collectNamespace(t *testing.T, c *testcluster.Cluster, ns string) (*cluster.Lookup, []*unstructured.Unstructured) {
	t.Helper()
	l, err := cluster.NewLookup(c.Config(), cluster.LookupOptions{})
	if err != nil {
		t.Fatal(err)
	}
	items, warnings, err := l.Collect(context.Background(), cluster.CollectOptions{Namespaces: []string{ns}})
	if err != nil || len(warnings) > 0 {
		t.Fatalf("Collect: %v %v", warnings, err)
	}
	return l, items
}

// actions is a backup.Plugins of BackupItemActionV2s only.
type actions []rigging.BackupItemActionV2

func (a actions) BackupItemActionsV2(context.Context) ([]rigging.BackupItemActionV2, error) {
	return a, nil
}

func (actions) ItemBlockActions(context.Context) ([]rigging.ItemBlockAction, error) { return nil, nil }

// addsAction returns, on its trigger item, additional items after running
// before (which may change the cluster).
type addsAction struct {
	trigger    string
	additional []rigging.ResourceIdentifier
	before     func(ctx context.Context) error
}

func (*addsAction) Name() string { return "test.rigging.dev/adds" }

func (*addsAction) AppliesTo(context.Context) (rigging.ResourceSelector, error) {
	return rigging.ResourceSelector{IncludedResources: []string{"configmaps"}}, nil
}

func (a *addsAction) Execute(ctx context.Context, item *unstructured.Unstructured, _ *rigging.Backup) (*unstructured.Unstructured, []rigging.ResourceIdentifier, string, []rigging.ResourceIdentifier, error) {
	if item.GetName() != a.trigger {
		return item, nil, "", nil, nil
	}
	if err := a.before(ctx); err != nil {
		return nil, nil, "", nil, err
	}
	return item, a.additional, "", nil, nil
}

func (*addsAction) Progress(context.Context, string, *rigging.Backup) (rigging.OperationProgress, error) {
	return rigging.OperationProgress{}, nil
}

func (*addsAction) Cancel(context.Context, string, *rigging.Backup) error { return nil }

// TestBackupFetchesAdditionalItems: a backup of the cluster gets an
// additional item that is not in its item's block from the API server, as
// Velero does: one deleted since the backup listed it is a warning naming
// it (not the stale copy the list read), and one changed since is backed
// up as it is now.
func TestBackupFetchesAdditionalItems(t *testing.T) {
	c := testcluster.Get(t)
	ctx := context.Background()
	const ns = "fetch"
	cm := func(name, v string) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{"name": name, "namespace": ns}, "data": map[string]any{"v": v}}}
	}
	if err := c.Seed(ctx, []*unstructured.Unstructured{
		{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": ns}}},
		cm("a-trigger", "1"), cm("b-deleted", "1"), cm("c-changed", "1"),
	}); err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(c.Config())
	if err != nil {
		t.Fatal(err)
	}
	cms := dyn.Resource(grCMs.WithVersion("v1")).Namespace(ns)

	l, items := collectNamespace(t, c, ns)
	act := &addsAction{
		trigger: "a-trigger",
		additional: []rigging.ResourceIdentifier{
			{GroupResource: grCMs, Namespace: ns, Name: "b-deleted"},
			{GroupResource: grCMs, Namespace: ns, Name: "c-changed"},
		},
		// Between the list and the get.
		before: func(ctx context.Context) error {
			if err := cms.Delete(ctx, "b-deleted", metav1.DeleteOptions{}); err != nil {
				return err
			}
			_, err := cms.Update(ctx, cm("c-changed", "2"), metav1.UpdateOptions{})
			return err
		},
	}
	store := archive.NewStore(archivetest.NewMemStore(), "bkt", "")
	// One worker: c-changed is also an item of its own block, which more
	// workers could run before a-trigger's action changes it; the test is
	// about the order Velero's backup has, one block after another.
	sum, err := backup.Run(ctx, backup.Options{Name: "fetch", Items: items, Lookup: l, Store: store, Plugins: actions{act},
		Spec: rigging.BackupSpec{IncludedNamespaces: []string{ns}}, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	warnings := strings.Join(sum.Results.Warnings.Namespaces[ns], "\n")
	if sum.Backup.Status.Warnings != 1 || !strings.Contains(warnings, "additional item was not found in the cluster") || !strings.Contains(warnings, "configmaps/fetch/b-deleted") {
		t.Errorf("%d warnings, want one naming the deleted configmap: %+v", sum.Backup.Status.Warnings, sum.Results.Warnings)
	}
	contents, err := store.ReadContents(ctx, "fetch", archive.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	var changed struct{ Data map[string]string }
	if it := contents.Get("configmaps", ns, "c-changed"); it == nil {
		t.Fatal("c-changed not backed up")
	} else if err := json.Unmarshal(it.Data, &changed); err != nil || changed.Data["v"] != "2" {
		t.Errorf("c-changed backed up as %s (%v), want its data as it is after the change", it.Data, err)
	}
}

// TestBackupPodHooksNotRun: a pod of the cluster whose annotations ask for
// exec hooks is backed up, and each hook is a warning naming it, the pod
// and the container: rigging runs no hooks.
func TestBackupPodHooksNotRun(t *testing.T) {
	c := testcluster.Get(t)
	ctx := context.Background()
	const ns = "hooks"
	pod := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Pod",
		"metadata": map[string]any{"name": "db-0", "namespace": ns, "annotations": map[string]any{
			"pre.hook.backup.velero.io/container":  "db",
			"pre.hook.backup.velero.io/command":    `["/bin/sh", "-c", "pg_ctl stop"]`,
			"post.hook.backup.velero.io/container": "db",
			"post.hook.backup.velero.io/command":   "/start",
		}},
		"spec": map[string]any{"containers": []any{map[string]any{"name": "db", "image": "postgres:16"}}}}}
	if err := c.Seed(ctx, []*unstructured.Unstructured{
		{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": ns}}}, pod,
	}); err != nil {
		t.Fatal(err)
	}
	l, items := collectNamespace(t, c, ns)
	store := archive.NewStore(archivetest.NewMemStore(), "bkt", "")
	sum, err := backup.Run(ctx, backup.Options{Name: "hooks", Items: items, Lookup: l, Store: store,
		Spec: rigging.BackupSpec{IncludedNamespaces: []string{ns}}})
	if err != nil {
		t.Fatal(err)
	}
	got := sum.Results.Warnings.Namespaces[ns]
	want := []string{
		`pre hook <from-annotation> not run in container "db" of pod hooks/db-0`,
		`post hook <from-annotation> not run in container "db" of pod hooks/db-0`,
	}
	if len(got) != len(want) {
		t.Fatalf("warnings %q, want %d", got, len(want))
	}
	for i, w := range want {
		if !strings.Contains(got[i], w) {
			t.Errorf("warning %q does not say %q", got[i], w)
		}
	}
	contents, err := store.ReadContents(ctx, "hooks", archive.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if contents.Get("pods", ns, "db-0") == nil {
		t.Error("the pod is not backed up")
	}
}

// TestBackupAPIGroupVersions: with Velero's EnableAPIGroupVersions feature,
// an object of a resource served in two versions is backed up in both, as
// Velero writes them: the preferred one at the classic path and under
// v1-preferredversion, the other under v1beta1 only, with its own
// apiVersion, each in the resource list. Without the feature, only the
// preferred version.
func TestBackupAPIGroupVersions(t *testing.T) {
	c := testcluster.Get(t)
	ctx := context.Background()
	const ns = "versions"
	if err := c.Seed(ctx, testcluster.TwoVersions(ns)); err != nil {
		t.Fatal(err)
	}
	const gr = testcluster.VersionedCRD
	tests := []struct {
		name     string
		features []string
		entries  map[string]string // tar entry -> apiVersion of its object
		list     []string          // resource list keys of the widget
	}{
		{"preferred only", nil, map[string]string{
			"resources/" + gr + "/namespaces/versions/w1.json":                     "versions.example.com/v1",
			"resources/" + gr + "/v1-preferredversion/namespaces/versions/w1.json": "versions.example.com/v1",
		}, []string{"versions.example.com/v1/Widget"}},
		{"every version", []string{backup.FeatureAPIGroupVersions}, map[string]string{
			"resources/" + gr + "/namespaces/versions/w1.json":                     "versions.example.com/v1",
			"resources/" + gr + "/v1-preferredversion/namespaces/versions/w1.json": "versions.example.com/v1",
			"resources/" + gr + "/v1beta1/namespaces/versions/w1.json":             "versions.example.com/v1beta1",
		}, []string{"versions.example.com/v1/Widget", "versions.example.com/v1beta1/Widget"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, items := collectNamespace(t, c, ns)
			store := archive.NewStore(archivetest.NewMemStore(), "bkt", "")
			sum, err := backup.Run(ctx, backup.Options{Name: "v", Items: items, Lookup: l, Store: store, Features: tt.features,
				Spec: rigging.BackupSpec{IncludedNamespaces: []string{ns}}})
			if err != nil {
				t.Fatal(err)
			}
			if st := sum.Backup.Status; st.Errors+st.Warnings > 0 {
				t.Fatalf("%d errors, %d warnings: %+v", st.Errors, st.Warnings, sum.Results)
			}
			list, err := archivetest.TarEntries(ctx, store, "v")
			if err != nil {
				t.Fatal(err)
			}
			entries := map[string][]byte{}
			for _, e := range list {
				entries[e.Name] = e.Data
			}
			for path, data := range entries {
				if !strings.Contains(path, "/"+gr+"/") {
					continue
				}
				want, ok := tt.entries[path]
				var o struct{ APIVersion string }
				if err := json.Unmarshal(data, &o); err != nil || !ok || o.APIVersion != want {
					t.Errorf("entry %s holds apiVersion %q (%v), want %q (wanted %v)", path, o.APIVersion, err, want, ok)
				}
			}
			for path := range tt.entries {
				if _, ok := entries[path]; !ok {
					t.Errorf("no entry %s", path)
				}
			}
			var resources map[string][]string
			if err := store.ReadBackupJSON(ctx, "v", archive.BackupResourceList, &resources); err != nil {
				t.Fatal(err)
			}
			var keys []string
			for k, names := range resources {
				if strings.HasSuffix(k, "/Widget") && slices.Equal(names, []string{ns + "/w1"}) {
					keys = append(keys, k)
				}
			}
			slices.Sort(keys)
			if !slices.Equal(keys, tt.list) {
				t.Errorf("resource list keys of w1 %v, want %v", keys, tt.list)
			}
			// The namespace, the CRD and the widget in each version.
			if n := sum.Backup.Status.Progress.ItemsBackedUp; n != 2+len(tt.list) {
				t.Errorf("%d items backed up, want %d", n, 2+len(tt.list))
			}
		})
	}
}
