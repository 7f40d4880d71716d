// Package velerohost loads rigging's plugins with Velero's own host code
// (clientmgmt: NewRegistry, DiscoverPlugins, NewManager) and drives every
// method of every kind: rigging's test plugins, the examples module's
// vendor plugin, and the rigging binary itself copied into the plugin
// directory (served by `rigging` when started by a host). It links Velero's
// generated protocol code only; rigging's plugins run as separate processes.
package velerohost

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	velerov1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v1"
	"github.com/vmware-tanzu/velero/pkg/plugin/clientmgmt"
	"github.com/vmware-tanzu/velero/pkg/plugin/clientmgmt/process"
	"github.com/vmware-tanzu/velero/pkg/plugin/framework"
	"github.com/vmware-tanzu/velero/pkg/plugin/framework/common"
	"github.com/vmware-tanzu/velero/pkg/plugin/velero"
)

// TestMain: Velero's host first probes its own binary (os.Args[0]) as the
// "internal" plugin; started that way, this test binary serves no plugins,
// like a Velero server with none compiled in.
func TestMain(m *testing.M) {
	if os.Getenv("VELERO_PLUGIN") == "hello" {
		framework.NewServer().Serve()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// build compiles pkg, run from dir (a module root), into out.
func build(t *testing.T, dir, pkg, out string) {
	t.Helper()
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s in %s: %v\n%s", pkg, dir, err, b)
	}
}

// veleroManager discovers the plugins of dir as a Velero server does.
func veleroManager(t *testing.T, dir string) (clientmgmt.Manager, process.Registry) {
	t.Helper()
	log := logrus.New()
	log.SetLevel(logrus.WarnLevel)
	reg := process.NewRegistry(dir, log, logrus.WarnLevel)
	if err := reg.DiscoverPlugins(); err != nil {
		t.Fatalf("Velero's DiscoverPlugins: %v", err)
	}
	m := clientmgmt.NewManager(log, logrus.WarnLevel, reg)
	t.Cleanup(m.CleanupClients)
	return m, reg
}

func pod(name string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Pod",
		"metadata": map[string]any{"name": name, "namespace": "ns1", "labels": map[string]any{"app": "web"}}}}
}

func annotation(u any) string {
	if u == nil {
		return ""
	}
	return (&unstructured.Unstructured{Object: u.(interface{ UnstructuredContent() map[string]any }).UnstructuredContent()}).GetAnnotations()["rigging.dev/seen"]
}

var (
	backup  = &velerov1.Backup{ObjectMeta: metav1.ObjectMeta{Name: "b1", Namespace: "velero"}}
	restore = &velerov1.Restore{ObjectMeta: metav1.ObjectMeta{Name: "r1", Namespace: "velero"}}
)

// TestRiggingTestPlugins drives rigging's test plugins (one of every kind)
// through Velero's host.
func TestRiggingTestPlugins(t *testing.T) {
	dir := t.TempDir()
	build(t, "../..", "./external/internal/testplugin/cmd/testplugin", filepath.Join(dir, "testplugin"))
	m, reg := veleroManager(t, dir)
	for _, kind := range common.AllPluginKinds() {
		if kind == common.PluginKindPluginLister {
			continue
		}
		ids := reg.List(kind)
		if !slices.ContainsFunc(ids, func(id framework.PluginIdentifier) bool { return id.Command == filepath.Join(dir, "testplugin") }) {
			t.Errorf("Velero found no %s in rigging's test plugin: %v", kind, ids)
		}
	}

	t.Run("ObjectStore", func(t *testing.T) {
		s, err := m.GetObjectStore("test.rigging.dev/store")
		if err != nil {
			t.Fatal(err)
		}
		root := t.TempDir()
		if err := s.Init(map[string]string{"root": root, "bucket": "bk", "prefix": ""}); err != nil {
			t.Fatal(err)
		}
		body := bytes.Repeat([]byte("rigging served to velero\n"), 4000) // 100000 bytes, 7 chunks
		if err := s.PutObject("bk", "backups/a/x", bytes.NewReader(body)); err != nil {
			t.Fatal(err)
		}
		if ok, err := s.ObjectExists("bk", "backups/a/x"); !ok || err != nil {
			t.Errorf("exists %v %v", ok, err)
		}
		rc, err := s.GetObject("bk", "backups/a/x")
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || !bytes.Equal(got, body) {
			t.Errorf("GetObject %d bytes %v", len(got), err)
		}
		if p, err := s.ListCommonPrefixes("bk", "backups/", "/"); err != nil || !slices.Equal(p, []string{"backups/a/"}) {
			t.Errorf("prefixes %v %v", p, err)
		}
		if k, err := s.ListObjects("bk", "backups/"); err != nil || !slices.Equal(k, []string{"backups/a/x"}) {
			t.Errorf("keys %v %v", k, err)
		}
		if u, err := s.CreateSignedURL("bk", "k", time.Minute); err != nil || u != "file:///bk/k?ttl=60000000000" {
			t.Errorf("url %q %v", u, err)
		}
		if err := s.DeleteObject("bk", "backups/a/x"); err != nil {
			t.Error(err)
		}
		// Velero's host sends an empty body as zero chunks, naming no key;
		// rigging's server refuses it clearly instead of failing on EOF.
		if err := s.PutObject("bk", "empty", bytes.NewReader(nil)); err == nil || !strings.Contains(err.Error(), "no chunk") {
			t.Errorf("empty body from Velero's host: %v", err)
		}
	})

	t.Run("VolumeSnapshotter", func(t *testing.T) {
		v, err := m.GetVolumeSnapshotter("test.rigging.dev/snapshotter")
		if err != nil {
			t.Fatal(err)
		}
		if err := v.Init(map[string]string{"zone": "z1"}); err != nil {
			t.Fatal(err)
		}
		n := int64(500)
		if id, err := v.CreateVolumeFromSnapshot("s1", "gp3", "az1", &n); err != nil || id != "vol-from-s1-gp3-az1-500" {
			t.Errorf("create %q %v", id, err)
		}
		if typ, iops, err := v.GetVolumeInfo("no-iops", "az"); err != nil || typ != "gp3" || iops != nil {
			t.Errorf("info %q %v %v", typ, iops, err)
		}
		if id, err := v.CreateSnapshot("v1", "az1", map[string]string{"backup": "b1"}); err != nil || id != "snap-v1-az1-b1-z1" {
			t.Errorf("snapshot %q %v", id, err)
		}
		if err := v.DeleteSnapshot("s"); err != nil {
			t.Error(err)
		}
		pv := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "PersistentVolume", "metadata": map[string]any{"name": "pv1"},
			"spec": map[string]any{"csi": map[string]any{"volumeHandle": "vol-1"}}}}
		if id, err := v.GetVolumeID(pv); err != nil || id != "vol-1" {
			t.Errorf("volume ID %q %v", id, err)
		}
		out, err := v.SetVolumeID(pv, "vol-2")
		if id, _, _ := unstructured.NestedString(out.UnstructuredContent(), "spec", "csi", "volumeHandle"); err != nil || id != "vol-2" {
			t.Errorf("SetVolumeID %v %v", out, err)
		}
	})

	t.Run("BackupItemAction", func(t *testing.T) {
		a, err := m.GetBackupItemAction("test.rigging.dev/bia")
		if err != nil {
			t.Fatal(err)
		}
		if s, err := a.AppliesTo(); err != nil || !slices.Equal(s.IncludedResources, []string{"pods"}) || s.LabelSelector != "app=web" {
			t.Errorf("AppliesTo %+v %v", s, err)
		}
		out, extra, err := a.Execute(pod("p"), backup)
		if err != nil || annotation(out) != "test.rigging.dev/bia@b1" || len(extra) != 1 || extra[0].Resource != "persistentvolumeclaims" {
			t.Errorf("Execute %v %v %v", out, extra, err)
		}
		if out, _, err := a.Execute(pod("unchanged"), backup); err != nil || out == nil {
			t.Errorf("a nil item must come back as the input (Velero's host decodes it): %v %v", out, err)
		}
		_, _, err = a.Execute(pod("error"), backup)
		var pse *common.ProtoStackError
		if !errors.As(err, &pse) || !strings.HasSuffix(err.Error(), "desc = test plugin asked to fail") || !strings.Contains(pse.Function(), "testplugin") {
			t.Errorf("error with stack: %v (%T)", err, err)
		}
		if _, _, err = a.Execute(pod("panic"), backup); err == nil || !strings.Contains(err.Error(), "plugin panicked: test plugin asked to panic") {
			t.Errorf("panic: %v", err)
		}
	})

	t.Run("BackupItemActionV2", func(t *testing.T) {
		a, err := m.GetBackupItemActionV2("test.rigging.dev/bia-v2")
		if err != nil {
			t.Fatal(err)
		}
		if a.Name() != "test.rigging.dev/bia-v2" {
			t.Errorf("Name %q", a.Name())
		}
		out, extra, op, post, err := a.Execute(pod("p"), backup)
		if err != nil || annotation(out) != "test.rigging.dev/bia-v2" || len(extra) != 1 || op != "op-p" || len(post) != 1 {
			t.Errorf("Execute %v %v %q %v %v", out, extra, op, post, err)
		}
		p, err := a.Progress(op, backup)
		if err != nil || !p.Completed || p.NTotal != 3 || p.Description != "done for b1" || !p.Started.Equal(time.Unix(1700000000, 0)) {
			t.Errorf("Progress %+v %v", p, err)
		}
		if err := a.Cancel(op, backup); err != nil {
			t.Error(err)
		}
		if _, err := a.AppliesTo(); err != nil {
			t.Error(err)
		}
	})

	t.Run("RestoreItemAction", func(t *testing.T) {
		a, err := m.GetRestoreItemAction("test.rigging.dev/ria")
		if err != nil {
			t.Fatal(err)
		}
		from := pod("p")
		from.SetLabels(map[string]string{"skip": "true"})
		out, err := a.Execute(&velero.RestoreItemActionExecuteInput{Item: pod("p"), ItemFromBackup: from, Restore: restore})
		if err != nil || annotation(out.UpdatedItem) != "test.rigging.dev/ria@r1" || !out.SkipRestore || len(out.AdditionalItems) != 1 {
			t.Errorf("Execute %+v %v", out, err)
		}
		if _, err := a.AppliesTo(); err != nil {
			t.Error(err)
		}
	})

	t.Run("RestoreItemActionV2", func(t *testing.T) {
		a, err := m.GetRestoreItemActionV2("test.rigging.dev/ria-v2")
		if err != nil {
			t.Fatal(err)
		}
		out, err := a.Execute(&velero.RestoreItemActionExecuteInput{Item: pod("p"), ItemFromBackup: pod("p"), Restore: restore})
		if err != nil || out.OperationID != "op-p" || !out.WaitForAdditionalItems || out.AdditionalItemsReadyTimeout != 90*time.Second {
			t.Errorf("Execute %+v %v", out, err)
		}
		// rigging never sends a nil progress (Velero's host would panic).
		if p, err := a.Progress("op-p", restore); err != nil || p.Description != "restoring r1" {
			t.Errorf("Progress %+v %v", p, err)
		}
		if err := a.Cancel("op-p", restore); err != nil {
			t.Error(err)
		}
		if ok, err := a.AreAdditionalItemsReady(out.AdditionalItems, restore); !ok || err != nil {
			t.Errorf("ready %v %v", ok, err)
		}
		if _, err := a.AppliesTo(); err != nil {
			t.Error(err)
		}
	})

	t.Run("DeleteItemAction", func(t *testing.T) {
		a, err := m.GetDeleteItemAction("test.rigging.dev/dia")
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Execute(&velero.DeleteItemActionExecuteInput{Item: pod("p"), Backup: backup}); err != nil {
			t.Error(err)
		}
		if _, err := a.AppliesTo(); err != nil {
			t.Error(err)
		}
	})

	t.Run("ItemBlockAction", func(t *testing.T) {
		a, err := m.GetItemBlockAction("test.rigging.dev/iba")
		if err != nil {
			t.Fatal(err)
		}
		if ids, err := a.GetRelatedItems(pod("p"), backup); err != nil || len(ids) != 2 {
			t.Errorf("related %v %v", ids, err)
		}
		if _, err := a.AppliesTo(); err != nil {
			t.Error(err)
		}
	})
}

// TestRiggingBinaryAndExamples: the rigging binary copied into a Velero
// plugin directory serves its built-ins to Velero (whatever arguments
// Velero passes), and so does the examples module's vendor binary.
func TestRiggingBinaryAndExamples(t *testing.T) {
	dir := t.TempDir()
	build(t, "../..", "./cmd/rigging", filepath.Join(dir, "rigging"))
	build(t, "../../examples", ".", filepath.Join(dir, "rigging-example-plugin"))
	m, reg := veleroManager(t, dir)

	id, err := reg.Get(common.PluginKindBackupItemAction, "velero.io/pod")
	if err != nil || id.Command != filepath.Join(dir, "rigging") {
		t.Fatalf("velero.io/pod: %+v %v", id, err)
	}
	a, err := m.GetBackupItemAction("velero.io/pod")
	if err != nil {
		t.Fatal(err)
	}
	p := pod("web")
	_ = unstructured.SetNestedSlice(p.Object, []any{map[string]any{"name": "d", "persistentVolumeClaim": map[string]any{"claimName": "data-web"}}}, "spec", "volumes")
	_, extra, err := a.Execute(p, backup)
	if err != nil || len(extra) != 1 || extra[0].Resource != "persistentvolumeclaims" || extra[0].Name != "data-web" {
		t.Errorf("rigging's velero.io/pod through Velero: %v %v", extra, err)
	}

	s, err := m.GetObjectStore("rigging.dev/filesystem")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Init(map[string]string{"root": t.TempDir(), "bucket": "bk", "prefix": ""}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutObject("bk", "backups/b1/velero-backup.json", strings.NewReader(`{"kind":"Backup"}`)); err != nil {
		t.Fatal(err)
	}
	if keys, err := s.ListObjects("bk", "backups/"); err != nil || !slices.Equal(keys, []string{"backups/b1/velero-backup.json"}) {
		t.Errorf("keys %v %v", keys, err)
	}

	// The examples vendor binary.
	ria, err := m.GetRestoreItemAction("example.com/restore-labeler")
	if err != nil {
		t.Fatal(err)
	}
	out, err := ria.Execute(&velero.RestoreItemActionExecuteInput{Item: pod("p"), ItemFromBackup: pod("p"), Restore: restore})
	if err != nil {
		t.Fatal(err)
	}
	if l := (&unstructured.Unstructured{Object: out.UpdatedItem.UnstructuredContent()}).GetLabels()["example.com/restored-by"]; l != "r1" {
		t.Errorf("label = %q", l)
	}
	bia, err := m.GetBackupItemActionV2("example.com/timed-operation")
	if err != nil {
		t.Fatal(err)
	}
	cm := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "c", "namespace": "ns1"}}}
	_, _, op, _, err := bia.Execute(cm, backup)
	if err != nil || op == "" {
		t.Fatalf("operation %q %v", op, err)
	}
	if pr, err := bia.Progress(op, backup); err != nil || pr.NTotal != 5 {
		t.Errorf("progress %+v %v", pr, err)
	}
	if err := bia.Cancel(op, backup); err != nil {
		t.Error(err)
	}
	if sel, err := bia.AppliesTo(); err != nil || !slices.Equal(sel.IncludedResources, []string{"configmaps"}) {
		t.Errorf("AppliesTo %+v %v", sel, err)
	}
	if sel, err := ria.AppliesTo(); err != nil || !slices.Equal(sel.ExcludedResources, []string{"events"}) {
		t.Errorf("AppliesTo %+v %v", sel, err)
	}
	examplesEveryKind(t, m)
}

// examplesEveryKind drives the remaining methods of the examples binary's
// plugins through Velero's host.
func examplesEveryKind(t *testing.T, m clientmgmt.Manager) {
	store, err := m.GetObjectStore("example.com/dir")
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Init(map[string]string{"root": t.TempDir(), "bucket": "bk", "prefix": ""}); err != nil {
		t.Fatal(err)
	}
	body := bytes.Repeat([]byte("example\n"), 10000)
	if err := store.PutObject("bk", "backups/b1/data", bytes.NewReader(body)); err != nil {
		t.Fatal(err)
	}
	if ok, err := store.ObjectExists("bk", "backups/b1/data"); !ok || err != nil {
		t.Errorf("exists %v %v", ok, err)
	}
	rc, err := store.GetObject("bk", "backups/b1/data")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, body) {
		t.Errorf("get %d bytes %v", len(got), err)
	}
	if p, err := store.ListCommonPrefixes("bk", "backups/", "/"); err != nil || !slices.Equal(p, []string{"backups/b1/"}) {
		t.Errorf("prefixes %v %v", p, err)
	}
	if k, err := store.ListObjects("bk", "backups/"); err != nil || !slices.Equal(k, []string{"backups/b1/data"}) {
		t.Errorf("keys %v %v", k, err)
	}
	if u, err := store.CreateSignedURL("bk", "backups/b1/data", time.Hour); err != nil || !strings.HasPrefix(u, "file://") {
		t.Errorf("url %q %v", u, err)
	}
	if err := store.DeleteObject("bk", "backups/b1/data"); err != nil {
		t.Error(err)
	}

	vs, err := m.GetVolumeSnapshotter("example.com/file-snapshots")
	if err != nil {
		t.Fatal(err)
	}
	if err := vs.Init(map[string]string{"root": t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	snap, err := vs.CreateSnapshot("vol1", "az1", map[string]string{"velero.io/backup": "b1"})
	if err != nil || snap != "snap-vol1" {
		t.Fatalf("snapshot %q %v", snap, err)
	}
	n := int64(100)
	if vol, err := vs.CreateVolumeFromSnapshot(snap, "fast", "az1", &n); err != nil || vol != "vol-from-snap-vol1" {
		t.Errorf("volume %q %v", vol, err)
	}
	if typ, iops, err := vs.GetVolumeInfo("vol1", "az1"); err != nil || typ != "file" || iops != nil {
		t.Errorf("info %q %v %v", typ, iops, err)
	}
	pv := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "PersistentVolume", "metadata": map[string]any{"name": "pv1"},
		"spec": map[string]any{"csi": map[string]any{"driver": "example.com/file", "volumeHandle": "vol1"}}}}
	if id, err := vs.GetVolumeID(pv); err != nil || id != "vol1" {
		t.Errorf("volume ID %q %v", id, err)
	}
	if out, err := vs.SetVolumeID(pv, "vol2"); err != nil {
		t.Error(err)
	} else if id, _, _ := unstructured.NestedString(out.UnstructuredContent(), "spec", "csi", "volumeHandle"); id != "vol2" {
		t.Errorf("SetVolumeID gave %q", id)
	}
	if err := vs.DeleteSnapshot(snap); err != nil {
		t.Error(err)
	}

	dia, err := m.GetDeleteItemAction("example.com/delete-logger")
	if err != nil {
		t.Fatal(err)
	}
	if sel, err := dia.AppliesTo(); err != nil || !slices.Equal(sel.IncludedResources, []string{"persistentvolumeclaims"}) {
		t.Errorf("AppliesTo %+v %v", sel, err)
	}
	claim := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": map[string]any{"name": "c", "namespace": "ns1"}}}
	if err := dia.Execute(&velero.DeleteItemActionExecuteInput{Item: claim, Backup: backup}); err != nil {
		t.Error(err)
	}

	iba, err := m.GetItemBlockAction("example.com/configmap-block")
	if err != nil {
		t.Fatal(err)
	}
	if sel, err := iba.AppliesTo(); err != nil || !slices.Equal(sel.IncludedResources, []string{"pods"}) {
		t.Errorf("AppliesTo %+v %v", sel, err)
	}
	p := pod("web")
	_ = unstructured.SetNestedSlice(p.Object, []any{map[string]any{"name": "cfg", "configMap": map[string]any{"name": "web-config"}}}, "spec", "volumes")
	if ids, err := iba.GetRelatedItems(p, backup); err != nil || len(ids) != 1 || ids[0].Name != "web-config" {
		t.Errorf("related %v %v", ids, err)
	}
}
