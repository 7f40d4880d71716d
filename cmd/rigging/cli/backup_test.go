package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const clusterExportDir = "../../../testdata/manifests/cluster-export"

// TestBackupRestoreCommands runs the main job end to end on the default
// location: create, list, describe, logs, download, restore to a directory
// and to stdout, delete.
//
// This test binary also registers two BackupItemActions on pods that fail
// and panic (failing_test.go): every pod of the namespace fails, the
// failures are recorded, the backup ends PartiallyFailed, and everything
// else is backed up.
func TestBackupRestoreCommands(t *testing.T) {
	home := t.TempDir()
	t.Setenv("RIGGING_HOME", home)

	// 51: the namespace's objects but its VolumeSnapshot (Velero excludes
	// snapshots), and what the actions pull in. The warning: postgres-0's
	// pre hook, not run.
	out := runOK(t, "", "backup", "create", "demo", "--from", clusterExportDir, "--include-namespaces", "shop")
	if !strings.Contains(out, "Backup demo: PartiallyFailed. 51 items, 1 warnings, 6 errors") {
		t.Errorf("create: %s", out)
	}
	var rows []map[string]any
	if err := json.Unmarshal([]byte(runOK(t, "", "backup", "list", "-o", "json")), &rows); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0]["name"] != "demo" || rows[0]["phase"] != "PartiallyFailed" || rows[0]["items"].(float64) != 51 {
		t.Errorf("list: %v", rows)
	}
	desc := runOK(t, "", "backup", "describe", "demo", "--details")
	for _, want := range []string{"shop/data-postgres-0", "Included:  shop", "Namespace shop:", "test.rigging.dev/fails", "pods/shop/postgres-0: plugin test.rigging.dev/fails: Execute: volume is busy"} {
		if !strings.Contains(desc, want) {
			t.Errorf("describe --details lacks %q:\n%s", want, desc)
		}
	}
	if out := runOK(t, "", "backup", "logs", "demo"); !strings.Contains(out, "backing up item") {
		t.Errorf("logs:\n%.300s", out)
	}
	tarball := filepath.Join(t.TempDir(), "demo.tgz")
	runOK(t, "", "backup", "download", "demo", "-o", tarball)
	if fi, err := os.Stat(tarball); err != nil || fi.Size() < 1000 {
		t.Errorf("download: %v %v", fi, err)
	}

	// A name already taken is refused; so is malformed input, with nothing uploaded.
	if _, errs, code := run(t, "", "backup", "create", "demo", "--from", clusterExportDir); code != ExitFailure || !strings.Contains(errs, "already exists") {
		t.Errorf("second create: exit %d %s", code, errs)
	}
	if _, errs, code := run(t, "kind: [", "backup", "create", "bad", "--from", "-"); code != ExitFailure || !strings.Contains(errs, "stdin") {
		t.Errorf("malformed input: exit %d %s", code, errs)
	}
	if _, err := os.Stat(filepath.Join(home, "rigging", "backups", "bad")); !os.IsNotExist(err) {
		t.Errorf("malformed input left backups/bad: %v", err)
	}

	dir := filepath.Join(t.TempDir(), "restored")
	out = runOK(t, "", "restore", "create", "r1", "--from-backup", "demo", "--to", dir, "--namespace-mappings", "shop:shop-copy")
	if !strings.Contains(out, "kubectl apply -R -f "+dir) {
		t.Errorf("restore: %s", out)
	}
	matches, _ := filepath.Glob(filepath.Join(dir, "*-persistentvolumeclaims", "namespaces", "shop-copy", "data-postgres-0.yaml"))
	if len(matches) != 1 {
		entries, _ := os.ReadDir(dir)
		t.Fatalf("restored claim not found (dir holds %v)", entries)
	}
	pvc, err := os.ReadFile(matches[0])
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(pvc), "velero.io/restore-name: r1") || !strings.Contains(string(pvc), "namespace: shop-copy") {
		t.Errorf("restored claim:\n%s", pvc)
	}
	stream := runOK(t, "", "restore", "create", "r2", "--from-backup", "demo", "--to", "-", "--include-resources", "configmaps")
	if !strings.HasPrefix(stream, "apiVersion: v1\nkind: Namespace\n") || !strings.Contains(stream, "kind: ConfigMap") || strings.Contains(stream, "kind: Pod\n") {
		t.Errorf("stream:\n%.500s", stream)
	}
	if out := runOK(t, "", "restore", "logs", "r1"); !strings.Contains(out, "restored item") {
		t.Errorf("restore logs:\n%.300s", out)
	}

	runOK(t, "", "backup", "delete", "demo")
	if out := runOK(t, "", "backup", "list"); strings.Contains(out, "demo") {
		t.Errorf("list after delete:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(home, "rigging", "backups", "demo")); err == nil {
		entries, _ := os.ReadDir(filepath.Join(home, "rigging", "backups", "demo"))
		if len(entries) > 0 {
			t.Errorf("objects left after delete: %v", entries)
		}
	}
}

// TestBackupWorkers: --workers 1 and --workers 3 back up the same items,
// the summary gives the time end to end and its two phases, and a negative
// count is a usage error.
func TestBackupWorkers(t *testing.T) {
	t.Setenv("RIGGING_HOME", t.TempDir())
	for _, w := range []string{"1", "3"} {
		out := runOK(t, "", "backup", "create", "w"+w, "--from", clusterExportDir, "--workers", w, "--include-namespaces", "monitoring")
		// This binary's failing pod actions (failing_test.go) fail the 4 pods.
		if !strings.Contains(out, "Backup w"+w+": PartiallyFailed. 28 items, 0 warnings, 4 errors") || !strings.Contains(out, "; reading the input ") || !strings.Contains(out, ", the backup ") {
			t.Errorf("--workers %s: %s", w, out)
		}
	}
	if _, errs, code := run(t, "", "backup", "create", "neg", "--from", clusterExportDir, "--workers", "-1"); code != ExitUsage || !strings.Contains(errs, "--workers -1") {
		t.Errorf("--workers -1: exit %d %s", code, errs)
	}
}
