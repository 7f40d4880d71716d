package external

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/external/internal/testplugin"
	"github.com/rigging-dev/rigging/internal/proctest"
)

// pluginBin is the test plugin binary built by TestMain.
var pluginBin string

func TestMain(m *testing.M) {
	if dir := os.Getenv("RIGGING_TEST_HOST_DIR"); dir != "" {
		hostHelper(dir) // never returns
	}
	if bin := os.Getenv("RIGGING_TEST_PLAIN_PARENT"); bin != "" {
		plainParent(bin) // never returns
	}
	dir, err := os.MkdirTemp("", "rigging-external-test")
	if err != nil {
		panic(err)
	}
	pluginBin = filepath.Join(dir, "testplugin")
	out, err := exec.Command("go", "build", "-o", pluginBin, "./internal/testplugin/cmd/testplugin").CombinedOutput()
	if err != nil {
		os.RemoveAll(dir)
		panic("build test plugin: " + err.Error() + "\n" + string(out))
	}
	code := proctest.RunWithPrivateTempDir(m, nil)
	os.RemoveAll(dir)
	os.Exit(code)
}

// pluginDir returns a plugin directory holding the test plugin (and extra
// files name -> content, made executable).
func pluginDir(t *testing.T, extra map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	bin, err := os.ReadFile(pluginBin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "testplugin"), bin, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range extra {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func discover(t *testing.T, opts Options) *Catalog {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = testLogger(t)
	}
	c, err := Discover(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func open[T any](t *testing.T, c *Catalog, kind rigging.Kind, name string) T {
	t.Helper()
	v, err := c.Open(context.Background(), kind, rigging.Name(name))
	if err != nil {
		t.Fatal(err)
	}
	return v.(T)
}

func pod(name string, size int) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Pod",
		"metadata": map[string]any{"name": name, "namespace": "ns1", "labels": map[string]any{"app": "web"}},
	}}
	if size > 0 {
		u.Object["data"] = strings.Repeat("x", size)
	}
	return u
}

func backup() *rigging.Backup {
	b := &rigging.Backup{}
	b.Name = "b1"
	return b
}

func TestDiscoverAndCache(t *testing.T) {
	dir := pluginDir(t, map[string]string{"broken": "#!/bin/sh\necho not a plugin\n", "notes.txt": "x"})
	os.Chmod(filepath.Join(dir, "notes.txt"), 0o644)
	cache := filepath.Join(t.TempDir(), "cache.json")
	c := discover(t, Options{Dir: dir, CacheFile: cache})

	var got []string
	for _, p := range c.Plugins() {
		if p.Source != filepath.Join(dir, "testplugin") {
			t.Errorf("%s %s: source %s", p.Kind, p.Name, p.Source)
		}
		got = append(got, string(p.Kind)+" "+string(p.Name))
	}
	want := []string{
		"BackupItemAction " + testplugin.BIA, "BackupItemActionV2 " + testplugin.BIAv2,
		"VolumeSnapshotter " + testplugin.Snapshotter, "ObjectStore " + testplugin.Store,
		"RestoreItemAction " + testplugin.RIA, "RestoreItemActionV2 " + testplugin.RIAv2,
		"DeleteItemAction " + testplugin.DIA, "ItemBlockAction " + testplugin.IBA,
	}
	if !slices.Equal(got, want) {
		t.Errorf("plugins (Velero's kind order)\n got %q\nwant %q", got, want)
	}
	if ps := c.Problems(); len(ps) != 1 || ps[0].Path != filepath.Join(dir, "broken") {
		t.Errorf("problems = %v, want the broken binary only", ps)
	}

	// The cache is keyed by stat identity: doctor the cached answer and see
	// that a second discovery uses it without launching the binary.
	b, err := os.ReadFile(cache)
	if err != nil {
		t.Fatal(err)
	}
	var dc diskCache
	if err := json.Unmarshal(b, &dc); err != nil || len(dc.Entries) != 1 {
		t.Fatalf("cache = %s (%v)", b, err)
	}
	dc.Entries[0].Plugins = []listedPlugin{{Kind: "ObjectStore", Name: "cached.example.com/only"}}
	if err := dc.save(cache); err != nil {
		t.Fatal(err)
	}
	c2 := discover(t, Options{Dir: dir, CacheFile: cache})
	if ps := c2.Plugins(); len(ps) != 1 || ps[0].Name != "cached.example.com/only" {
		t.Errorf("second discovery did not use the cache: %v", ps)
	}
	// A changed binary (new mtime) is probed again.
	future := time.Now().Add(time.Hour)
	os.Chtimes(filepath.Join(dir, "testplugin"), future, future)
	if c3 := discover(t, Options{Dir: dir, CacheFile: cache}); len(c3.Plugins()) != 8 {
		t.Errorf("changed binary not re-probed: %v", c3.Plugins())
	}

	if _, err := Discover(context.Background(), Options{Dir: dir, Strict: true, Logger: testLogger(t)}); !errors.Is(err, ErrBrokenPlugin) || !strings.Contains(err.Error(), "broken") {
		t.Errorf("strict discovery error = %v, want ErrBrokenPlugin naming the binary", err)
	}
}

func TestWorldWritableRefused(t *testing.T) {
	dir := pluginDir(t, nil)
	os.Chmod(filepath.Join(dir, "testplugin"), 0o757)
	c := discover(t, Options{Dir: dir})
	if len(c.Plugins()) != 0 || len(c.Problems()) != 1 || !strings.Contains(c.Problems()[0].Err.Error(), "writable") {
		t.Errorf("plugins %v problems %v", c.Plugins(), c.Problems())
	}
	if c := discover(t, Options{Dir: dir, AllowWritable: true}); len(c.Plugins()) != 8 {
		t.Errorf("AllowWritable: plugins %v", c.Plugins())
	}
}

func TestEveryKindThroughCatalog(t *testing.T) {
	ctx := context.Background()
	c := discover(t, Options{Dir: pluginDir(t, nil)})
	root := t.TempDir()

	t.Run("ObjectStore", func(t *testing.T) {
		s := open[rigging.ObjectStore](t, c, rigging.KindObjectStore, testplugin.Store)
		if _, err := s.ObjectExists(ctx, "b", "k"); !errors.Is(err, rigging.ErrNotInitialized) {
			t.Errorf("before Init: %v, want ErrNotInitialized across the wire", err)
		}
		if err := s.Init(ctx, map[string]string{"root": root, "bucket": "b"}); err != nil {
			t.Fatal(err)
		}
		body := bytes.Repeat([]byte("0123456789abcdef"), 5000) // 80000 bytes: several chunks
		if err := s.PutObject(ctx, "b", "backups/x/data", bytes.NewReader(body)); err != nil {
			t.Fatal(err)
		}
		if err := s.PutObject(ctx, "b", "backups/y/empty", bytes.NewReader(nil)); err != nil {
			t.Fatalf("empty body: %v", err)
		}
		if ok, err := s.ObjectExists(ctx, "b", "backups/x/data"); !ok || err != nil {
			t.Errorf("exists = %v, %v", ok, err)
		}
		rc, err := s.GetObject(ctx, "b", "backups/x/data")
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || !bytes.Equal(got, body) {
			t.Errorf("GetObject: %d bytes, %v", len(got), err)
		}
		if _, err := s.GetObject(ctx, "b", "missing"); !errors.Is(err, rigging.ErrNotFound) {
			t.Errorf("missing key: %v, want ErrNotFound", err)
		}
		if p, err := s.ListCommonPrefixes(ctx, "b", "backups/", "/"); err != nil || !slices.Equal(p, []string{"backups/x/", "backups/y/"}) {
			t.Errorf("prefixes = %v, %v", p, err)
		}
		if k, err := s.ListObjects(ctx, "b", "backups/x"); err != nil || !slices.Equal(k, []string{"backups/x/data"}) {
			t.Errorf("keys = %v, %v", k, err)
		}
		if u, err := s.CreateSignedURL(ctx, "b", "k", 90*time.Second); err != nil || u != "file:///b/k?ttl=90000000000" {
			t.Errorf("url = %q, %v (ttl must travel in ns)", u, err)
		}
		if err := s.DeleteObject(ctx, "b", "backups/x/data"); err != nil {
			t.Fatal(err)
		}
		if ok, _ := s.ObjectExists(ctx, "b", "backups/x/data"); ok {
			t.Error("deleted object still exists")
		}
		if err := s.Init(ctx, map[string]string{"root": root}); !errors.Is(err, rigging.ErrAlreadyInitialized) {
			t.Errorf("second Init: %v", err)
		}
	})

	t.Run("GetObjectCloseEarly", func(t *testing.T) {
		s := open[rigging.ObjectStore](t, c, rigging.KindObjectStore, testplugin.Store)
		s.Init(ctx, map[string]string{"root": root})
		big := bytes.Repeat([]byte{'z'}, 1<<20)
		if err := s.PutObject(ctx, "b", "big", bytes.NewReader(big)); err != nil {
			t.Fatal(err)
		}
		rc, err := s.GetObject(ctx, "b", "big")
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 10)
		if _, err := io.ReadFull(rc, buf); err != nil {
			t.Fatal(err)
		}
		rc.Close()
		if _, err := rc.Read(buf); err == nil {
			t.Error("read after Close succeeded")
		}
		if ok, err := s.ObjectExists(ctx, "b", "big"); !ok || err != nil {
			t.Errorf("store unusable after an early close: %v %v", ok, err)
		}
	})

	t.Run("VolumeSnapshotter", func(t *testing.T) {
		v := open[rigging.VolumeSnapshotter](t, c, rigging.KindVolumeSnapshotter, testplugin.Snapshotter)
		if err := v.Init(ctx, map[string]string{"zone": "z1"}); err != nil {
			t.Fatal(err)
		}
		iops := int64(500)
		if id, err := v.CreateVolumeFromSnapshot(ctx, "s1", "gp3", "az1", &iops); err != nil || id != "vol-from-s1-gp3-az1-500" {
			t.Errorf("create = %q %v", id, err)
		}
		if id, _ := v.CreateVolumeFromSnapshot(ctx, "s1", "gp3", "az1", nil); id != "vol-from-s1-gp3-az1-unset" {
			t.Errorf("nil IOPS must arrive as nil: %q", id)
		}
		if typ, n, err := v.GetVolumeInfo(ctx, "v", "az"); err != nil || typ != "io2" || n == nil || *n != 3000 {
			t.Errorf("info = %q %v %v", typ, n, err)
		}
		if _, n, _ := v.GetVolumeInfo(ctx, "no-iops", "az"); n != nil {
			t.Errorf("IOPS 0 must become nil, got %d", *n)
		}
		if id, err := v.CreateSnapshot(ctx, "v1", "az1", map[string]string{"backup": "b1"}); err != nil || id != "snap-v1-az1-b1-z1" {
			t.Errorf("snapshot = %q %v", id, err)
		}
		if err := v.DeleteSnapshot(ctx, "s"); err != nil {
			t.Error(err)
		}
		pv := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "PersistentVolume", "metadata": map[string]any{"name": "pv1"},
			"spec": map[string]any{"csi": map[string]any{"volumeHandle": "vol-1"}}}}
		if id, err := v.GetVolumeID(ctx, pv); err != nil || id != "vol-1" {
			t.Errorf("volume ID = %q %v", id, err)
		}
		out, err := v.SetVolumeID(ctx, pv, "vol-2")
		if id, _, _ := unstructured.NestedString(out.Object, "spec", "csi", "volumeHandle"); err != nil || id != "vol-2" {
			t.Errorf("SetVolumeID = %v %v", out, err)
		}
	})

	t.Run("BackupItemAction", func(t *testing.T) {
		a := open[rigging.BackupItemAction](t, c, rigging.KindBackupItemAction, testplugin.BIA)
		if sel, err := a.AppliesTo(ctx); err != nil || !equalSelector(sel, testplugin.Selector) {
			t.Errorf("AppliesTo = %+v %v", sel, err)
		}
		out, extra, err := a.Execute(ctx, pod("p", 0), backup())
		if err != nil || out.GetAnnotations()["rigging.dev/seen"] != testplugin.BIA+"@b1" || !slices.Equal(extra, []rigging.ResourceIdentifier{testplugin.Pod}) {
			t.Errorf("Execute = %v %v %v", out, extra, err)
		}
		// nil from the implementation: the server echoes the input, and the
		// host hands back the caller's own item without decoding it.
		in := pod("unchanged", 0)
		out, _, err = a.Execute(ctx, in, backup())
		if err != nil || out.GetName() != "unchanged" || out.GetAnnotations() != nil {
			t.Errorf("unchanged Execute = %v %v", out, err)
		}
		if out != in {
			t.Errorf("unchanged Execute returned a decoded copy, want the caller's item")
		}
		if !rigging.PreservesInput(a) {
			t.Errorf("an RPC client does not declare rigging.InputPreserver")
		}
		// A changed item is decoded: a new object, the input untouched.
		in = pod("p", 0)
		if out, _, err = a.Execute(ctx, in, backup()); err != nil || out == in || in.GetAnnotations() != nil {
			t.Errorf("changed Execute = %p (input %p) %v; input annotations %v", out, in, err, in.GetAnnotations())
		}
	})

	t.Run("BackupItemActionV2", func(t *testing.T) {
		a := open[rigging.BackupItemActionV2](t, c, rigging.KindBackupItemActionV2, testplugin.BIAv2)
		if a.Name() != testplugin.BIAv2 {
			t.Errorf("Name = %q", a.Name())
		}
		if sel, err := a.AppliesTo(ctx); err != nil || !equalSelector(sel, testplugin.Selector) {
			t.Errorf("AppliesTo = %+v %v", sel, err)
		}
		out, extra, op, post, err := a.Execute(ctx, pod("p", 0), backup())
		if err != nil || out.GetAnnotations()["rigging.dev/seen"] != testplugin.BIAv2 || len(extra) != 1 || op != "op-p" || len(post) != 1 {
			t.Errorf("Execute = %v %v %q %v %v", out, extra, op, post, err)
		}
		p, err := a.Progress(ctx, op, backup())
		if err != nil || !p.Completed || p.NTotal != 3 || p.Description != "done for b1" || !p.Started.Equal(time.Unix(1700000000, 0)) {
			t.Errorf("Progress = %+v %v", p, err)
		}
		if _, err := a.Progress(ctx, "bogus", backup()); !errors.Is(err, rigging.ErrInvalidOperationID) {
			t.Errorf("bad op: %v", err)
		}
		if err := a.Cancel(ctx, op, backup()); err != nil {
			t.Error(err)
		}
	})

	t.Run("RestoreItemAction", func(t *testing.T) {
		a := open[rigging.RestoreItemAction](t, c, rigging.KindRestoreItemAction, testplugin.RIA)
		if sel, err := a.AppliesTo(ctx); err != nil || !equalSelector(sel, testplugin.Selector) {
			t.Errorf("AppliesTo = %+v %v", sel, err)
		}
		r := &rigging.Restore{}
		r.Name = "r1"
		from := pod("p", 0)
		from.SetLabels(map[string]string{"skip": "true"})
		out, err := a.Execute(ctx, &rigging.RestoreItemActionExecuteInput{Item: pod("p", 0), ItemFromBackup: from, Restore: r})
		if err != nil || out.UpdatedItem.GetAnnotations()["rigging.dev/seen"] != testplugin.RIA+"@r1" || !out.SkipRestore || len(out.AdditionalItems) != 1 {
			t.Errorf("Execute = %+v %v", out, err)
		}
		out, err = a.Execute(ctx, &rigging.RestoreItemActionExecuteInput{Item: pod("unchanged", 0), Restore: r})
		if err != nil || out.UpdatedItem.GetName() != "unchanged" {
			t.Errorf("nil output must echo the item: %+v %v", out, err)
		}
	})

	t.Run("RestoreItemActionV2", func(t *testing.T) {
		a := open[rigging.RestoreItemActionV2](t, c, rigging.KindRestoreItemActionV2, testplugin.RIAv2)
		r := &rigging.Restore{}
		r.Name = "r1"
		out, err := a.Execute(ctx, &rigging.RestoreItemActionExecuteInput{Item: pod("p", 0), Restore: r})
		if err != nil || out.OperationID != "op-p" || !out.WaitForAdditionalItems || out.AdditionalItemsReadyTimeout != 90*time.Second {
			t.Errorf("Execute = %+v %v", out, err)
		}
		if p, err := a.Progress(ctx, "op-p", r); err != nil || p.NCompleted != 1 || p.Description != "restoring r1" || !p.Started.IsZero() {
			t.Errorf("Progress = %+v %v (zero times must round-trip as zero)", p, err)
		}
		if err := a.Cancel(ctx, "op-p", r); err != nil {
			t.Error(err)
		}
		if ok, err := a.AreAdditionalItemsReady(ctx, []rigging.ResourceIdentifier{testplugin.Pod}, r); !ok || err != nil {
			t.Errorf("ready = %v %v", ok, err)
		}
		if sel, err := a.AppliesTo(ctx); err != nil || !equalSelector(sel, testplugin.Selector) {
			t.Errorf("AppliesTo = %+v %v", sel, err)
		}
	})

	t.Run("DeleteItemAction", func(t *testing.T) {
		a := open[rigging.DeleteItemAction](t, c, rigging.KindDeleteItemAction, testplugin.DIA)
		if sel, err := a.AppliesTo(ctx); err != nil || !equalSelector(sel, testplugin.Selector) {
			t.Errorf("AppliesTo = %+v %v", sel, err)
		}
		if err := a.Execute(ctx, &rigging.DeleteItemActionExecuteInput{Item: pod("p", 0), Backup: backup()}); err != nil {
			t.Error(err)
		}
		if err := a.Execute(ctx, &rigging.DeleteItemActionExecuteInput{Item: pod("p", 0)}); err == nil || !strings.Contains(err.Error(), "needs the backup") {
			t.Errorf("error = %v", err)
		}
	})

	t.Run("ItemBlockAction", func(t *testing.T) {
		a := open[rigging.ItemBlockAction](t, c, rigging.KindItemBlockAction, testplugin.IBA)
		if sel, err := a.AppliesTo(ctx); err != nil || !equalSelector(sel, testplugin.Selector) {
			t.Errorf("AppliesTo = %+v %v", sel, err)
		}
		ids, err := a.GetRelatedItems(ctx, pod("p", 0), backup())
		if err != nil || len(ids) != 2 || ids[1].Name != "p" || ids[1].Resource != "pods" {
			t.Errorf("related = %v %v", ids, err)
		}
	})

	if n := len(c.procs); n != 1 {
		t.Errorf("%d processes for one binary, want 1 shared by every kind", n)
	}
}

func equalSelector(a, b rigging.ResourceSelector) bool {
	return slices.Equal(a.IncludedNamespaces, b.IncludedNamespaces) && slices.Equal(a.ExcludedNamespaces, b.ExcludedNamespaces) &&
		slices.Equal(a.IncludedResources, b.IncludedResources) && slices.Equal(a.ExcludedResources, b.ExcludedResources) &&
		a.LabelSelector == b.LabelSelector
}

func TestErrorsAcrossTheWire(t *testing.T) {
	ctx := context.Background()
	c := discover(t, Options{Dir: pluginDir(t, nil)})
	a := open[rigging.BackupItemAction](t, c, rigging.KindBackupItemAction, testplugin.BIA)

	_, _, err := a.Execute(ctx, pod("panic", 0), backup())
	var re *RemoteError
	if !errors.As(err, &re) || re.Code != codes.Aborted || !strings.Contains(err.Error(), "plugin panicked: test plugin asked to panic") || !errors.Is(err, rigging.ErrPanic) {
		t.Errorf("panic: %v", err)
	}
	if re != nil && len(re.Frames()) == 0 {
		t.Error("panic carries no stack")
	}

	_, _, err = a.Execute(ctx, pod("error", 0), backup())
	re = nil
	if !errors.As(err, &re) || re.Code != codes.Unknown || re.Message != "test plugin asked to fail" {
		t.Fatalf("error: %v", err)
	}
	if f := re.Frames(); len(f) == 0 || !strings.Contains(f[0].Function, "testplugin") {
		t.Errorf("stack = %+v, want the plugin's frames", f)
	}
	// The process survived both.
	if _, _, err := a.Execute(ctx, pod("p", 0), backup()); err != nil {
		t.Error(err)
	}
}

func TestLargeItem(t *testing.T) {
	c := discover(t, Options{Dir: pluginDir(t, nil)})
	a := open[rigging.BackupItemAction](t, c, rigging.KindBackupItemAction, testplugin.BIA)
	out, _, err := a.Execute(context.Background(), pod("big", 8<<20), backup())
	if err != nil {
		t.Fatal(err)
	}
	if s, _, _ := unstructured.NestedString(out.Object, "data"); len(s) != 8<<20 {
		t.Errorf("item data = %d bytes", len(s))
	}
}

func TestRestartAndRetry(t *testing.T) {
	ctx := context.Background()
	c := discover(t, Options{Dir: pluginDir(t, nil)})
	s := open[rigging.ObjectStore](t, c, rigging.KindObjectStore, testplugin.Store)
	if err := s.Init(ctx, map[string]string{"root": t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutObject(ctx, "b", "k", strings.NewReader("v")); err != nil {
		t.Fatal(err)
	}
	p := c.procs[filepath.Join(c.opts.Dir, "testplugin")]
	for i := range 2 {
		p.mu.Lock()
		run, gen := p.run, p.gen
		p.mu.Unlock()
		if err := run.cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		<-run.exited
		// An idempotent call after the crash succeeds: restart, Init replayed
		// (the store refuses calls before Init), call retried.
		if ok, err := s.ObjectExists(ctx, "b", "k"); !ok || err != nil {
			t.Fatalf("kill %d: ObjectExists = %v, %v", i, ok, err)
		}
		if p.gen != gen+1 {
			t.Errorf("generation %d -> %d, want one restart", gen, p.gen)
		}
	}
	// A non-idempotent call after a crash the host has noticed goes to a
	// restarted process too: the dead one is detected before the call is
	// sent.
	p.mu.Lock()
	run, client := p.run, p.client
	p.mu.Unlock()
	run.cmd.Process.Kill()
	for deadline := time.Now().Add(10 * time.Second); !client.Exited(); {
		if time.Now().After(deadline) {
			t.Fatal("go-plugin never noticed the exit")
		}
		time.Sleep(10 * time.Millisecond) // go-plugin reaps in its own goroutine
	}
	if err := s.PutObject(ctx, "b", "k2", strings.NewReader("v2")); err != nil {
		t.Fatalf("PutObject after a crash: %v", err)
	}
	if ok, err := s.ObjectExists(ctx, "b", "k2"); !ok || err != nil {
		t.Errorf("k2 exists = %v, %v", ok, err)
	}
}

// TestPrivateSocketDir: the plugin's unix socket lives in a private
// directory, not in the shared /tmp.
func TestPrivateSocketDir(t *testing.T) {
	c := discover(t, Options{Dir: pluginDir(t, nil)})
	a := open[rigging.BackupItemAction](t, c, rigging.KindBackupItemAction, testplugin.BIA)
	if _, err := a.AppliesTo(context.Background()); err != nil {
		t.Fatal(err)
	}
	p := c.procs[filepath.Join(c.opts.Dir, "testplugin")]
	addr := p.client.ReattachConfig().Addr.String()
	dir := filepath.Dir(addr)
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if dir == filepath.Clean(os.TempDir()) || fi.Mode().Perm() != 0o700 {
		t.Errorf("socket %s in %s (mode %s), want a private 0700 directory", addr, dir, fi.Mode().Perm())
	}
}

func TestDeadlineIgnoredKillsPlugin(t *testing.T) {
	c := discover(t, Options{Dir: pluginDir(t, nil)})
	a := open[rigging.ItemBlockAction](t, c, rigging.KindItemBlockAction, testplugin.IBA)
	if _, err := a.GetRelatedItems(context.Background(), pod("p", 0), backup()); err != nil {
		t.Fatal(err)
	}
	p := c.procs[filepath.Join(c.opts.Dir, "testplugin")]
	gen := p.gen
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := a.GetRelatedItems(ctx, pod("sleep", 0), backup())
	if !errors.Is(err, context.DeadlineExceeded) && !strings.Contains(err.Error(), "DeadlineExceeded") {
		t.Fatalf("error = %v, want deadline exceeded", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("call took %s past a 300ms deadline", d)
	}
	p.mu.Lock()
	killed := p.client == nil
	p.mu.Unlock()
	if !killed {
		t.Error("plugin that ignored its deadline was not killed")
	}
	if _, err := a.GetRelatedItems(context.Background(), pod("p", 0), backup()); err != nil || p.gen != gen+1 {
		t.Errorf("after kill: %v (generation %d -> %d)", err, gen, p.gen)
	}
}

func TestQuarantine(t *testing.T) {
	c := discover(t, Options{Dir: pluginDir(t, nil), MaxCrashes: 2})
	a := open[rigging.DeleteItemAction](t, c, rigging.KindDeleteItemAction, testplugin.DIA)
	in := &rigging.DeleteItemActionExecuteInput{Item: pod("exit", 0), Backup: backup()}
	var err error
	for range 4 {
		if err = a.Execute(context.Background(), in); errors.Is(err, ErrQuarantined) {
			break
		}
	}
	if !errors.Is(err, ErrQuarantined) || !strings.Contains(err.Error(), "crashes within") {
		t.Errorf("error = %v, want quarantine", err)
	}
}

func TestClosedCatalog(t *testing.T) {
	c := discover(t, Options{Dir: pluginDir(t, nil)})
	a := open[rigging.BackupItemAction](t, c, rigging.KindBackupItemAction, testplugin.BIA)
	if _, err := a.AppliesTo(context.Background()); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if _, err := a.AppliesTo(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: %v", err)
	}
	if _, err := c.Open(context.Background(), rigging.KindBackupItemAction, testplugin.BIA); !errors.Is(err, ErrClosed) {
		t.Errorf("Open after Close: %v", err)
	}
}

// recordHandler keeps the records logged through it.
type recordHandler struct {
	mu    sync.Mutex
	recs  []slog.Record
	level slog.Leveler // nil: every level
}

func (h *recordHandler) Enabled(_ context.Context, l slog.Level) bool {
	return h.level == nil || l >= h.level.Level()
}
func (h *recordHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.recs = append(h.recs, r.Clone())
	return nil
}
func (h *recordHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *recordHandler) WithGroup(string) slog.Handler      { return h }

func (h *recordHandler) find(msg string) (slog.Record, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, r := range h.recs {
		if r.Message == msg {
			return r, true
		}
	}
	return slog.Record{}, false
}

// TestPluginLogsReemitted: a plugin's log line (hclog JSON on its original
// stderr) comes out of the host's logger with its level and the plugin's
// binary name.
func TestPluginLogsReemitted(t *testing.T) {
	h := &recordHandler{}
	c := discover(t, Options{Dir: pluginDir(t, nil), Logger: slog.New(h)})
	a := open[rigging.BackupItemAction](t, c, rigging.KindBackupItemAction, testplugin.BIA)
	if _, _, err := a.Execute(context.Background(), pod("logme", 0), backup()); err != nil {
		t.Fatal(err)
	}
	c.Close() // stderr is drained before the process is reaped
	r, ok := h.find("backing up item")
	if !ok {
		t.Fatal("plugin log line not re-emitted")
	}
	attrs := map[string]string{}
	r.Attrs(func(a slog.Attr) bool { attrs[a.Key] = a.Value.String(); return true })
	if r.Level != slog.LevelWarn || attrs["binary"] != "testplugin" || attrs["plugin"] != testplugin.BIA || attrs["item"] != "logme" {
		t.Errorf("record level %v attrs %v", r.Level, attrs)
	}
}

// hostHelper is a host process for TestNoPluginOutlivesHost: it starts the
// plugin of dir, prints its PID and waits to be killed.
func hostHelper(dir string) {
	c, err := Discover(context.Background(), Options{Dir: dir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		panic(err)
	}
	v, err := c.Open(context.Background(), rigging.KindBackupItemAction, testplugin.BIA)
	if err != nil {
		panic(err)
	}
	if _, err := v.(rigging.BackupItemAction).AppliesTo(context.Background()); err != nil {
		panic(err)
	}
	for _, p := range c.procs {
		fmt.Println(p.run.cmd.Process.Pid)
	}
	select {}
}

// alive reports whether pid runs (a zombie awaiting its reaper is dead).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	_, rest, _ := strings.Cut(string(b), ") ")
	return !strings.HasPrefix(rest, "Z") && !strings.HasPrefix(rest, "X")
}

// TestNoPluginOutlivesHost kills a host with SIGKILL (no clean-up runs)
// and checks that its plugin process dies too.
func TestNoPluginOutlivesHost(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("parent-death signal is Linux only")
	}
	host := exec.Command(os.Args[0], "-test.run=^$")
	// The SIGKILLed host cannot remove its socket directory: keep it in a
	// TMPDIR the test removes.
	host.Env = append(os.Environ(), "RIGGING_TEST_HOST_DIR="+pluginDir(t, nil), "TMPDIR="+proctest.ShortTempDir(t))
	out, err := host.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := host.Start(); err != nil {
		t.Fatal(err)
	}
	var pid int
	if _, err := fmt.Fscan(out, &pid); err != nil {
		host.Process.Kill()
		t.Fatalf("reading the plugin PID: %v", err)
	}
	if !alive(pid) {
		t.Fatalf("plugin %d not running", pid)
	}
	host.Process.Kill()
	host.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("plugin %d outlived its host by 10s", pid)
		}
		time.Sleep(20 * time.Millisecond) // polling another process's state
	}
}

// TestChecksumPinning: with Checksums set, a binary runs only when its
// SHA-256 matches; unpinned binaries are refused.
func TestChecksumPinning(t *testing.T) {
	dir := pluginDir(t, nil)
	bin := filepath.Join(dir, "testplugin")
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	sums := filepath.Join(t.TempDir(), "SHA256SUMS")
	os.WriteFile(sums, []byte(hex.EncodeToString(sum[:])+"  testplugin\n"), 0o644)
	pins, err := LoadChecksums(sums, dir)
	if err != nil {
		t.Fatal(err)
	}
	if c := discover(t, Options{Dir: dir, Checksums: pins}); len(c.Plugins()) != 8 {
		t.Errorf("pinned binary: plugins %v problems %v", c.Plugins(), c.Problems())
	}
	wrong := map[string][]byte{bin: make([]byte, 32)}
	if c := discover(t, Options{Dir: dir, Checksums: wrong}); len(c.Plugins()) != 0 || len(c.Problems()) != 1 || !strings.Contains(c.Problems()[0].Err.Error(), "checksum") {
		t.Errorf("wrong checksum: plugins %v problems %v", c.Plugins(), c.Problems())
	}
	if c := discover(t, Options{Dir: dir, Checksums: map[string][]byte{}}); len(c.Problems()) != 1 || !strings.Contains(c.Problems()[0].Err.Error(), "no SHA-256") {
		t.Errorf("unpinned binary: problems %v", c.Problems())
	}
}

// TestAutoMTLS: the SDK's server (go-plugin) negotiates mutual TLS when
// the host asks for it.
func TestAutoMTLS(t *testing.T) {
	c := discover(t, Options{Dir: pluginDir(t, nil), AutoMTLS: true})
	a := open[rigging.BackupItemAction](t, c, rigging.KindBackupItemAction, testplugin.BIA)
	if _, err := a.AppliesTo(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestLineWriter(t *testing.T) {
	h := &recordHandler{}
	w := lineLogger(slog.New(h), "bin", "stdout")
	for _, chunk := range []string{"first li", "ne\nsecond\r\n", "\n", "third"} {
		if n, err := w.Write([]byte(chunk)); n != len(chunk) || err != nil {
			t.Fatalf("Write = %d, %v", n, err)
		}
	}
	w.Write([]byte(strings.Repeat("x", 70<<10)))
	var got []string
	for _, r := range h.recs {
		got = append(got, r.Message)
	}
	if len(got) != 3 || got[0] != "first line" || got[1] != "second" || !strings.HasPrefix(got[2], "thirdxxx") {
		t.Errorf("lines = %q", got)
	}
}

// TestPluginUnavailableIsNotACrash: a plugin that returns code Unavailable
// itself (a cloud API down, say) is not restarted.
func TestPluginUnavailableIsNotACrash(t *testing.T) {
	c := discover(t, Options{Dir: pluginDir(t, nil)})
	a := open[rigging.ItemBlockAction](t, c, rigging.KindItemBlockAction, testplugin.IBA)
	if _, err := a.AppliesTo(context.Background()); err != nil {
		t.Fatal(err)
	}
	p := c.procs[filepath.Join(c.opts.Dir, "testplugin")]
	gen := p.gen
	_, err := a.GetRelatedItems(context.Background(), pod("unavailable", 0), backup())
	var re *RemoteError
	if !errors.As(err, &re) || re.Code != codes.Unavailable {
		t.Fatalf("error = %v", err)
	}
	if p.gen != gen || p.client == nil {
		t.Errorf("process restarted (generation %d -> %d) for an Unavailable answer", gen, p.gen)
	}
}

// plainParent starts the plugin binary with the handshake cookie but
// without go-plugin and without a parent-death signal, prints its PID and
// waits to be killed: only the SDK's own parent watch can end the plugin.
func plainParent(bin string) {
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "VELERO_PLUGIN=hello", "PLUGIN_PROTOCOL_VERSIONS=2", "PLUGIN_MIN_PORT=10000", "PLUGIN_MAX_PORT=25000")
	out, err := cmd.StdoutPipe()
	if err != nil {
		panic(err)
	}
	if err := cmd.Start(); err != nil {
		panic(err)
	}
	line := make([]byte, 256)
	out.Read(line) // the handshake line: the plugin is serving
	fmt.Println(cmd.Process.Pid)
	select {}
}

// TestPluginExitsWhenHostDies: a plugin built on the SDK exits by itself
// once its host is gone, even when nothing signals it.
func TestPluginExitsWhenHostDies(t *testing.T) {
	host := exec.Command(os.Args[0], "-test.run=^$")
	// The plugin, on its own, makes its socket in TMPDIR: one the test removes.
	host.Env = append(os.Environ(), "RIGGING_TEST_PLAIN_PARENT="+pluginBin, "TMPDIR="+proctest.ShortTempDir(t))
	out, err := host.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := host.Start(); err != nil {
		t.Fatal(err)
	}
	var pid int
	if _, err := fmt.Fscan(out, &pid); err != nil {
		host.Process.Kill()
		t.Fatalf("reading the plugin PID: %v", err)
	}
	host.Process.Kill()
	host.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("plugin %d still running 10s after its host died", pid)
		}
		time.Sleep(20 * time.Millisecond) // polling another process's state
	}
}

// TestProblemNamesExitAndOutput: a binary that dies at start is reported
// with its exit status and its last stderr lines.
func TestProblemNamesExitAndOutput(t *testing.T) {
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "dies"), []byte("#!/bin/sh\necho 'cannot read /etc/vendor.conf' >&2\nexit 3\n"), 0o755)
	c := discover(t, Options{Dir: dir})
	ps := c.Problems()
	if len(ps) != 1 || !strings.Contains(ps[0].Error(), "exit status 3") || !strings.Contains(ps[0].Error(), "cannot read /etc/vendor.conf") {
		t.Errorf("problems = %v", ps)
	}
}

// TestCrashErrorCarriesPanic: when the process dies under a call, the error
// says so and carries the plugin's last stderr lines (its panic).
func TestCrashErrorCarriesPanic(t *testing.T) {
	c := discover(t, Options{Dir: pluginDir(t, nil)})
	a := open[rigging.DeleteItemAction](t, c, rigging.KindDeleteItemAction, testplugin.DIA)
	err := a.Execute(context.Background(), &rigging.DeleteItemActionExecuteInput{Item: pod("crash", 0), Backup: backup()})
	if err == nil || !strings.Contains(err.Error(), "the plugin process died") || !strings.Contains(err.Error(), "test plugin crashed outside a handler") {
		t.Errorf("error = %v", err)
	}
	// The next call runs in a restarted process.
	if err := a.Execute(context.Background(), &rigging.DeleteItemActionExecuteInput{Item: pod("p", 0), Backup: backup()}); err != nil {
		t.Error(err)
	}
}

// TestErrPluginUnavailable: the errors the host makes because the plugin
// process is gone (died during the call, quarantined) match
// rigging.ErrPluginUnavailable, their text unchanged; an error the plugin
// returns (even with code Unavailable) does not.
func TestErrPluginUnavailable(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name     string
		pod      string // the test plugin's behaviour
		calls    int    // calls made; the last one's error is checked
		want     bool   // errors.Is(err, rigging.ErrPluginUnavailable)
		contains string
	}{
		{"process dies during the call", "crash", 1, true, "the plugin process died"},
		{"process exits during the call", "exit", 1, true, "the plugin process died"},
		{"quarantined after repeated crashes", "exit", 4, true, "crashes within"},
		{"plugin answers code Unavailable", "unavailable", 1, false, ""},
		{"plugin returns an error", "error", 1, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := discover(t, Options{Dir: pluginDir(t, nil), MaxCrashes: 2})
			a := open[rigging.DeleteItemAction](t, c, rigging.KindDeleteItemAction, testplugin.DIA)
			var err error
			for range tt.calls {
				err = a.Execute(ctx, &rigging.DeleteItemActionExecuteInput{Item: pod(tt.pod, 0), Backup: backup()})
			}
			if err == nil {
				t.Fatal("no error")
			}
			if got := errors.Is(err, rigging.ErrPluginUnavailable); got != tt.want {
				t.Errorf("errors.Is(%v, ErrPluginUnavailable) = %v, want %v", err, got, tt.want)
			}
			if !strings.Contains(err.Error(), tt.contains) {
				t.Errorf("error = %v, want it to say %q", err, tt.contains)
			}
			if strings.Contains(err.Error(), rigging.ErrPluginUnavailable.Error()) {
				t.Errorf("error = %v: the sentinel's text should not be added", err)
			}
		})
	}
}
