package restore_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/archive"
	"github.com/rigging-dev/rigging/archive/archivetest"
	"github.com/rigging-dev/rigging/backup"
	"github.com/rigging-dev/rigging/manager"
	"github.com/rigging-dev/rigging/manifest"
	"github.com/rigging-dev/rigging/registry"
	"github.com/rigging-dev/rigging/restore"
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

// memOutput collects restored objects in order (a SequentialOutput).
type memOutput struct {
	objs []*unstructured.Unstructured
	grs  []string
}

func (m *memOutput) Write(_ context.Context, it restore.Item) (restore.Outcome, error) {
	m.objs = append(m.objs, it.Object.DeepCopy())
	m.grs = append(m.grs, it.Resource)
	return restore.Outcome{Action: rigging.RestoreActionCreated}, nil
}
func (m *memOutput) Close() error { return nil }
func (m *memOutput) Sequential()  {}

func (m *memOutput) find(kind, ns, name string) *unstructured.Unstructured {
	for _, o := range m.objs {
		if o.GetKind() == kind && o.GetNamespace() == ns && o.GetName() == name {
			return o
		}
	}
	return nil
}

func backupOf(t *testing.T, items []*unstructured.Unstructured, plugins backup.Plugins) *archive.Store {
	t.Helper()
	store := archive.NewStore(archivetest.NewMemStore(), bucket, "")
	if _, err := backup.Run(context.Background(), backup.Options{Name: "b1", Items: items, Store: store, Plugins: plugins}); err != nil {
		t.Fatal(err)
	}
	return store
}

func runRestore(t *testing.T, store *archive.Store, opts restore.Options) (*memOutput, *restore.Summary) {
	t.Helper()
	out := &memOutput{}
	opts.Store, opts.Output = store, out
	if opts.Name == "" {
		opts.Name = "r1"
	}
	opts.BackupName = "b1"
	sum, err := restore.Run(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return out, sum
}

// strip removes what a restore removes, for comparison.
func strip(o *unstructured.Unstructured) map[string]any {
	c := o.DeepCopy()
	md := c.Object["metadata"].(map[string]any)
	for _, k := range []string{"generateName", "selfLink", "uid", "resourceVersion", "generation", "creationTimestamp",
		"deletionTimestamp", "deletionGracePeriodSeconds", "ownerReferences"} {
		delete(md, k)
	}
	delete(c.Object, "status")
	if k := c.GetKind(); k == "PersistentVolume" || k == "PersistentVolumeClaim" {
		// The volume controllers' binding goes (Velero's resetVolumeBindingInfo).
		unstructured.RemoveNestedField(c.Object, "spec", "claimRef", "uid")
		unstructured.RemoveNestedField(c.Object, "spec", "claimRef", "resourceVersion")
		if ann := c.GetAnnotations(); ann != nil {
			delete(ann, "pv.kubernetes.io/bind-completed")
			delete(ann, "pv.kubernetes.io/bound-by-controller")
			c.SetAnnotations(ann)
		}
	}
	return c.Object
}

// TestRoundTrip backs up cluster-export without actions and restores it:
// every restored object equals its input minus what Velero strips, plus the
// two restore labels; what is not restored is exactly what Velero skips.
func TestRoundTrip(t *testing.T) {
	items := clusterExport(t)
	store := backupOf(t, items, nil)
	out, sum := runRestore(t, store, restore.Options{})
	if sum.Restore.Status.Phase != rigging.RestorePhaseCompleted || sum.Restore.Status.Errors != 0 {
		t.Fatalf("status %+v %+v", sum.Restore.Status, sum.Results.Errors)
	}
	restored := map[string]*unstructured.Unstructured{}
	for _, o := range out.objs {
		restored[o.GetKind()+"/"+o.GetNamespace()+"/"+o.GetName()] = o
	}
	var missing []string
	for _, in := range items {
		key := in.GetKind() + "/" + in.GetNamespace() + "/" + in.GetName()
		got := restored[key]
		if got == nil {
			missing = append(missing, key)
			continue
		}
		if in.GetKind() == "Namespace" {
			// Created as Velero creates namespaces: name, labels,
			// annotations and spec from the backup, no restore labels.
			if !reflect.DeepEqual(got.GetLabels(), in.GetLabels()) {
				t.Errorf("%s: labels %v", key, got.GetLabels())
			}
			continue
		}
		lbls := got.GetLabels()
		if lbls[rigging.LabelBackupName] != "b1" || lbls[rigging.LabelRestoreName] != "r1" {
			t.Errorf("%s: labels %v", key, lbls)
		}
		g := got.DeepCopy()
		l := g.GetLabels()
		delete(l, rigging.LabelBackupName)
		delete(l, rigging.LabelRestoreName)
		if len(l) == 0 {
			unstructured.RemoveNestedField(g.Object, "metadata", "labels")
		} else {
			g.SetLabels(l)
		}
		want := strip(in)
		if vn, _, _ := unstructured.NestedString(want, "spec", "volumeName"); in.GetKind() == "PersistentVolumeClaim" && restored["PersistentVolume//"+vn] == nil {
			// Its volume is provisioned again.
			unstructured.RemoveNestedField(want, "spec", "volumeName")
		}
		if !reflect.DeepEqual(normalize(t, want), normalize(t, g.Object)) {
			t.Errorf("%s differs after the round trip", key)
		}
	}
	slices.Sort(missing)
	want := []string{
		"Event/shop/postgres-0.17bc4a2f3e5d6a01", "Event/shop/storefront-6d4cf56db6-2jxkq.17bc4a1e9c8d7b02",
		"Job/shop/db-migrate-v42", "Job/shop/orders-report-28506360",
		"Node//ip-10-0-1-23.eu-west-1.compute.internal", "Node//ip-10-0-2-47.eu-west-1.compute.internal",
		"PersistentVolume//pvc-4bfcbf27-8286-49ad-9281-8d33906bb842", "PersistentVolume//pvc-6799d81d-c5fd-4290-b3ba-9ca9c35cdfcf",
		"PersistentVolume//pvc-ed173a47-6f0a-45a4-831a-17d847759f56", "PersistentVolume//pvc-fdaa0c8d-a004-43bb-8405-675f02589234",
		"Pod/shop/db-migrate-v42-9xw4k", "Pod/shop/orders-report-28506360-x7k2p",
		"VolumeAttachment//csi-1b4f6c2e8d0a9e7f3c5b1d2a4e6f8a0c9b7d5e3f1a2c4b6d8e0f2a4c6e8b0d2f",
	}
	if len(missing) < 10 {
		t.Errorf("missing only %v", missing)
	}
	for _, m := range missing {
		kind := strings.SplitN(m, "/", 2)[0]
		// VolumeSnapshots and their contents that exist before a backup
		// are left out of it, as Velero's backup controller leaves them.
		if !slices.Contains([]string{"Event", "Node", "VolumeAttachment", "Job", "Pod", "PersistentVolume", "VolumeSnapshot", "VolumeSnapshotContent"}, kind) {
			t.Errorf("%s not restored", m)
		}
	}
	for _, w := range want {
		if strings.HasPrefix(w, "Event/") || strings.HasPrefix(w, "VolumeAttachment/") {
			continue // names checked by kind above
		}
		if !slices.Contains(missing, w) {
			t.Errorf("%s restored, Velero skips it", w)
		}
	}
	if restored["PersistentVolume//shop-assets-nfs"] == nil {
		t.Error("the Retain PV shop-assets-nfs was not restored")
	}
	// Order: CRDs, then namespaces, then the high-priority list.
	pos := func(gr string) int { return slices.Index(out.grs, gr) }
	if !(pos("customresourcedefinitions.apiextensions.k8s.io") < pos("namespaces") && pos("namespaces") < pos("storageclasses.storage.k8s.io") &&
		pos("persistentvolumeclaims") < pos("pods") && pos("pods") < pos("deployments.apps") && pos("deployments.apps") < pos("featureflags.shop.example.com")) {
		t.Errorf("restore order %v", slices.Compact(slices.Clone(out.grs)))
	}
	// Logs and results are in the location as Velero writes them.
	for _, f := range []archive.RestoreFile{archive.RestoreLog, archive.RestoreResults, archive.RestoreResourceList, archive.RestoreItemOperations, archive.RestoreVolumeInfo} {
		if ok, _ := store.Objects.ObjectExists(context.Background(), bucket, store.Layout.RestoreKey("r1", f)); !ok {
			t.Errorf("missing %s", store.Layout.RestoreKey("r1", f))
		}
	}
	var list map[string][]string
	rc, err := store.Objects.GetObject(context.Background(), bucket, store.Layout.RestoreKey("r1", archive.RestoreResourceList))
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if err := archive.ReadJSONGzip(rc, &list); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(list["v1/Pod"], "shop/postgres-0(created)") {
		t.Errorf("resource list %v", list["v1/Pod"])
	}
	// A second restore of the same name is refused.
	_, err = restore.Run(context.Background(), restore.Options{Name: "r1", BackupName: "b1", Store: store, Output: &memOutput{}})
	if !errors.Is(err, restore.ErrRestoreExists) {
		t.Errorf("second restore r1: %v", err)
	}
}

func TestFiltersAndMapping(t *testing.T) {
	store := backupOf(t, clusterExport(t), nil)
	out, _ := runRestore(t, store, restore.Options{Spec: rigging.RestoreSpec{
		IncludedNamespaces: []string{"shop"},
		ExcludedResources:  []string{"secrets"},
		NamespaceMapping:   map[string]string{"shop": "shop-copy"},
	}})
	for i, o := range out.objs {
		switch {
		case o.GetKind() == "Namespace":
			if o.GetName() != "shop-copy" || o.GetLabels()["team"] != "shop" {
				t.Errorf("namespace %s labels %v", o.GetName(), o.GetLabels())
			}
		case o.GetNamespace() != "shop-copy":
			t.Errorf("%s %s/%s outside the mapped namespace", out.grs[i], o.GetNamespace(), o.GetName())
		case o.GetKind() == "Secret":
			t.Errorf("excluded secret %s restored", o.GetName())
		}
	}
	if out.find("Pod", "shop-copy", "postgres-0") == nil {
		t.Error("postgres-0 not restored into shop-copy")
	}
}

// fakeRIA is a RestoreItemActionV2 driven by a function.
type fakeRIA struct {
	name  string
	sel   rigging.ResourceSelector
	exec  func(in *rigging.RestoreItemActionExecuteInput) (*rigging.RestoreItemActionExecuteOutput, error)
	ready int
}

func (a *fakeRIA) Name() string { return a.name }
func (a *fakeRIA) AppliesTo(context.Context) (rigging.ResourceSelector, error) {
	return a.sel, nil
}
func (a *fakeRIA) Execute(_ context.Context, in *rigging.RestoreItemActionExecuteInput) (*rigging.RestoreItemActionExecuteOutput, error) {
	return a.exec(in)
}
func (a *fakeRIA) Progress(context.Context, string, *rigging.Restore) (rigging.OperationProgress, error) {
	return rigging.OperationProgress{Completed: true}, nil
}
func (a *fakeRIA) Cancel(context.Context, string, *rigging.Restore) error { return nil }
func (a *fakeRIA) AreAdditionalItemsReady(context.Context, []rigging.ResourceIdentifier, *rigging.Restore) (bool, error) {
	a.ready++
	return a.ready >= 2, nil
}

func TestRestoreItemActions(t *testing.T) {
	store := backupOf(t, clusterExport(t), nil)
	act := &fakeRIA{name: "example.com/pods", sel: rigging.ResourceSelector{IncludedResources: []string{"pods"}, IncludedNamespaces: []string{"shop"}},
		exec: func(in *rigging.RestoreItemActionExecuteInput) (*rigging.RestoreItemActionExecuteOutput, error) {
			// What Velero strips is gone before the action; the backup copy is intact.
			if in.Item.GetUID() != "" || in.Item.Object["status"] != nil || in.ItemFromBackup.GetUID() == "" {
				return nil, errors.New("item not stripped as Velero strips it")
			}
			if in.Item.GetLabels()[rigging.LabelRestoreName] != "" || !slices.Contains(in.Restore.Spec.ExcludedResources, "nodes") {
				return nil, errors.New("unexpected restore input")
			}
			switch in.Item.GetName() {
			case "postgres-0":
				return nil, errors.New("boom")
			case "redis-7f9c8b6d5-k4rjc":
				return &rigging.RestoreItemActionExecuteOutput{SkipRestore: true}, nil
			case "storefront-6d4cf56db6-2jxkq":
				u := in.Item.DeepCopy()
				u.SetAnnotations(map[string]string{"touched": "yes"})
				return &rigging.RestoreItemActionExecuteOutput{UpdatedItem: u, OperationID: "op-1", WaitForAdditionalItems: true,
					AdditionalItems: []rigging.ResourceIdentifier{{GroupResource: grOf("", "configmaps"), Namespace: "monitoring", Name: "kube-root-ca.crt"}}}, nil
			}
			return nil, nil
		}}
	r := registry.New()
	registry.RegisterIn(r, act.name, func(*slog.Logger) (rigging.RestoreItemActionV2, error) { return act, nil })
	m := manager.New(manager.Options{Registry: r, Logger: slog.New(slog.DiscardHandler)})
	defer m.Close()
	out, sum := runRestore(t, store, restore.Options{Plugins: m, Spec: rigging.RestoreSpec{IncludedNamespaces: []string{"shop"}}, OperationPollInterval: 1})
	st := sum.Restore.Status
	if st.Phase != rigging.RestorePhasePartiallyFailed || st.Errors != 1 || !strings.Contains(sum.Results.Errors.Namespaces["shop"][0], "boom") {
		t.Errorf("status %+v results %+v", st, sum.Results)
	}
	if out.find("Pod", "shop", "postgres-0") != nil || out.find("Pod", "shop", "redis-7f9c8b6d5-k4rjc") != nil {
		t.Error("failed or skipped pod restored")
	}
	sf := out.find("Pod", "shop", "storefront-6d4cf56db6-2jxkq")
	if sf == nil || sf.GetAnnotations()["touched"] != "yes" {
		t.Errorf("updated pod: %v", sf)
	}
	// The additional item was restored, outside the namespace filter? No:
	// it is filtered out (no must-include annotation).
	if out.find("ConfigMap", "monitoring", "kube-root-ca.crt") != nil {
		t.Error("additional item of an excluded namespace restored")
	}
	if st.RestoreItemOperationsAttempted != 1 || st.RestoreItemOperationsCompleted != 1 || act.ready < 2 {
		t.Errorf("operations %+v, readiness polls %d", st, act.ready)
	}
}

// TestVeleroWrittenTarball restores a tarball shaped as Velero may write it:
// entries in any order, duplicates, a resource only in a version folder.
func TestVeleroWrittenTarball(t *testing.T) {
	mem := archivetest.NewMemStore()
	store := archive.NewStore(mem, bucket, "velero")
	ctx := context.Background()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, e := range []struct{ name, data string }{
		{"resources/configmaps/v1-preferredversion/namespaces/app/cm.json", `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm","namespace":"app","uid":"x"},"data":{"k":"old"}}`},
		{"resources/configmaps/namespaces/app/cm.json", `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm","namespace":"app","uid":"x"},"data":{"k":"v"}}`},
		{"resources/jobs.batch/v1/namespaces/app/j.json", `{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"j","namespace":"app"},"spec":{}}`},
		{"metadata/version", "1.1.0\n"},
	} {
		must(t, tw.WriteHeader(&tar.Header{Name: e.name, Mode: 0o644, Size: int64(len(e.data)), Typeflag: tar.TypeReg}))
		_, err := tw.Write([]byte(e.data))
		must(t, err)
	}
	must(t, tw.Close())
	must(t, zw.Close())
	must(t, store.PutBytes(ctx, store.Layout.BackupKey("b1", archive.BackupContents), buf.Bytes()))
	must(t, store.PutBytes(ctx, store.Layout.BackupKey("b1", archive.BackupMetadata),
		[]byte(`{"kind":"Backup","apiVersion":"velero.io/v1","metadata":{"name":"b1"},"status":{"phase":"Completed"}}`)))

	dir := t.TempDir()
	outDir := filepath.Join(dir, "out")
	o, err := restore.NewDirOutput(outDir)
	must(t, err)
	_, err = restore.Run(ctx, restore.Options{Name: "r1", BackupName: "b1", Store: store, Output: o})
	must(t, err)
	var files []string
	must(t, filepath.Walk(outDir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			rel, _ := filepath.Rel(outDir, p)
			files = append(files, rel)
		}
		return err
	}))
	want := []string{"000-namespaces/cluster/app.yaml", "001-configmaps/namespaces/app/cm.yaml", "002-jobs.batch/namespaces/app/j.yaml"}
	if strings.Join(files, " ") != strings.Join(want, " ") {
		t.Errorf("files %v, want %v", files, want)
	}
	data, err := os.ReadFile(filepath.Join(outDir, "001-configmaps/namespaces/app/cm.yaml"))
	must(t, err)
	var cm map[string]any
	must(t, yaml.Unmarshal(data, &cm))
	if cm["data"].(map[string]any)["k"] != "v" || strings.Contains(string(data), "uid") {
		t.Errorf("restored configmap:\n%s", data)
	}
	// A second restore into the same, non-empty directory is refused.
	if _, err := restore.NewDirOutput(outDir); !errors.Is(err, restore.ErrOutputNotEmpty) {
		t.Errorf("non-empty output: %v", err)
	}
}

func TestStreamOutput(t *testing.T) {
	store := backupOf(t, clusterExport(t), nil)
	var buf bytes.Buffer
	_, err := restore.Run(context.Background(), restore.Options{Name: "r1", BackupName: "b1", Store: store, Output: restore.NewStreamOutput(&buf),
		Spec: rigging.RestoreSpec{IncludedNamespaces: []string{"monitoring"}}})
	must(t, err)
	objs, err := manifest.Decode(&buf, "stream")
	must(t, err)
	if len(objs) < 20 || objs[0].GetKind() != "Namespace" || objs[0].GetName() != "monitoring" {
		t.Errorf("stream of %d objects, first %v", len(objs), objs[0])
	}
}

func TestLongNamesAreLabelSafe(t *testing.T) {
	long := strings.Repeat("a", 70)
	if got := archive.ValidLabelValue(long); len(got) != 63 || !strings.HasPrefix(got, strings.Repeat("a", 57)) {
		t.Errorf("ValidLabelValue = %q", got)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func grOf(group, resource string) schema.GroupResource {
	return schema.GroupResource{Group: group, Resource: resource}
}

// normalize round-trips v through JSON, so numbers compare alike.
func normalize(t *testing.T, v map[string]any) map[string]any {
	data, err := json.Marshal(v)
	must(t, err)
	var out map[string]any
	must(t, json.Unmarshal(data, &out))
	return out
}

// TestRestoreStatus: a status is kept for the resources
// spec.restoreStatus includes (and not those it excludes), and an object's
// velero.io/restore-status annotation overrides the spec, as in Velero;
// also when an action (velero.io/pvc, with the built-ins) gives the object
// back with an empty status, which before was written (and cost a status
// update per object in a cluster).
func TestRestoreStatus(t *testing.T) {
	m := manager.New(manager.Options{Logger: slog.New(slog.DiscardHandler)})
	defer m.Close()
	claim := func(name, ann string) *unstructured.Unstructured {
		o := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "PersistentVolumeClaim",
			"spec": map[string]any{"storageClassName": "standard"}, "status": map[string]any{"phase": "Bound"}}}
		o.SetName(name)
		o.SetNamespace("app")
		if ann != "" {
			o.SetAnnotations(map[string]string{"velero.io/restore-status": ann})
		}
		return o
	}
	items := []*unstructured.Unstructured{claim("plain", ""), claim("yes", "True "), claim("no", "false"), claim("odd", "maybe")}
	tests := []struct {
		name string
		spec *rigging.RestoreStatusSpec
		want map[string]bool // claim name -> status kept
	}{
		{"no spec", nil, map[string]bool{"plain": false, "yes": true, "no": false, "odd": false}},
		{"claims included", &rigging.RestoreStatusSpec{IncludedResources: []string{"pvc"}}, map[string]bool{"plain": true, "yes": true, "no": false, "odd": true}},
		{"all but claims", &rigging.RestoreStatusSpec{IncludedResources: []string{"*"}, ExcludedResources: []string{"persistentvolumeclaims"}}, map[string]bool{"plain": false, "yes": true, "no": false, "odd": false}},
	}
	for _, tt := range tests {
		for _, plugins := range []restore.Plugins{nil, m} {
			t.Run(fmt.Sprintf("%s/actions=%v", tt.name, plugins != nil), func(t *testing.T) {
				out, _ := runRestore(t, backupOf(t, items, nil), restore.Options{Spec: rigging.RestoreSpec{RestoreStatus: tt.spec}, Plugins: plugins})
				for name, want := range tt.want {
					o := out.find("PersistentVolumeClaim", "app", name)
					if o == nil {
						t.Fatalf("claim %s not restored", name)
					}
					if _, got := o.Object["status"]; got != want {
						t.Errorf("claim %s: status kept %v, want %v", name, got, want)
					}
				}
			})
		}
	}
}
