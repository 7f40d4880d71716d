//go:build !rigging_no_csi

package cli

import (
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kubernetes-csi/external-snapshotter/client/v8/clientset/versioned"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rigging-dev/rigging/archive"
	"github.com/rigging-dev/rigging/internal/testcluster"
)

// TestBackupCreateCSIUsesCommandCluster: backup create of a cluster (no
// --from) with EnableCSI runs the CSI actions against the cluster of
// --kubeconfig, not of $KUBECONFIG (which names nothing here): the claim
// backupper creates its VolumeSnapshot there, waits for the snapshot
// controller (played by the test) to bind it, and the claim in the backup
// names the snapshot.
func TestBackupCreateCSIUsesCommandCluster(t *testing.T) {
	c := testcluster.Get(t)
	home := t.TempDir()
	t.Setenv("RIGGING_HOME", home)
	t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "no-such-kubeconfig"))
	claim := c.SeedCSIClaim(t, "csi-"+strings.ToLower(rand.Text()[:10]), "data")
	ns := claim.Namespace
	c.RunSnapshotController(t, testcluster.SnapshotController{Namespace: ns, RestoreSize: 2 << 30})

	out := runOK(t, "", "backup", "create", "snap", "--kubeconfig", c.Kubeconfig(), "--include-namespaces", ns,
		"--features", "EnableCSI", "--no-progress")
	if !strings.Contains(out, "Backup snap: Completed.") || !strings.Contains(out, " 0 errors") {
		t.Errorf("backup create:\n%s\n%s", out, runOK(t, "", "backup", "logs", "snap"))
	}

	snaps, err := versioned.NewForConfig(c.Config())
	if err != nil {
		t.Fatal(err)
	}
	list, err := snaps.SnapshotV1().VolumeSnapshots(ns).List(t.Context(), metav1.ListOptions{LabelSelector: "velero.io/backup-name=snap"})
	if err != nil || len(list.Items) != 1 {
		t.Fatalf("VolumeSnapshots of the backup in the cluster: %v, %v", list, err)
	}
	vs := list.Items[0]
	if src := vs.Spec.Source.PersistentVolumeClaimName; src == nil || *src != "data" || *vs.Spec.VolumeSnapshotClassName != claim.SnapshotClass {
		t.Errorf("VolumeSnapshot %s: spec %+v", vs.Name, vs.Spec)
	}

	f, err := os.Open(filepath.Join(home, "rigging", "backups", "snap", "snap.tar.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	contents, err := archive.Read(f, archive.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	it := contents.Get("persistentvolumeclaims", ns, "data")
	if it == nil {
		t.Fatalf("the backup lacks the claim: %v", contents.Resources())
	}
	pvc, err := it.Object()
	if err != nil {
		t.Fatal(err)
	}
	if got := pvc.GetAnnotations()["velero.io/volume-snapshot-name"]; got != vs.Name {
		t.Errorf("claim in the backup names snapshot %q, want %q", got, vs.Name)
	}
}
