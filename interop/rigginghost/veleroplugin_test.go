// Package rigginghost drives plugins built on Velero's own framework (and
// real Velero plugins) through rigging's host: discovery, the external
// Catalog and manager.Manager. It links rigging's generated protocol code
// only; Velero's plugins run as separate processes.
package rigginghost

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/external"
	"github.com/rigging-dev/rigging/manager"
	"github.com/rigging-dev/rigging/registry"
)

// build compiles a main package of this module (or, with dir "..", of
// rigging's) into dir/name.
func build(t *testing.T, dir, name, pkg string) string {
	t.Helper()
	out := filepath.Join(dir, name)
	cmd := exec.Command("go", "build", "-o", out, pkg)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
	return out
}

func logger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

func newManager(t *testing.T, dir string) (*manager.Manager, *external.Catalog) {
	t.Helper()
	os.Chmod(dir, 0o755)
	cat, err := external.Discover(context.Background(), external.Options{Dir: dir, Logger: logger(t), Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	m := manager.New(manager.Options{Registry: registry.New(), External: cat, Logger: logger(t)})
	t.Cleanup(func() { m.Close() })
	return m, cat
}

func pod(name string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Pod",
		"metadata": map[string]any{"name": name, "namespace": "ns1", "labels": map[string]any{"app": "web"}}}}
}

func seen(u *unstructured.Unstructured) bool {
	return u != nil && u.GetAnnotations()["interop.rigging.dev/seen"] == "velero"
}

var wantSelector = rigging.ResourceSelector{IncludedNamespaces: []string{"ns1"}, IncludedResources: []string{"pods"}, LabelSelector: "app=web"}

func sameSelector(s rigging.ResourceSelector) bool {
	return slices.Equal(s.IncludedNamespaces, wantSelector.IncludedNamespaces) && slices.Equal(s.IncludedResources, wantSelector.IncludedResources) &&
		s.LabelSelector == wantSelector.LabelSelector && len(s.ExcludedNamespaces) == 0 && len(s.ExcludedResources) == 0
}

// TestVeleroFrameworkPlugin drives every method of every kind of a plugin
// built on Velero's framework through rigging's Manager.
func TestVeleroFrameworkPlugin(t *testing.T) {
	dir := t.TempDir()
	build(t, dir, "veleroplugin", "../veleroplugin")
	m, cat := newManager(t, dir)
	if n := len(cat.Plugins()); n != 8 {
		t.Fatalf("discovered %d plugins: %v", n, cat.Plugins())
	}
	ctx := context.Background()
	b := &rigging.Backup{}
	b.Name = "b1"
	r := &rigging.Restore{}
	r.Name = "r1"

	t.Run("ObjectStore", func(t *testing.T) {
		s, err := m.ObjectStore(ctx, "interop.rigging.dev/store")
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Init(ctx, map[string]string{"bucket": "bk", "prefix": ""}); err != nil {
			t.Fatal(err)
		}
		body := strings.Repeat("velero interop\n", 5000)
		for _, k := range []string{"backups/a/x", "backups/b/y"} {
			if err := s.PutObject(ctx, "bk", k, strings.NewReader(body)); err != nil {
				t.Fatal(err)
			}
		}
		if ok, err := s.ObjectExists(ctx, "bk", "backups/a/x"); !ok || err != nil {
			t.Errorf("exists %v %v", ok, err)
		}
		rc, err := s.GetObject(ctx, "bk", "backups/a/x")
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rc)
		if err != nil || string(got) != body {
			t.Errorf("GetObject: %d bytes %v", len(got), err)
		}
		rc.Close()
		if p, err := s.ListCommonPrefixes(ctx, "bk", "backups/", "/"); err != nil || !slices.Equal(p, []string{"backups/a/", "backups/b/"}) {
			t.Errorf("prefixes %v %v", p, err)
		}
		if k, err := s.ListObjects(ctx, "bk", "backups/b"); err != nil || !slices.Equal(k, []string{"backups/b/y"}) {
			t.Errorf("keys %v %v", k, err)
		}
		if u, err := s.CreateSignedURL(ctx, "bk", "k", time.Minute); err != nil || u != "mem://bk/k?ttl=60000000000" {
			t.Errorf("url %q %v", u, err)
		}
		if err := s.DeleteObject(ctx, "bk", "backups/a/x"); err != nil {
			t.Error(err)
		}
		if _, err := s.GetObject(ctx, "bk", "backups/a/x"); err == nil || !strings.Contains(err.Error(), "not found") {
			t.Errorf("deleted object: %v", err)
		}
	})

	t.Run("VolumeSnapshotter", func(t *testing.T) {
		v, err := m.VolumeSnapshotter(ctx, "interop.rigging.dev/snapshotter")
		if err != nil {
			t.Fatal(err)
		}
		if err := v.Init(ctx, map[string]string{"zone": "z"}); err != nil {
			t.Fatal(err)
		}
		n := int64(7)
		if id, err := v.CreateVolumeFromSnapshot(ctx, "s", "t", "az", &n); err != nil || id != "vol-from-s-t-az-7" {
			t.Errorf("create %q %v", id, err)
		}
		if id, _ := v.CreateVolumeFromSnapshot(ctx, "s", "t", "az", nil); id != "vol-from-s-t-az-unset" {
			t.Errorf("nil IOPS: %q", id)
		}
		if typ, iops, err := v.GetVolumeInfo(ctx, "no-iops", "az"); err != nil || typ != "gp3" || iops != nil {
			t.Errorf("info %q %v %v", typ, iops, err)
		}
		if id, err := v.CreateSnapshot(ctx, "v", "az", map[string]string{"backup": "b1"}); err != nil || id != "snap-v-az-b1-z" {
			t.Errorf("snapshot %q %v", id, err)
		}
		if err := v.DeleteSnapshot(ctx, "s"); err != nil {
			t.Error(err)
		}
		pv := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "PersistentVolume", "metadata": map[string]any{"name": "pv"},
			"spec": map[string]any{"csi": map[string]any{"volumeHandle": "h1"}}}}
		if id, err := v.GetVolumeID(ctx, pv); err != nil || id != "h1" {
			t.Errorf("volume ID %q %v", id, err)
		}
		out, err := v.SetVolumeID(ctx, pv, "h2")
		if id, _, _ := unstructured.NestedString(out.Object, "spec", "csi", "volumeHandle"); err != nil || id != "h2" {
			t.Errorf("SetVolumeID %v %v", out, err)
		}
	})

	t.Run("BackupItemAction", func(t *testing.T) {
		a, err := m.BackupItemAction(ctx, "interop.rigging.dev/bia")
		if err != nil {
			t.Fatal(err)
		}
		if s, err := a.AppliesTo(ctx); err != nil || !sameSelector(s) {
			t.Errorf("AppliesTo %+v %v", s, err)
		}
		out, extra, err := a.Execute(ctx, pod("p"), b)
		if err != nil || !seen(out) || out.GetLabels()["backup"] != "b1" || len(extra) != 1 || extra[0].Resource != "persistentvolumeclaims" {
			t.Errorf("Execute %v %v %v", out, extra, err)
		}
		if out, _, err := a.Execute(ctx, pod("unchanged"), b); err != nil || out.GetName() != "unchanged" {
			t.Errorf("Velero's server echoes the item for nil: %v %v", out, err)
		}
		_, _, err = a.Execute(ctx, pod("error"), b)
		var re *external.RemoteError
		if !errors.As(err, &re) || re.Message != "velero plugin asked to fail" || len(re.Frames()) == 0 {
			t.Errorf("error with stack: %v", err)
		} else if !slices.ContainsFunc(re.Frames(), func(f external.StackFrame) bool { return strings.Contains(f.Function, "steer") }) {
			t.Errorf("stack %+v lacks the plugin's frame", re.Frames())
		}
		_, _, err = a.Execute(ctx, pod("panic"), b)
		if !errors.As(err, &re) || re.Code != codes.Aborted || !errors.Is(err, rigging.ErrPanic) || !strings.Contains(err.Error(), "velero plugin asked to panic") {
			t.Errorf("panic: %v", err)
		}
	})

	t.Run("BackupItemActionV2", func(t *testing.T) {
		a, err := m.BackupItemActionV2(ctx, "interop.rigging.dev/bia-v2")
		if err != nil {
			t.Fatal(err)
		}
		if a.Name() != "interop.rigging.dev/bia-v2" {
			t.Errorf("Name %q", a.Name())
		}
		if s, err := a.AppliesTo(ctx); err != nil || !sameSelector(s) {
			t.Errorf("AppliesTo %+v %v", s, err)
		}
		out, extra, op, post, err := a.Execute(ctx, pod("p"), b)
		if err != nil || !seen(out) || len(extra) != 1 || op != "op-p" || len(post) != 1 {
			t.Errorf("Execute %v %v %q %v %v", out, extra, op, post, err)
		}
		p, err := a.Progress(ctx, op, b)
		if err != nil || !p.Completed || p.NTotal != 3 || p.Description != "done for b1" || !p.Updated.Equal(time.Unix(1700000060, 0)) {
			t.Errorf("Progress %+v %v", p, err)
		}
		if _, err := a.Progress(ctx, "bogus", b); err == nil || !strings.Contains(err.Error(), "is invalid") {
			t.Errorf("bad op %v", err)
		}
		if err := a.Cancel(ctx, op, b); err != nil {
			t.Error(err)
		}
	})

	t.Run("RestoreItemAction", func(t *testing.T) {
		a, err := m.RestoreItemAction(ctx, "interop.rigging.dev/ria")
		if err != nil {
			t.Fatal(err)
		}
		if s, err := a.AppliesTo(ctx); err != nil || !sameSelector(s) {
			t.Errorf("AppliesTo %+v %v", s, err)
		}
		out, err := a.Execute(ctx, &rigging.RestoreItemActionExecuteInput{Item: pod("skip"), ItemFromBackup: pod("skip"), Restore: r})
		if err != nil || !seen(out.UpdatedItem) || !out.SkipRestore || len(out.AdditionalItems) != 1 {
			t.Errorf("Execute %+v %v", out, err)
		}
	})

	t.Run("RestoreItemActionV2", func(t *testing.T) {
		a, err := m.RestoreItemActionV2(ctx, "interop.rigging.dev/ria-v2")
		if err != nil {
			t.Fatal(err)
		}
		if s, err := a.AppliesTo(ctx); err != nil || !sameSelector(s) {
			t.Errorf("AppliesTo %+v %v", s, err)
		}
		out, err := a.Execute(ctx, &rigging.RestoreItemActionExecuteInput{Item: pod("p"), ItemFromBackup: pod("p"), Restore: r})
		if err != nil || !seen(out.UpdatedItem) || out.OperationID != "op-p" || !out.WaitForAdditionalItems || out.AdditionalItemsReadyTimeout != 90*time.Second {
			t.Errorf("Execute %+v %v", out, err)
		}
		if p, err := a.Progress(ctx, "op-p", r); err != nil || p.Description != "restoring r1" || !p.Started.IsZero() {
			t.Errorf("Progress %+v %v", p, err)
		}
		if err := a.Cancel(ctx, "op-p", r); err != nil {
			t.Error(err)
		}
		if ok, err := a.AreAdditionalItemsReady(ctx, out.AdditionalItems, r); !ok || err != nil {
			t.Errorf("ready %v %v", ok, err)
		}
	})

	t.Run("DeleteItemAction", func(t *testing.T) {
		a, err := m.DeleteItemAction(ctx, "interop.rigging.dev/dia")
		if err != nil {
			t.Fatal(err)
		}
		if s, err := a.AppliesTo(ctx); err != nil || !sameSelector(s) {
			t.Errorf("AppliesTo %+v %v", s, err)
		}
		if err := a.Execute(ctx, &rigging.DeleteItemActionExecuteInput{Item: pod("p"), Backup: b}); err != nil {
			t.Error(err)
		}
	})

	t.Run("ItemBlockAction", func(t *testing.T) {
		a, err := m.ItemBlockAction(ctx, "interop.rigging.dev/iba")
		if err != nil {
			t.Fatal(err)
		}
		if s, err := a.AppliesTo(ctx); err != nil || !sameSelector(s) {
			t.Errorf("AppliesTo %+v %v", s, err)
		}
		if ids, err := a.GetRelatedItems(ctx, pod("p"), b); err != nil || len(ids) != 1 || ids[0].Name != "data" {
			t.Errorf("related %v %v", ids, err)
		}
	})
}

// TestVeleroPluginKilledBetweenCalls: a Velero-framework plugin killed
// between two idempotent calls; the second succeeds.
func TestVeleroPluginKilledBetweenCalls(t *testing.T) {
	dir := t.TempDir()
	bin := build(t, dir, "veleroplugin", "../veleroplugin")
	m, _ := newManager(t, dir)
	ctx := context.Background()
	a, err := m.ItemBlockAction(ctx, "interop.rigging.dev/iba")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.AppliesTo(ctx); err != nil {
		t.Fatal(err)
	}
	// The process is the only one running the binary: find and kill it.
	out, err := exec.Command("pgrep", "-f", "^"+bin).Output()
	if err != nil {
		t.Fatalf("pgrep: %v", err)
	}
	for _, pid := range strings.Fields(string(out)) {
		if err := exec.Command("kill", "-9", pid).Run(); err != nil {
			t.Fatal(err)
		}
	}
	if ids, err := a.GetRelatedItems(ctx, pod("p"), &rigging.Backup{}); err != nil || len(ids) != 1 {
		t.Errorf("after kill: %v %v", ids, err)
	}
}

// TestVeleroPluginAutoMTLS: a plugin on Velero's framework (go-plugin's
// server) accepts go-plugin AutoMTLS when rigging's host asks for it,
// although Velero's own host never does.
func TestVeleroPluginAutoMTLS(t *testing.T) {
	dir := t.TempDir()
	build(t, dir, "veleroplugin", "../veleroplugin")
	cat, err := external.Discover(context.Background(), external.Options{Dir: dir, Logger: logger(t), AutoMTLS: true, Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	v, err := cat.Open(context.Background(), rigging.KindItemBlockAction, "interop.rigging.dev/iba")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.(rigging.ItemBlockAction).AppliesTo(context.Background()); err != nil {
		t.Fatalf("over mTLS: %v", err)
	}
}
