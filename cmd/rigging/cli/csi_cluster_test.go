//go:build !rigging_no_csi

package cli

import (
	"compress/gzip"
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	"github.com/kubernetes-csi/external-snapshotter/client/v8/clientset/versioned"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rigging-dev/rigging/archive"
	"github.com/rigging-dev/rigging/internal/testcluster"
)

// readJSONGzip decodes the gzip JSON file of backup directory dir into v.
func readJSONGzip(t *testing.T, dir, file string, v any) {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, file))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	if err := json.NewDecoder(zr).Decode(v); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
}

// backupCSIClaim seeds a CSI claim "data" in a new namespace of c, plays
// its snapshot controller, and backs that namespace up with EnableCSI as
// backup "snap" in a new $RIGGING_HOME, with $KUBECONFIG naming nothing:
// the claim and that home.
func backupCSIClaim(t *testing.T, c *testcluster.Cluster) (testcluster.CSIClaim, string) {
	t.Helper()
	home := t.TempDir()
	t.Setenv("RIGGING_HOME", home)
	t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "no-such-kubeconfig"))
	claim := c.SeedCSIClaim(t, "csi-"+strings.ToLower(rand.Text()[:10]), "data")
	c.RunSnapshotController(t, testcluster.SnapshotController{Namespace: claim.Namespace, RestoreSize: 2 << 30,
		ReadyWhen: func(vs *snapshotv1.VolumeSnapshot) bool {
			_, annotated := vs.Annotations["velero.io/csi-volumesnapshot-handle"]
			return annotated
		}})

	out := runOK(t, "", "backup", "create", "snap", "--kubeconfig", c.Kubeconfig(), "--include-namespaces", claim.Namespace,
		"--features", "EnableCSI", "--no-progress")
	if !strings.Contains(out, "Backup snap: Completed.") || !strings.Contains(out, " 0 warnings, 0 errors") {
		t.Fatalf("backup create:\n%s\n%s", out, runOK(t, "", "backup", "logs", "snap"))
	}
	return claim, home
}

// TestBackupCreateCSIFromCluster: backup create of a cluster (no --from)
// with EnableCSI snapshots a CSI claim as Velero's server does, in the
// cluster of --kubeconfig, not of $KUBECONFIG (which names nothing here):
// the claim backupper creates a VolumeSnapshot there; the test plays the
// snapshot controller, binding it and making it ready once Velero's
// VolumeSnapshot backupper annotated it; the operation completes; the
// finalize pass removes snapshot and content from the cluster; and the
// backup holds what Velero's does: one completed item operation with the
// snapshot and content as post-operation items, no native volume snapshots
// (a null sidecar), and the claim, snapshot, content and class as they
// ended.
func TestBackupCreateCSIFromCluster(t *testing.T) {
	c := testcluster.Get(t)
	claim, home := backupCSIClaim(t, c)
	ns := claim.Namespace
	dir := filepath.Join(home, "rigging", "backups", "snap")

	var ops []map[string]any
	readJSONGzip(t, dir, "snap-itemoperations.json.gz", &ops)
	if len(ops) != 1 {
		t.Fatalf("item operations %v, want 1", ops)
	}
	spec, status := ops[0]["spec"].(map[string]any), ops[0]["status"].(map[string]any)
	id, _ := spec["resourceIdentifier"].(map[string]any)
	vsName, _ := id["Name"].(string)
	opID, _ := spec["operationID"].(string)
	if spec["backupItemAction"] != "velero.io/csi-volumesnapshot-backupper" || id["Group"] != "snapshot.storage.k8s.io" || id["Resource"] != "volumesnapshots" ||
		id["Namespace"] != ns || !strings.HasPrefix(vsName, "velero-data-") || !strings.HasPrefix(opID, ns+"/"+vsName+"/") {
		t.Errorf("operation spec %v", spec)
	}
	if status["phase"] != "Completed" || status["error"] != nil {
		t.Errorf("operation status %v", status)
	}
	post, _ := json.Marshal(spec["postOperationItems"])
	var posts []map[string]string
	if err := json.Unmarshal(post, &posts); err != nil || len(posts) != 2 || posts[0]["Name"] != vsName || posts[1]["Resource"] != "volumesnapshotcontents" {
		t.Fatalf("post-operation items %s", post)
	}
	content := posts[1]["Name"]

	var native []any
	readJSONGzip(t, dir, "snap-volumesnapshots.json.gz", &native)
	if native != nil {
		t.Errorf("volumesnapshots sidecar %v, want null", native)
	}
	var meta struct {
		Status map[string]any `json:"status"`
	}
	if data, err := os.ReadFile(filepath.Join(dir, "velero-backup.json")); err != nil || json.Unmarshal(data, &meta) != nil {
		t.Fatalf("velero-backup.json: %v", err)
	}
	if meta.Status["backupItemOperationsAttempted"] != 1.0 || meta.Status["backupItemOperationsCompleted"] != 1.0 {
		t.Errorf("backup status %v", meta.Status)
	}

	snaps, err := versioned.NewForConfig(c.Config())
	if err != nil {
		t.Fatal(err)
	}
	if list, err := snaps.SnapshotV1().VolumeSnapshots(ns).List(t.Context(), metav1.ListOptions{}); err != nil || len(list.Items) != 0 {
		t.Errorf("VolumeSnapshots left in the cluster after the backup: %v, %v", list, err)
	}
	if _, err := snaps.SnapshotV1().VolumeSnapshotContents().Get(t.Context(), content, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("VolumeSnapshotContent %s left in the cluster after the backup: %v", content, err)
	}

	f, err := os.Open(filepath.Join(dir, "snap.tar.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	contents, err := archive.Read(f, archive.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	field := func(gr, namespace, name string, path ...string) any {
		t.Helper()
		it := contents.Get(gr, namespace, name)
		if it == nil {
			t.Fatalf("the backup lacks %s %s/%s: %v", gr, namespace, name, contents.Resources())
		}
		obj, err := it.Object()
		if err != nil {
			t.Fatal(err)
		}
		v, _, _ := unstructured.NestedFieldNoCopy(obj.Object, path...)
		return v
	}
	const vsGR, vscGR = "volumesnapshots.snapshot.storage.k8s.io", "volumesnapshotcontents.snapshot.storage.k8s.io"
	for _, check := range []struct {
		what      string
		got, want any
	}{
		{"claim's snapshot", field("persistentvolumeclaims", ns, "data", "metadata", "annotations", "velero.io/volume-snapshot-name"), vsName},
		{"claim's request", field("persistentvolumeclaims", ns, "data", "spec", "resources", "requests", "storage"), "2Gi"},
		{"snapshot ready", field(vsGR, ns, vsName, "status", "readyToUse"), true},
		{"snapshot's content", field(vsGR, ns, vsName, "status", "boundVolumeSnapshotContentName"), content},
		{"snapshot's driver", field(vsGR, ns, vsName, "metadata", "annotations", "velero.io/csi-driver-name"), claim.Driver},
		{"content ready", field(vscGR, "", content, "status", "readyToUse"), true},
		{"content's backup", field(vscGR, "", content, "metadata", "labels", "velero.io/backup-name"), "snap"},
		{"class's driver", field("volumesnapshotclasses.snapshot.storage.k8s.io", "", claim.SnapshotClass, "driver"), claim.Driver},
	} {
		if check.got != check.want {
			t.Errorf("%s: %v, want %v", check.what, check.got, check.want)
		}
	}
}

// TestRestoreToClusterCSI (issue 12 §4): a CSI claim's backup restored
// --to-cluster into a mapped namespace, with $KUBECONFIG naming nothing:
// the CSI actions act on the cluster of --kubeconfig. The VolumeSnapshot is
// re-created in the target namespace, bound to a pre-provisioned content of
// the backed-up snapshot handle whose class the content restorer picked by
// listing that cluster's VolumeSnapshotClasses, and the claim's dataSource
// names that snapshot.
func TestRestoreToClusterCSI(t *testing.T) {
	c := testcluster.Get(t)
	claim, _ := backupCSIClaim(t, c)
	target := claim.Namespace + "-r"
	out := runOK(t, "", "restore", "create", "snap-r", "--from-backup", "snap", "--to-cluster", "--kubeconfig", c.Kubeconfig(),
		"--namespace-mappings", claim.Namespace+":"+target, "--features", "EnableCSI", "--no-progress")
	if !strings.Contains(out, "Restore snap-r of backup snap: Completed.") {
		t.Fatalf("restore create:\n%s\n%s", out, runOK(t, "", "restore", "logs", "snap-r"))
	}

	snaps, err := versioned.NewForConfig(c.Config())
	if err != nil {
		t.Fatal(err)
	}
	list, err := snaps.SnapshotV1().VolumeSnapshots(target).List(t.Context(), metav1.ListOptions{})
	if err != nil || len(list.Items) != 1 {
		t.Fatalf("VolumeSnapshots in %s: %v, %v; want 1", target, list, err)
	}
	vs := list.Items[0]
	contentName := ""
	if vs.Spec.Source.VolumeSnapshotContentName != nil {
		contentName = *vs.Spec.Source.VolumeSnapshotContentName
	}
	content, err := snaps.SnapshotV1().VolumeSnapshotContents().Get(t.Context(), contentName, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("VolumeSnapshotContent of %s/%s: %v", target, vs.Name, err)
	}
	class, handle := "", ""
	if content.Spec.VolumeSnapshotClassName != nil {
		class = *content.Spec.VolumeSnapshotClassName
	}
	if content.Spec.Source.SnapshotHandle != nil {
		handle = *content.Spec.Source.SnapshotHandle
	}
	pvc, err := dynamicClient(t, c).Resource(corev1.SchemeGroupVersion.WithResource("persistentvolumeclaims")).Namespace(target).
		Get(t.Context(), claim.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ds, _, _ := unstructured.NestedStringMap(pvc.Object, "spec", "dataSource")
	dataSource := ds["apiGroup"] + "/" + ds["kind"] + "/" + ds["name"]
	for _, check := range []struct {
		what      string
		got, want any
	}{
		{"content's class (the target cluster's, listed)", class, claim.SnapshotClass},
		{"content's snapshot", content.Spec.VolumeSnapshotRef.Namespace + "/" + content.Spec.VolumeSnapshotRef.Name, target + "/" + vs.Name},
		{"content's deletion policy", content.Spec.DeletionPolicy, snapshotv1.VolumeSnapshotContentRetain},
		{"content's driver", content.Spec.Driver, claim.Driver},
		{"content's handle set", handle != "", true},
		{"claim's dataSource", dataSource, "snapshot.storage.k8s.io/VolumeSnapshot/" + vs.Name},
	} {
		if check.got != check.want {
			t.Errorf("%s: %v, want %v", check.what, check.got, check.want)
		}
	}
}
