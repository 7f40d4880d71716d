package backup_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/archive"
	"github.com/rigging-dev/rigging/archive/archivetest"
	"github.com/rigging-dev/rigging/backup"
	"github.com/rigging-dev/rigging/manager"
	"github.com/rigging-dev/rigging/manifest"
	"github.com/rigging-dev/rigging/registry"
)

const bucket = "bkt"

func clusterExport(t testing.TB) []*unstructured.Unstructured {
	t.Helper()
	objs, err := manifest.Load("../testdata/manifests/cluster-export")
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

func obj(apiVersion, kind, ns, name string, lbls map[string]string) *unstructured.Unstructured {
	o := &unstructured.Unstructured{Object: map[string]any{"apiVersion": apiVersion, "kind": kind, "metadata": map[string]any{"name": name}}}
	if ns != "" {
		o.SetNamespace(ns)
	}
	if lbls != nil {
		o.SetLabels(lbls)
	}
	return o
}

// run backs items up into a fresh MemStore and returns the store and summary.
func run(t *testing.T, opts backup.Options) (*archive.Store, *backup.Summary, error) {
	t.Helper()
	store := opts.Store
	if store == nil {
		store = archive.NewStore(archivetest.NewMemStore(), bucket, "")
		opts.Store = store
	}
	if opts.Name == "" {
		opts.Name = "b1"
	}
	if opts.OperationPollInterval == 0 {
		opts.OperationPollInterval = time.Millisecond
	}
	sum, err := backup.Run(context.Background(), opts)
	return store, sum, err
}

func contents(t *testing.T, s *archive.Store, name string) *archive.Contents {
	t.Helper()
	c, err := s.ReadContents(context.Background(), name, archive.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// itemSet lists "gr/ns/name" of every item in the tarball.
func itemSet(c *archive.Contents) []string {
	var out []string
	for _, it := range c.All() {
		out = append(out, it.GroupResource.String()+"/"+it.Namespace+"/"+it.Name)
	}
	return out
}

func TestFilters(t *testing.T) {
	items := []*unstructured.Unstructured{
		obj("v1", "Namespace", "", "app", map[string]string{"team": "a"}),
		obj("v1", "Namespace", "", "other", nil),
		obj("v1", "ConfigMap", "app", "cm", map[string]string{"tier": "web"}),
		obj("v1", "ConfigMap", "other", "cm", nil),
		obj("v1", "Secret", "app", "s", nil),
		obj("v1", "ConfigMap", "app", "excluded", map[string]string{rigging.LabelExcludeFromBackup: "true"}),
		obj("storage.k8s.io/v1", "StorageClass", "", "gp2", nil),
		obj("apps/v1", "Deployment", "kube-x", "d", nil), // namespace without object: made up
		obj("v1", "ServiceAccount", "", "sa", nil),       // no namespace: goes to "default"
	}
	yes, no := true, false
	for _, tc := range []struct {
		name string
		spec rigging.BackupSpec
		want []string
	}{
		{"everything", rigging.BackupSpec{}, []string{
			"configmaps/app/cm", "configmaps/other/cm", "deployments.apps/kube-x/d",
			"namespaces//app", "namespaces//default", "namespaces//kube-x", "namespaces//other", "secrets/app/s",
			"serviceaccounts/default/sa", "storageclasses.storage.k8s.io//gp2"}},
		{"one namespace", rigging.BackupSpec{IncludedNamespaces: []string{"app"}}, []string{
			"configmaps/app/cm", "namespaces//app", "secrets/app/s"}},
		{"namespace glob and exclude", rigging.BackupSpec{IncludedNamespaces: []string{"*"}, ExcludedNamespaces: []string{"o*", "kube-*", "def*"}}, []string{
			"configmaps/app/cm", "namespaces//app", "secrets/app/s"}},
		{"include resources by short name", rigging.BackupSpec{IncludedResources: []string{"cm"}}, []string{
			"configmaps/app/cm", "configmaps/other/cm"}},
		{"exclude resources", rigging.BackupSpec{ExcludedResources: []string{"secrets", "deployments", "sa"}}, []string{
			"configmaps/app/cm", "configmaps/other/cm", "namespaces//app", "namespaces//default", "namespaces//kube-x", "namespaces//other", "storageclasses.storage.k8s.io//gp2"}},
		{"cluster resources off", rigging.BackupSpec{IncludeClusterResources: &no}, []string{
			"configmaps/app/cm", "configmaps/other/cm", "deployments.apps/kube-x/d", "secrets/app/s", "serviceaccounts/default/sa"}},
		{"cluster resources on with namespace", rigging.BackupSpec{IncludedNamespaces: []string{"app"}, IncludeClusterResources: &yes}, []string{
			"configmaps/app/cm", "namespaces//app", "secrets/app/s", "storageclasses.storage.k8s.io//gp2"}},
		{"scoped cluster include", rigging.BackupSpec{IncludedNamespaces: []string{"app"}, IncludedClusterScopedResources: []string{"storageclasses"}}, []string{
			"configmaps/app/cm", "namespaces//app", "secrets/app/s", "storageclasses.storage.k8s.io//gp2"}},
		{"scoped namespaced exclude", rigging.BackupSpec{ExcludedNamespaceScopedResources: []string{"configmaps"}}, []string{
			"deployments.apps/kube-x/d", "namespaces//app", "namespaces//default", "namespaces//kube-x", "namespaces//other", "secrets/app/s",
			"serviceaccounts/default/sa"}},
		{"label selector", rigging.BackupSpec{LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "web"}}}, []string{
			"configmaps/app/cm", "namespaces//app"}},
		{"or selectors", rigging.BackupSpec{OrLabelSelectors: []*metav1.LabelSelector{
			{MatchLabels: map[string]string{"tier": "web"}}, {MatchLabels: map[string]string{"team": "a"}}}}, []string{
			"configmaps/app/cm", "namespaces//app"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, sum, err := run(t, backup.Options{Items: items, Spec: tc.spec})
			if err != nil {
				t.Fatal(err)
			}
			checkItems(t, s, tc.want)
			if sum.Backup.Status.Progress.ItemsBackedUp != len(tc.want) || sum.Backup.Status.Phase != rigging.BackupPhaseCompleted {
				t.Errorf("status %+v", sum.Backup.Status)
			}
		})
	}
}

// fakeAction is a BackupItemActionV2 driven by a function.
type fakeAction struct {
	name string
	sel  rigging.ResourceSelector
	exec func(item *unstructured.Unstructured) (*unstructured.Unstructured, []rigging.ResourceIdentifier, string, []rigging.ResourceIdentifier, error)
	// execCtx, when set, is called instead of exec, with the call's context.
	execCtx  func(ctx context.Context, item *unstructured.Unstructured) (*unstructured.Unstructured, []rigging.ResourceIdentifier, string, []rigging.ResourceIdentifier, error)
	progress func(id string) (rigging.OperationProgress, error)
	mu       sync.Mutex
	seen     []string
	canceled []string
}

func (a *fakeAction) Name() string { return a.name }
func (a *fakeAction) AppliesTo(context.Context) (rigging.ResourceSelector, error) {
	return a.sel, nil
}
func (a *fakeAction) Execute(ctx context.Context, item *unstructured.Unstructured, _ *rigging.Backup) (*unstructured.Unstructured, []rigging.ResourceIdentifier, string, []rigging.ResourceIdentifier, error) {
	a.mu.Lock()
	a.seen = append(a.seen, item.GetNamespace()+"/"+item.GetName())
	a.mu.Unlock()
	if a.execCtx != nil {
		return a.execCtx(ctx, item)
	}
	return a.exec(item)
}
func (a *fakeAction) Progress(_ context.Context, id string, _ *rigging.Backup) (rigging.OperationProgress, error) {
	if a.progress == nil {
		return rigging.OperationProgress{}, rigging.ErrAsyncNotSupported
	}
	return a.progress(id)
}
func (a *fakeAction) Cancel(_ context.Context, id string, _ *rigging.Backup) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.canceled = append(a.canceled, id)
	return nil
}

func managerWith(t *testing.T, actions ...*fakeAction) *manager.Manager {
	t.Helper()
	r := registry.New()
	for _, a := range actions {
		registry.RegisterIn(r, a.name, func(*slog.Logger) (rigging.BackupItemActionV2, error) { return a, nil })
	}
	m := manager.New(manager.Options{Registry: r, Logger: slog.New(slog.DiscardHandler)})
	t.Cleanup(func() { _ = m.Close() })
	return m
}

func cmID(ns, name string) rigging.ResourceIdentifier {
	return rigging.ResourceIdentifier{GroupResource: schemaGR("", "configmaps"), Namespace: ns, Name: name}
}

func TestActions(t *testing.T) {
	items := []*unstructured.Unstructured{
		obj("v1", "Namespace", "", "app", nil),
		obj("v1", "Namespace", "", "other", nil),
		obj("v1", "Secret", "app", "s1", nil),
		obj("v1", "Secret", "app", "fails", nil),
		obj("v1", "Secret", "app", "skipped", nil),
		obj("v1", "Secret", "app", "wants-other", nil),
		obj("v1", "ConfigMap", "app", "extra", nil),
		obj("v1", "ConfigMap", "other", "outside", nil),
	}
	act := &fakeAction{
		name: "example.com/secrets",
		sel:  rigging.ResourceSelector{IncludedResources: []string{"secrets"}},
		exec: func(item *unstructured.Unstructured) (*unstructured.Unstructured, []rigging.ResourceIdentifier, string, []rigging.ResourceIdentifier, error) {
			out := item.DeepCopy()
			out.SetAnnotations(map[string]string{"touched": "yes"})
			switch item.GetName() {
			case "fails":
				return nil, nil, "", nil, errors.New("boom")
			case "skipped":
				out.SetAnnotations(map[string]string{rigging.AnnotationSkipFromBackup: "x"})
			case "s1":
				return out, []rigging.ResourceIdentifier{cmID("app", "extra"), cmID("app", "missing")}, "op-1", []rigging.ResourceIdentifier{cmID("app", "extra")}, nil
			case "wants-other":
				out.SetAnnotations(map[string]string{rigging.AnnotationBackupMustIncludeAdditionalItems: "true"})
				return out, []rigging.ResourceIdentifier{cmID("other", "outside")}, "", nil, nil
			}
			return out, nil, "", nil, nil
		},
	}
	polls := 0
	act.progress = func(id string) (rigging.OperationProgress, error) {
		polls++
		return rigging.OperationProgress{Completed: polls >= 2, NCompleted: int64(polls), NTotal: 2, OperationUnits: "steps"}, nil
	}
	s, sum, err := run(t, backup.Options{Items: items, Spec: rigging.BackupSpec{IncludedNamespaces: []string{"app"}}, Plugins: managerWith(t, act)})
	if err != nil {
		t.Fatal(err)
	}
	c := contents(t, s, "b1")
	got := itemSet(c)
	slices.Sort(got)
	want := []string{"configmaps/app/extra", "configmaps/other/outside", "namespaces//app", "secrets/app/s1", "secrets/app/wants-other"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("items\n got %v\nwant %v", got, want)
	}
	if d := string(c.Get("secrets", "app", "s1").Data); !strings.Contains(d, `"touched":"yes"`) {
		t.Errorf("updated item not stored: %s", d)
	}
	if d := string(c.Get("secrets", "app", "wants-other").Data); strings.Contains(d, "must-include") {
		t.Errorf("must-include annotation kept: %s", d)
	}
	st := sum.Backup.Status
	if st.Phase != rigging.BackupPhasePartiallyFailed || st.Errors != 1 || st.Warnings != 1 {
		t.Errorf("phase %s errors %d warnings %d, want PartiallyFailed 1 1", st.Phase, st.Errors, st.Warnings)
	}
	if !strings.Contains(strings.Join(sum.Results.Errors.Namespaces["app"], "\n"), "boom") {
		t.Errorf("error not recorded under namespace app: %+v", sum.Results.Errors)
	}
	var res archive.Results
	if err := s.ReadBackupJSON(context.Background(), "b1", archive.BackupResults, &res); err != nil {
		t.Fatal(err)
	}
	if res.Errors.Count() != 1 || !strings.Contains(res.Errors.Namespaces["app"][0], "example.com/secrets") {
		t.Errorf("results file %+v", res)
	}
	var ops []archive.BackupOperation
	if err := s.ReadBackupJSON(context.Background(), "b1", archive.BackupItemOperations, &ops); err != nil {
		t.Fatal(err)
	}
	if len(ops) != 1 || ops[0].Status.Phase != archive.OperationPhaseCompleted || ops[0].Spec.OperationID != "op-1" ||
		ops[0].Spec.ResourceIdentifier.Name != "s1" || ops[0].Status.NCompleted != 2 {
		t.Errorf("operations %+v", ops)
	}
	if st.BackupItemOperationsAttempted != 1 || st.BackupItemOperationsCompleted != 1 {
		t.Errorf("operation counts %+v", st)
	}
	// "extra" was backed up once, though reached twice (additional and post-operation item).
	if st.Progress.ItemsBackedUp != 5 {
		t.Errorf("items backed up %d, want 5", st.Progress.ItemsBackedUp)
	}
	var list archive.ResourceList
	if err := s.ReadBackupJSON(context.Background(), "b1", archive.BackupResourceList, &list); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(list["v1/Secret"]) != "[app/s1 app/wants-other]" || fmt.Sprint(list["v1/ConfigMap"]) != "[app/extra other/outside]" {
		t.Errorf("resource list %v", list)
	}
	// The input was not modified.
	if items[2].GetAnnotations() != nil {
		t.Error("input item modified")
	}
}

func TestOperationTimeout(t *testing.T) {
	act := &fakeAction{
		name: "example.com/slow",
		sel:  rigging.ResourceSelector{IncludedResources: []string{"configmaps"}},
		exec: func(item *unstructured.Unstructured) (*unstructured.Unstructured, []rigging.ResourceIdentifier, string, []rigging.ResourceIdentifier, error) {
			return nil, nil, "op-slow", nil, nil
		},
		progress: func(string) (rigging.OperationProgress, error) { return rigging.OperationProgress{}, nil },
	}
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	now := func() time.Time { // each call advances a minute: the timeout passes without waiting
		mu.Lock()
		defer mu.Unlock()
		clock = clock.Add(time.Minute)
		return clock
	}
	_, sum, err := run(t, backup.Options{
		Items:   []*unstructured.Unstructured{obj("v1", "ConfigMap", "app", "cm", nil)},
		Spec:    rigging.BackupSpec{ItemOperationTimeout: metav1.Duration{Duration: 5 * time.Minute}},
		Plugins: managerWith(t, act), Now: now,
	})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Backup.Status.Phase != rigging.BackupPhasePartiallyFailed || sum.Backup.Status.BackupItemOperationsFailed != 1 {
		t.Errorf("status %+v", sum.Backup.Status)
	}
	if len(act.canceled) != 1 {
		t.Errorf("cancelled %v", act.canceled)
	}
}

func TestNameTakenAndLayout(t *testing.T) {
	mem := archivetest.NewMemStore()
	store := archive.NewStore(mem, bucket, "velero")
	items := []*unstructured.Unstructured{obj("v1", "ConfigMap", "app", "cm", nil)}
	if _, _, err := run(t, backup.Options{Items: items, Store: store}); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"velero/backups/b1/b1-itemoperations.json.gz", "velero/backups/b1/b1-logs.gz",
		"velero/backups/b1/b1-podvolumebackups.json.gz", "velero/backups/b1/b1-resource-list.json.gz",
		"velero/backups/b1/b1-results.gz", "velero/backups/b1/b1-volumeinfo.json.gz",
		"velero/backups/b1/b1-volumesnapshots.json.gz", "velero/backups/b1/b1.tar.gz",
		"velero/backups/b1/velero-backup.json",
	}
	if got := mem.Keys(bucket); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("keys\n%s", strings.Join(got, "\n"))
	}
	b, err := store.GetBackup(context.Background(), "b1")
	if err != nil {
		t.Fatal(err)
	}
	st := b.Status
	if st.Phase != rigging.BackupPhaseCompleted || st.FormatVersion != "1.1.0" || st.Version != 1 || st.Expiration == nil ||
		st.Expiration.Sub(st.StartTimestamp.Time) != 720*time.Hour || b.Spec.StorageLocation != "default" ||
		b.Labels[rigging.LabelStorageLocation] != "default" || st.Progress.TotalItems != 2 {
		t.Errorf("metadata %+v", b)
	}
	if _, _, err := run(t, backup.Options{Items: items, Store: store}); !errors.Is(err, archive.ErrBackupExists) {
		t.Errorf("second backup with the same name: %v", err)
	}
	if _, _, err := run(t, backup.Options{Items: items, Name: "Bad/Name"}); !errors.Is(err, archive.ErrInvalidName) {
		t.Errorf("bad name: %v", err)
	}
}

func TestFailingStoreLeavesNothingListed(t *testing.T) {
	items := clusterExport(t)
	for n := int64(1); n <= 9; n++ {
		t.Run(fmt.Sprint("put ", n), func(t *testing.T) {
			mem := archivetest.NewMemStore()
			fs := &archivetest.FailingStore{ObjectStore: mem, FailPut: n}
			store := archive.NewStore(fs, bucket, "")
			_, _, err := run(t, backup.Options{Items: items, Store: store})
			if !errors.Is(err, archivetest.ErrInjected) {
				t.Fatalf("err = %v, want the injected failure", err)
			}
			if keys := mem.Keys(bucket); len(keys) != 0 {
				t.Errorf("objects left: %v", keys)
			}
			listed, err := store.Backups(context.Background())
			if err != nil || len(listed) != 0 {
				t.Errorf("listed %v, %v", listed, err)
			}
		})
	}
}

func TestCancelledBackupLeavesNothing(t *testing.T) {
	mem := archivetest.NewMemStore()
	store := archive.NewStore(mem, bucket, "")
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	_, err := backup.Run(ctx, backup.Options{Name: "b1", Items: clusterExport(t), Store: store, Progress: func(backup.Progress) {
		if n++; n == 10 {
			cancel()
		}
	}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if keys := mem.Keys(bucket); len(keys) != 0 {
		t.Errorf("objects left: %v", keys)
	}
}

func schemaGR(group, resource string) schema.GroupResource {
	return schema.GroupResource{Group: group, Resource: resource}
}

func TestCSIActionsNeedTheFeature(t *testing.T) {
	calls := 0
	act := &fakeAction{name: "velero.io/csi-test", sel: rigging.ResourceSelector{IncludedResources: []string{"configmaps"}},
		exec: func(item *unstructured.Unstructured) (*unstructured.Unstructured, []rigging.ResourceIdentifier, string, []rigging.ResourceIdentifier, error) {
			calls++
			return nil, nil, "", nil, nil
		}}
	items := []*unstructured.Unstructured{obj("v1", "ConfigMap", "app", "cm", nil)}
	m := managerWith(t, act)
	if _, _, err := run(t, backup.Options{Items: items, Plugins: m}); err != nil || calls != 0 {
		t.Fatalf("without EnableCSI: err %v, %d calls", err, calls)
	}
	if _, _, err := run(t, backup.Options{Items: items, Plugins: m, Features: []string{backup.FeatureCSI}}); err != nil || calls != 1 {
		t.Fatalf("with EnableCSI: err %v, %d calls", err, calls)
	}
}

// TestOrderedResources checks that spec.orderedResources moves the listed
// items to the front of their resource, in the given order.
func TestOrderedResources(t *testing.T) {
	items := []*unstructured.Unstructured{
		obj("v1", "ConfigMap", "a", "cm1", nil), obj("v1", "ConfigMap", "a", "cm2", nil),
		obj("v1", "ConfigMap", "b", "cm3", nil), obj("v1", "ConfigMap", "b", "cm4", nil),
	}
	s, _, err := run(t, backup.Options{Items: items, Spec: rigging.BackupSpec{
		IncludedResources: []string{"configmaps"},
		OrderedResources:  map[string]string{"cm": "b/cm4, a/cm2"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	entries, err := archivetest.TarEntries(context.Background(), s, "b1")
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name, "resources/configmaps/namespaces/") {
			order = append(order, strings.TrimSuffix(strings.TrimPrefix(e.Name, "resources/configmaps/namespaces/"), ".json"))
		}
	}
	if got, want := strings.Join(order, " "), "b/cm4 a/cm2 a/cm1 b/cm3"; got != want {
		t.Errorf("order %s, want %s", got, want)
	}
}
