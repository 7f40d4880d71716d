package csi

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/archive"
	"github.com/rigging-dev/rigging/archive/archivetest"
	"github.com/rigging-dev/rigging/backup"
	"github.com/rigging-dev/rigging/cluster"
	"github.com/rigging-dev/rigging/internal/testcluster"
	"github.com/rigging-dev/rigging/manager"
)

// TestLiveBackupPipeline backs up a namespace with a CSI claim through the
// backup pipeline with every CSI action, against the API server, the test
// playing the snapshot controller (ready once Velero's VolumeSnapshot
// backupper annotated the snapshot), and checks the backup against what
// Velero v1.18.3 writes: one completed item operation of
// velero.io/csi-volumesnapshot-backupper on the snapshot, with the snapshot
// and its content as post-operation items; a null volumesnapshots sidecar
// (no native snapshots); the claim, snapshot, content and class in the
// tarball as they ended (ready); snapshot and content gone from the
// cluster after the finalize pass.
func TestLiveBackupPipeline(t *testing.T) {
	e := newLiveEnv(t)
	ns := e.Namespace
	e.cluster.RunSnapshotController(t, testcluster.SnapshotController{Namespace: ns, RestoreSize: 2 << 30,
		ReadyWhen: func(vs *snapshotv1.VolumeSnapshot) bool { return vs.Annotations[AnnotationSnapshotHandle] != "" }})
	l, err := cluster.NewLookup(e.cluster.Config(), cluster.LookupOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := WithClientFactory(context.Background(), ConfigClient(e.cluster.Config()))
	items, warnings, err := l.Collect(ctx, cluster.CollectOptions{Namespaces: []string{ns}})
	if err != nil || len(warnings) > 0 {
		t.Fatalf("collect: %v %v", warnings, err)
	}
	m := manager.New(manager.Options{Logger: slog.New(slog.DiscardHandler)})
	t.Cleanup(func() { _ = m.Close() })
	store := archive.NewStore(archivetest.NewMemStore(), "bucket", "")
	sum, err := backup.Run(ctx, backup.Options{
		Name: "snap", Items: items, Lookup: l, Store: store, Plugins: m,
		Features: []string{"EnableCSI"}, OperationPollInterval: 10 * time.Millisecond,
		Spec: rigging.BackupSpec{IncludedNamespaces: []string{ns}, ItemOperationTimeout: metav1.Duration{Duration: liveWait}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if st := sum.Backup.Status; st.Phase != rigging.BackupPhaseCompleted || st.Errors+st.Warnings != 0 ||
		st.BackupItemOperationsAttempted != 1 || st.BackupItemOperationsCompleted != 1 {
		t.Fatalf("backup status %+v, results %+v", st, sum.Results)
	}

	var ops []map[string]any
	if err := store.ReadBackupJSON(ctx, "snap", archive.BackupItemOperations, &ops); err != nil || len(ops) != 1 {
		t.Fatalf("item operations %v, %v", ops, err)
	}
	spec, status := ops[0]["spec"].(map[string]any), ops[0]["status"].(map[string]any)
	vsName, _ := spec["resourceIdentifier"].(map[string]any)["Name"].(string)
	vs, err := e.snaps.SnapshotV1().VolumeSnapshots(ns).List(ctx, metav1.ListOptions{})
	if err != nil || len(vs.Items) != 0 {
		t.Errorf("VolumeSnapshots left in the cluster after finalizing: %v, %v", vs, err)
	}
	contents, err := store.ReadContents(ctx, "snap", archive.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	backedUpVS := contents.Get("volumesnapshots.snapshot.storage.k8s.io", ns, vsName)
	if backedUpVS == nil {
		t.Fatalf("backup lacks VolumeSnapshot %s/%s: %v", ns, vsName, contents.Resources())
	}
	vsObj, err := backedUpVS.Object()
	if err != nil {
		t.Fatal(err)
	}
	content := testcluster.SnapshotContentName(string(vsObj.GetUID()))
	wantSpec := `{"backupItemAction":"velero.io/csi-volumesnapshot-backupper","backupName":"snap","backupUID":"` + string(sum.Backup.UID) + `",` +
		`"operationID":"` + spec["operationID"].(string) + `",` +
		`"postOperationItems":[{"Group":"snapshot.storage.k8s.io","Name":"` + vsName + `","Namespace":"` + ns + `","Resource":"volumesnapshots"},` +
		`{"Group":"snapshot.storage.k8s.io","Name":"` + content + `","Namespace":"","Resource":"volumesnapshotcontents"}],` +
		`"resourceIdentifier":{"Group":"snapshot.storage.k8s.io","Name":"` + vsName + `","Namespace":"` + ns + `","Resource":"volumesnapshots"}}`
	if got, _ := json.Marshal(spec); string(got) != wantSpec {
		t.Errorf("operation spec\n got %s\nwant %s", got, wantSpec)
	}
	if !strings.HasPrefix(spec["operationID"].(string), ns+"/"+vsName+"/") || status["phase"] != "Completed" || status["error"] != nil {
		t.Errorf("operation %v %v", spec["operationID"], status)
	}
	var native []any
	if err := store.ReadBackupJSON(ctx, "snap", archive.BackupVolumeSnapshots, &native); err != nil || native != nil {
		t.Errorf("volumesnapshots sidecar %v, %v; want null", native, err)
	}

	check := func(gr, namespace, name string, want map[string]string) {
		t.Helper()
		it := contents.Get(gr, namespace, name)
		if it == nil {
			t.Errorf("backup lacks %s %s/%s", gr, namespace, name)
			return
		}
		obj, err := it.Object()
		if err != nil {
			t.Fatal(err)
		}
		for path, v := range want {
			got, _, _ := unstructured.NestedFieldNoCopy(obj.Object, strings.Split(path, "|")...)
			if b, _ := json.Marshal(got); string(b) != v {
				t.Errorf("%s %s/%s: %s = %s, want %s", gr, namespace, name, path, b, v)
			}
		}
	}
	check("persistentvolumeclaims", ns, "data", map[string]string{
		"metadata|annotations|velero.io/volume-snapshot-name": `"` + vsName + `"`,
		"spec|resources|requests|storage":                     `"2Gi"`,
	})
	check("volumesnapshots.snapshot.storage.k8s.io", ns, vsName, map[string]string{
		"status|readyToUse":                                        "true",
		"status|boundVolumeSnapshotContentName":                    `"` + content + `"`,
		"metadata|annotations|velero.io/csi-volumesnapshot-handle": `"` + testcluster.SnapshotHandle(string(vsObj.GetUID())) + `"`,
	})
	check("volumesnapshotcontents.snapshot.storage.k8s.io", "", content, map[string]string{
		"status|readyToUse":                     "true",
		"metadata|labels|velero.io/backup-name": `"snap"`,
	})
	check("volumesnapshotclasses.snapshot.storage.k8s.io", "", e.SnapshotClass, map[string]string{"driver": `"` + e.Driver + `"`})
}
