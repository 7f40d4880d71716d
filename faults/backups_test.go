package faults

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/archive"
	"github.com/rigging-dev/rigging/faults/hostile"
	"github.com/rigging-dev/rigging/manifest"
	"github.com/rigging-dev/rigging/providers/filesystem"
	"github.com/rigging-dev/rigging/resources"
	"github.com/rigging-dev/rigging/restore"
)

// location is a filesystem storage location under a test directory.
type location struct {
	dir   string // the test's directory: store/ and out/ live here
	store *archive.Store
}

func newLocation(t testing.TB) *location {
	t.Helper()
	dir := t.TempDir()
	fs := filesystem.New()
	if err := fs.Init(context.Background(), map[string]string{filesystem.KeyRoot: filepath.Join(dir, "store")}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fs.Close() })
	return &location{dir: dir, store: archive.NewStore(fs, "velero", "")}
}

// plant writes a backup as an attacker controlling the bucket would:
// velero-backup.json naming metaName in folder name, and tarball as the
// contents.
func (l *location) plant(t testing.TB, name, metaName string, tarball []byte) {
	t.Helper()
	ctx := context.Background()
	b := &rigging.Backup{ObjectMeta: metav1.ObjectMeta{Name: metaName, Namespace: "velero"}}
	b.Status.Phase = rigging.BackupPhaseCompleted
	b.Status.FormatVersion = archive.FormatVersion
	var meta bytes.Buffer
	if err := archive.EncodeBackup(&meta, b); err != nil {
		t.Fatal(err)
	}
	if err := l.store.PutBytes(ctx, l.store.Layout.BackupKey(name, archive.BackupMetadata), meta.Bytes()); err != nil {
		t.Fatal(err)
	}
	if err := l.store.PutBytes(ctx, l.store.Layout.BackupKey(name, archive.BackupContents), tarball); err != nil {
		t.Fatal(err)
	}
}

// restoreTo restores backup name into a fresh directory dir/out-<restore>
// and returns the directory and Run's error.
func (l *location) restoreTo(t testing.TB, restoreName, backupName string, lim archive.Limits) (string, error) {
	t.Helper()
	out := filepath.Join(l.dir, "out-"+restoreName)
	o, err := restore.NewDirOutput(out)
	if err != nil {
		t.Fatal(err)
	}
	_, err = restore.Run(context.Background(), restore.Options{
		Name: restoreName, BackupName: backupName, Store: l.store, Output: o, Limits: lim, TempDir: l.dir,
	})
	return out, err
}

// outsiders lists every path under dir that is neither under store/ nor
// under an out-* directory: anything a restore wrote where it must not.
func outsiders(t testing.TB, dir string) []string {
	t.Helper()
	var bad []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		top, _, _ := strings.Cut(rel, string(filepath.Separator))
		switch {
		case rel == ".":
			return nil
		case top == "store" || strings.HasPrefix(top, "out-"):
			if d.Type()&fs.ModeSymlink != 0 {
				bad = append(bad, rel+" (symlink)")
			}
			return nil
		}
		if d.IsDir() && strings.HasPrefix(top, "rigging-") { // restore's temporary log directory, removed at the end
			return nil
		}
		bad = append(bad, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return bad
}

// TestHostileBackups restores backups an attacker planted in the bucket and
// checks that each is refused with an error naming the entry and matching
// the archive sentinel, and that nothing is written outside the output
// directory (nor anything at all for a refused backup).
func TestHostileBackups(t *testing.T) {
	escape := filepath.Join(t.TempDir(), "pwned") // where a traversal would land if followed
	big := bytes.Repeat([]byte("x"), 65<<20)
	tests := []struct {
		name    string
		tarball []byte
		limits  archive.Limits
		want    error
		inError string // text the error must contain
	}{
		{name: "dot-dot path", want: archive.ErrUnsafePath, inError: "../../../../",
			tarball: hostile.Tarball(hostile.Version(), hostile.Item("pods", "ns", "ok"), hostile.Entry{Name: "resources/pods/namespaces/ns/../../../../../../" + escape + ".json", Body: []byte("{}")})},
		{name: "absolute path", want: archive.ErrUnsafePath, inError: escape,
			tarball: hostile.Tarball(hostile.Version(), hostile.Entry{Name: escape + "/x.json", Body: []byte("{}")})},
		{name: "backslash traversal", want: archive.ErrUnsafePath, inError: `..\`,
			tarball: hostile.Tarball(hostile.Version(), hostile.Entry{Name: `resources\pods\..\..\..\x.json`, Body: []byte("{}")})},
		{name: "symlink", want: archive.ErrUnsupportedEntry, inError: "resources/pods/cluster/link.json",
			tarball: hostile.Tarball(hostile.Version(), hostile.Entry{Name: "resources/pods/cluster/link.json", Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd"})},
		{name: "hard link", want: archive.ErrUnsupportedEntry, inError: "resources/pods/cluster/hard.json",
			tarball: hostile.Tarball(hostile.Version(), hostile.Entry{Name: "resources/pods/cluster/hard.json", Typeflag: tar.TypeLink, Linkname: "../../../etc/passwd"})},
		{name: "device", want: archive.ErrUnsupportedEntry, inError: "resources/pods/cluster/dev.json",
			tarball: hostile.Tarball(hostile.Version(), hostile.Entry{Name: "resources/pods/cluster/dev.json", Typeflag: tar.TypeChar})},
		{name: "gzip bomb past MaxTotalSize", want: archive.ErrTooLarge, inError: "uncompressed",
			limits:  archive.Limits{MaxTotalSize: 32 << 20},
			tarball: hostile.GzipBomb("resources/configmaps/cluster/bomb.json", 48<<20)},
		{name: "entry past MaxEntrySize (default 64 MiB)", want: archive.ErrTooLarge, inError: "resources/configmaps/cluster/big.json",
			tarball: hostile.Tarball(hostile.Version(), hostile.Entry{Name: "resources/configmaps/cluster/big.json", Body: big})},
		{name: "header lying about its size", want: archive.ErrTooLarge, inError: "resources/configmaps/cluster/liar.json",
			tarball: hostile.Tarball(hostile.Version(), hostile.Entry{Name: "resources/configmaps/cluster/liar.json", Body: []byte("{}"), Size: 1 << 40})},
		{name: "too many entries", want: archive.ErrTooLarge, inError: "entries",
			limits:  archive.Limits{MaxEntries: 1000},
			tarball: hostile.ManyEntriesBomb(5000)},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newLocation(t)
			name := "hostile-" + string(rune('a'+i))
			l.plant(t, name, name, tt.tarball)
			start := time.Now()
			out, err := l.restoreTo(t, "r", name, tt.limits)
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.inError) || !strings.Contains(err.Error(), name) {
				t.Fatalf("restore of %s: err = %v; want %v naming %q and the backup", tt.name, err, tt.want, tt.inError)
			}
			t.Logf("refused in %v: %v", time.Since(start).Round(time.Millisecond), err)
			if bad := outsiders(t, l.dir); len(bad) > 0 {
				t.Errorf("written outside the output directory: %q", bad)
			}
			if entries, _ := os.ReadDir(out); len(entries) > 0 {
				t.Errorf("refused backup still wrote %d entries into %s", len(entries), out)
			}
			if _, err := os.Lstat(escape); err == nil {
				t.Errorf("%s exists", escape)
			}
		})
	}
}

// TestBackupMetadataLies plants velero-backup.json files that lie: about
// their name, their kind, or their shape. The store neither lists them as
// valid backups nor restores from them.
func TestBackupMetadataLies(t *testing.T) {
	l := newLocation(t)
	ctx := context.Background()
	tb := hostile.Tarball(hostile.Version(), hostile.Item("configmaps", "ns", "c"))
	l.plant(t, "victim", "attacker", tb)
	l.plant(t, "honest", "honest", tb)
	put := func(name, meta string) {
		if err := l.store.PutBytes(ctx, l.store.Layout.BackupKey(name, archive.BackupMetadata), []byte(meta)); err != nil {
			t.Fatal(err)
		}
	}
	put("wrong-kind", `{"apiVersion":"velero.io/v1","kind":"Restore","metadata":{"name":"wrong-kind"}}`)
	put("not-json", `{"apiVersion":"velero.io/v1","kind":"Backup","metadata":{"name":"not-json"`)
	put("huge", `{"apiVersion":"velero.io/v1","kind":"Backup","metadata":{"name":"huge"},"x":"`+strings.Repeat("a", 20<<20)+`"}`)

	listed, err := l.store.Backups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	valid := map[string]bool{}
	for _, b := range listed {
		if b.Err == nil {
			valid[b.Name] = true
			continue
		}
		if !errors.Is(b.Err, archive.ErrInvalidMetadata) || !strings.Contains(b.Err.Error(), b.Name) {
			t.Errorf("backup %s: error %v does not match ErrInvalidMetadata naming the backup", b.Name, b.Err)
		}
	}
	if len(valid) != 1 || !valid["honest"] {
		t.Errorf("valid backups = %v, want only honest", valid)
	}
	for _, name := range []string{"victim", "wrong-kind", "not-json", "huge"} {
		_, err := l.restoreTo(t, "r-"+name, name, archive.Limits{})
		if !errors.Is(err, archive.ErrInvalidMetadata) {
			t.Errorf("restore from %s: err = %v, want ErrInvalidMetadata", name, err)
		}
	}
	if _, err := l.restoreTo(t, "r-honest", "honest", archive.Limits{}); err != nil {
		t.Errorf("restore of the honest backup: %v", err)
	}
	if bad := outsiders(t, l.dir); len(bad) > 0 {
		t.Errorf("written outside the output directories: %q", bad)
	}
}

// TestHostileItemNames restores a well-formed tarball whose items carry
// names and namespaces made to escape the output directory: inside the
// JSON (metadata.name "../../x") and in the entry's file name ("...json").
// The restore may fail or skip them; nothing may land outside its output.
func TestHostileItemNames(t *testing.T) {
	l := newLocation(t)
	obj := func(ns, name string) []byte {
		return []byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":` + quote(name) + `,"namespace":` + quote(ns) + `}}`)
	}
	l.plant(t, "names", "names", hostile.Tarball(hostile.Version(),
		hostile.Entry{Name: "resources/configmaps/namespaces/ns/a.json", Body: obj("ns", "../../../../escaped")},
		hostile.Entry{Name: "resources/configmaps/namespaces/ns/b.json", Body: obj("../../escaped-ns", "b")},
		hostile.Entry{Name: "resources/configmaps/namespaces/ns/...json", Body: obj("ns", "..")},
		hostile.Entry{Name: "resources/configmaps/namespaces/ns/c.json", Body: obj("ns", "/abs")},
		hostile.Entry{Name: "resources/configmaps/namespaces/ns/d.json", Body: obj("ns", "fine")},
	))
	out, err := l.restoreTo(t, "r", "names", archive.Limits{})
	if err == nil || !strings.Contains(err.Error(), `".."`) && !strings.Contains(err.Error(), `"../../../../escaped"`) {
		t.Errorf("restore of items named to escape: err = %v, want a refusal naming the item", err)
	}
	t.Logf("restore: %v", err)
	if bad := outsiders(t, l.dir); len(bad) > 0 {
		t.Errorf("written outside the output directory: %q", bad)
	}
	_ = filepath.WalkDir(out, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			t.Logf("wrote %s", strings.TrimPrefix(p, out))
		}
		return nil
	})
}

func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		if r == '"' || r == '\\' {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	b.WriteByte('"')
	return b.String()
}

// realTarball is a backup tarball as archive.Writer writes it, of the
// demo manifests.
func realTarball(tb testing.TB) []byte {
	tb.Helper()
	objs, err := manifest.Load("../testdata/demo")
	if err != nil {
		tb.Fatal(err)
	}
	m := resources.NewMapper()
	var buf bytes.Buffer
	w, err := archive.NewWriter(&buf, time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC))
	if err != nil {
		tb.Fatal(err)
	}
	for _, o := range objs {
		r, err := m.ForObject(o)
		if err != nil {
			tb.Fatal(err)
		}
		data, err := o.MarshalJSON()
		if err != nil {
			tb.Fatal(err)
		}
		ns := o.GetNamespace()
		if !r.Namespaced {
			ns = ""
		}
		if err := w.WriteItem(r.GroupResource(), r.Version, ns, o.GetName(), data); err != nil {
			tb.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}
