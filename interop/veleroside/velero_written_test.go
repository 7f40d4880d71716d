package veleroside

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"path"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	velerov1api "github.com/vmware-tanzu/velero/pkg/apis/velero/v1"
	"github.com/vmware-tanzu/velero/pkg/itemoperation"
	"github.com/vmware-tanzu/velero/pkg/persistence"
	"github.com/vmware-tanzu/velero/pkg/plugin/velero"
	"github.com/vmware-tanzu/velero/pkg/util/encode"
	"github.com/vmware-tanzu/velero/pkg/util/results"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/archive"
)

// backupFormatVersion is Velero's pkg/backup.BackupFormatVersion (importing
// pkg/backup would link Velero's whole backup machinery).
const backupFormatVersion = "1.1.0"

// veleroTarball writes a backup tarball the way Velero's backupper does:
// metadata/version first, then each item twice (classic path and
// <version>-preferredversion), every entry a regular file of mode 0755.
func veleroTarball(t *testing.T, items []*unstructured.Unstructured, resources []string) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	put := func(name string, data []byte) {
		hdr := &tar.Header{Name: name, Size: int64(len(data)), Typeflag: tar.TypeReg, Mode: 0o755, ModTime: time.Now()}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	put(path.Join(velerov1api.MetadataDir, "version"), []byte(backupFormatVersion+"\n"))
	for i, it := range items {
		data, err := json.Marshal(it.UnstructuredContent())
		if err != nil {
			t.Fatal(err)
		}
		scope := path.Join(velerov1api.NamespaceScopedDir, it.GetNamespace())
		if it.GetNamespace() == "" {
			scope = velerov1api.ClusterScopedDir
		}
		gr := resources[i]
		version := it.GroupVersionKind().Version
		put(path.Join(velerov1api.ResourcesDir, gr, scope, it.GetName()+".json"), data)
		put(path.Join(velerov1api.ResourcesDir, gr, version+velerov1api.PreferredVersionDir, scope, it.GetName()+".json"), data)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func mustGzipJSON(t *testing.T, v any, desc string) *bytes.Buffer {
	t.Helper()
	b, errs := encode.ToJSONGzip(v, desc)
	if len(errs) > 0 {
		t.Fatalf("encode %s: %v", desc, errs)
	}
	return b
}

// TestRiggingReadsVeleroBucket stores a backup with Velero's own encoders
// and persistence.PutBackup (as Velero's backup controller persists one) and
// reads it back with rigging's archive package.
func TestRiggingReadsVeleroBucket(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	bs := veleroBackupStore(t, root)

	const name = "velero-made"
	started := metav1.NewTime(time.Date(2024, 3, 14, 9, 30, 0, 0, time.UTC))
	completed := metav1.NewTime(started.Add(42 * time.Second))
	expires := metav1.NewTime(started.Add(720 * time.Hour))
	b := &velerov1api.Backup{
		TypeMeta:   metav1.TypeMeta{APIVersion: "velero.io/v1", Kind: "Backup"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "velero", UID: "5a3c0a4e-0000-4000-8000-000000000001", Labels: map[string]string{velerov1api.StorageLocationLabel: "default"}},
		Spec: velerov1api.BackupSpec{
			IncludedNamespaces: []string{"shop"}, StorageLocation: "default", TTL: metav1.Duration{Duration: 720 * time.Hour},
			DefaultVolumesToFsBackup: new(bool),
		},
		Status: velerov1api.BackupStatus{
			Version: 1, FormatVersion: backupFormatVersion, Phase: velerov1api.BackupPhaseCompleted,
			StartTimestamp: &started, CompletionTimestamp: &completed, Expiration: &expires,
			Progress:                      &velerov1api.BackupProgress{TotalItems: 3, ItemsBackedUp: 3},
			BackupItemOperationsAttempted: 1, BackupItemOperationsCompleted: 1, Warnings: 1,
		},
	}
	var metadata bytes.Buffer
	if err := encode.To(b, "json", &metadata); err != nil {
		t.Fatal(err)
	}

	ns := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": "shop"}}}
	cm := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "settings", "namespace": "shop"}, "data": map[string]any{"k": "v"}}}
	dep := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": map[string]any{"name": "api", "namespace": "shop"}}}
	tarball := veleroTarball(t, []*unstructured.Unstructured{ns, cm, dep}, []string{"namespaces", "configmaps", "deployments.apps"})

	op := &itemoperation.BackupOperation{
		Spec: itemoperation.BackupOperationSpec{
			BackupName: name, BackupUID: string(b.UID), BackupItemAction: "example.io/snapshotter",
			ResourceIdentifier: velero.ResourceIdentifier{GroupResource: schema.GroupResource{Group: "apps", Resource: "deployments"}, Namespace: "shop", Name: "api"},
			OperationID:        "op-1",
			PostOperationItems: []velero.ResourceIdentifier{{GroupResource: schema.GroupResource{Resource: "configmaps"}, Namespace: "shop", Name: "settings"}},
		},
		Status: itemoperation.OperationStatus{Phase: itemoperation.OperationPhaseCompleted, NCompleted: 2, NTotal: 2, OperationUnits: "bytes", Created: &started, Updated: &completed},
	}
	res := map[string]results.Result{"warnings": {Namespaces: map[string][]string{"shop": {"something odd"}}}, "errors": {}}
	resourceList := map[string][]string{"v1/Namespace": {"shop"}, "v1/ConfigMap": {"shop/settings"}, "apps/v1/Deployment": {"shop/api"}}
	var log bytes.Buffer
	zw := gzip.NewWriter(&log)
	zw.Write([]byte(`time="2024-03-14T09:30:00Z" level=info msg="Backup completed"` + "\n"))
	zw.Close()

	info := persistence.BackupInfo{
		Name:                     name,
		Metadata:                 &metadata,
		Contents:                 bytes.NewReader(tarball),
		Log:                      &log,
		BackupResults:            mustGzipJSON(t, res, "results"),
		PodVolumeBackups:         mustGzipJSON(t, []*velerov1api.PodVolumeBackup{}, "pod volume backups"),
		VolumeSnapshots:          mustGzipJSON(t, []any{}, "volume snapshots"), // internal/volume: not importable
		BackupItemOperations:     mustGzipJSON(t, []*itemoperation.BackupOperation{op}, "item operations"),
		BackupResourceList:       mustGzipJSON(t, resourceList, "resource list"),
		CSIVolumeSnapshotClasses: mustGzipJSON(t, []any{}, "csi classes"),
		BackupVolumeInfo:         mustGzipJSON(t, []any{}, "volume infos"),
	}
	if err := bs.PutBackup(info); err != nil {
		t.Fatalf("velero PutBackup: %v", err)
	}

	store := archive.NewStore(riggingStore(t, root), bucketName, prefix)
	if err := store.IsValid(ctx); err != nil {
		t.Errorf("rigging IsValid: %v", err)
	}
	listed, err := store.Backups(ctx)
	if err != nil || len(listed) != 1 || listed[0].Name != name || listed[0].Err != nil {
		t.Fatalf("rigging Backups = %+v, %v", listed, err)
	}
	got, err := store.GetBackup(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != name || got.UID != b.UID || got.Status.Phase != rigging.BackupPhaseCompleted || got.Status.FormatVersion != "1.1.0" ||
		got.Spec.TTL.Duration != 720*time.Hour || len(got.Spec.IncludedNamespaces) != 1 || got.Spec.IncludedNamespaces[0] != "shop" ||
		!got.Status.CompletionTimestamp.Equal(&completed) || got.Status.Progress == nil || got.Status.Progress.ItemsBackedUp != 3 ||
		got.Status.Warnings != 1 || got.Spec.DefaultVolumesToFsBackup == nil {
		t.Errorf("rigging decoded %+v / %+v", got.Spec, got.Status)
	}

	c, err := store.ReadContents(ctx, name, archive.Limits{})
	if err != nil {
		t.Fatalf("rigging ReadContents: %v", err)
	}
	if c.Version != "1.1.0" || c.Len() != 3 {
		t.Errorf("contents: version %q, %d items", c.Version, c.Len())
	}
	for _, want := range []struct{ gr, ns, name, dir string }{
		{"namespaces", "", "shop", "v1-preferredversion"},
		{"configmaps", "shop", "settings", "v1-preferredversion"},
		{"deployments.apps", "shop", "api", "v1-preferredversion"},
	} {
		it := c.Get(want.gr, want.ns, want.name)
		if it == nil {
			t.Errorf("%s %s/%s missing", want.gr, want.ns, want.name)
			continue
		}
		if it.VersionDir != "" {
			t.Errorf("%s: read from %q, want the classic copy", want.gr, it.VersionDir)
		}
		if dirs := c.VersionDirs(want.gr); len(dirs) != 1 || dirs[0] != want.dir {
			t.Errorf("%s: version folders %q", want.gr, dirs)
		}
		var obj map[string]any
		if err := json.Unmarshal(it.Data, &obj); err != nil || (&unstructured.Unstructured{Object: obj}).GetName() != want.name {
			t.Errorf("%s: item JSON %s, %v", want.gr, it.Data, err)
		}
	}

	var ops []archive.BackupOperation
	if err := store.ReadBackupJSON(ctx, name, archive.BackupItemOperations, &ops); err != nil {
		t.Fatalf("item operations: %v", err)
	}
	if len(ops) != 1 {
		t.Fatalf("item operations: %+v", ops)
	}
	o := ops[0]
	if o.Spec.OperationID != "op-1" || o.Spec.BackupItemAction != "example.io/snapshotter" || o.Spec.BackupUID != string(b.UID) ||
		o.Spec.ResourceIdentifier.Group != "apps" || o.Spec.ResourceIdentifier.Resource != "deployments" || o.Spec.ResourceIdentifier.Name != "api" ||
		len(o.Spec.PostOperationItems) != 1 || o.Spec.PostOperationItems[0].Name != "settings" ||
		o.Status.Phase != "Completed" || o.Status.NTotal != 2 || o.Status.OperationUnits != "bytes" || o.Status.Updated == nil || !o.Status.Updated.Equal(&completed) {
		t.Errorf("item operation %+v", o)
	}
	var rres archive.Results
	if err := store.ReadBackupJSON(ctx, name, archive.BackupResults, &rres); err != nil {
		t.Fatalf("results: %v", err)
	}
	if rres.Warnings.Count() != 1 || rres.Errors.Count() != 0 {
		t.Errorf("results %+v", rres)
	}
	var rl archive.ResourceList
	if err := store.ReadBackupJSON(ctx, name, archive.BackupResourceList, &rl); err != nil || len(rl["apps/v1/Deployment"]) != 1 {
		t.Errorf("resource list %v, %v", rl, err)
	}
	for _, f := range []archive.BackupFile{archive.BackupPodVolumeBackups, archive.BackupVolumeSnapshots, archive.BackupVolumeInfo} {
		var v []json.RawMessage
		if err := store.ReadBackupJSON(ctx, name, f, &v); err != nil || len(v) != 0 {
			t.Errorf("sidecar %d: %v, %v", f, v, err)
		}
	}
	// PutBackup of Velero v1.18 no longer writes the CSI class list it is given.
	var classes []json.RawMessage
	if err := store.ReadBackupJSON(ctx, name, archive.BackupCSIVolumeSnapshotClasses, &classes); !errors.Is(err, rigging.ErrNotFound) {
		t.Errorf("CSI snapshot classes: %v, want an error matching rigging.ErrNotFound", err)
	}
	rc, err := store.OpenBackupFile(ctx, name, archive.BackupLog)
	if err != nil {
		t.Fatalf("log: %v", err)
	}
	defer rc.Close()
	zr, err := gzip.NewReader(rc)
	if err != nil {
		t.Fatal(err)
	}
	logText, err := io.ReadAll(zr)
	if err != nil || !strings.Contains(string(logText), "Backup completed") {
		t.Errorf("log %q, %v", logText, err)
	}
}
