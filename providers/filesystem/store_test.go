package filesystem

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/registry"
)

// newStore returns an initialised store over a fresh directory.
func newStore(t *testing.T) (*Store, string) {
	t.Helper()
	dir := t.TempDir()
	s := New()
	if err := s.Init(context.Background(), map[string]string{"root": dir, "bucket": "b", "prefix": "p"}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, dir
}

func put(t *testing.T, s *Store, bucket, key, body string) {
	t.Helper()
	if err := s.PutObject(context.Background(), bucket, key, strings.NewReader(body)); err != nil {
		t.Fatal(err)
	}
}

func get(t *testing.T, s *Store, bucket, key string) string {
	t.Helper()
	rc, err := s.GetObject(context.Background(), bucket, key)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// tree returns every path under dir (relative, "/"-separated; directories
// end in "/").
func tree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if d.IsDir() {
			rel += "/"
		}
		out = append(out, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestRegistered(t *testing.T) {
	e, ok := registry.Default.Lookup(rigging.KindObjectStore, rigging.MustParseName(Name))
	if !ok {
		t.Fatalf("%s is not registered", Name)
	}
	v, err := e.New(slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := v.(*Store); !ok {
		t.Fatalf("factory returned %T", v)
	}
}

func TestDataDir(t *testing.T) {
	home, _ := os.UserHomeDir()
	tests := []struct {
		rigging, xdg, want string
	}{
		{"/srv/rigging", "/x", "/srv/rigging"},
		{"", "/data", "/data/rigging"},
		{"", "relative/ignored", filepath.Join(home, ".local/share/rigging")},
		{"", "", filepath.Join(home, ".local/share/rigging")},
	}
	for _, tt := range tests {
		t.Setenv("RIGGING_HOME", tt.rigging)
		t.Setenv("XDG_DATA_HOME", tt.xdg)
		if got := DataDir(); got != tt.want {
			t.Errorf("DataDir() with RIGGING_HOME=%q XDG_DATA_HOME=%q = %q, want %q", tt.rigging, tt.xdg, got, tt.want)
		}
	}
}

func TestInit(t *testing.T) {
	ctx := context.Background()
	t.Run("unknown key", func(t *testing.T) {
		err := New().Init(ctx, map[string]string{"root": t.TempDir(), "region": "eu"})
		if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), `"region"`) || !strings.Contains(err.Error(), Name) {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("Velero's keys accepted", func(t *testing.T) {
		s := New()
		defer s.Close()
		err := s.Init(ctx, map[string]string{"root": t.TempDir(), "bucket": "b", "prefix": "p", "caCert": "PEM", "credentialsFile": "/x"})
		if err != nil {
			t.Error(err)
		}
	})
	t.Run("default root from RIGGING_HOME, created", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "home", "data")
		t.Setenv("RIGGING_HOME", dir)
		s := New()
		defer s.Close()
		if err := s.Init(ctx, nil); err != nil {
			t.Fatal(err)
		}
		if s.Root() != dir {
			t.Errorf("Root() = %q, want %q", s.Root(), dir)
		}
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
			t.Errorf("root: %v %v", fi, err)
		}
	})
	t.Run("relative root made absolute", func(t *testing.T) {
		t.Chdir(t.TempDir())
		s := New()
		defer s.Close()
		if err := s.Init(ctx, map[string]string{"root": "rel"}); err != nil {
			t.Fatal(err)
		}
		if !filepath.IsAbs(s.Root()) || filepath.Base(s.Root()) != "rel" {
			t.Errorf("Root() = %q", s.Root())
		}
	})
	t.Run("root is a file", func(t *testing.T) {
		f := filepath.Join(t.TempDir(), "file")
		os.WriteFile(f, nil, 0o600)
		if err := New().Init(ctx, map[string]string{"root": f}); err == nil || !strings.Contains(err.Error(), `"root"`) {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("twice", func(t *testing.T) {
		s, _ := newStore(t)
		if err := s.Init(ctx, map[string]string{"root": t.TempDir()}); !errors.Is(err, rigging.ErrAlreadyInitialized) {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("before Init and after Close", func(t *testing.T) {
		for _, s := range []*Store{New(), func() *Store { s, _ := newStore(t); s.Close(); return s }()} {
			if err := s.PutObject(ctx, "b", "k", strings.NewReader("x")); !errors.Is(err, rigging.ErrNotInitialized) {
				t.Errorf("PutObject: %v", err)
			}
			if _, err := s.GetObject(ctx, "b", "k"); !errors.Is(err, rigging.ErrNotInitialized) {
				t.Errorf("GetObject: %v", err)
			}
			if _, err := s.ListObjects(ctx, "b", ""); !errors.Is(err, rigging.ErrNotInitialized) {
				t.Errorf("ListObjects: %v", err)
			}
			if _, err := s.CreateSignedURL(ctx, "b", "k", time.Minute); !errors.Is(err, rigging.ErrNotInitialized) {
				t.Errorf("CreateSignedURL: %v", err)
			}
		}
	})
}

func TestObjectLifecycle(t *testing.T) {
	ctx := context.Background()
	s, dir := newStore(t)

	if ok, err := s.ObjectExists(ctx, "bkt", "a/b.txt"); ok || err != nil {
		t.Errorf("ObjectExists in a missing bucket = %v, %v", ok, err)
	}
	if _, err := s.GetObject(ctx, "bkt", "a/b.txt"); !errors.Is(err, rigging.ErrNotFound) {
		t.Errorf("GetObject in a missing bucket: %v", err)
	}
	if keys, err := s.ListObjects(ctx, "bkt", ""); err != nil || len(keys) != 0 || keys == nil {
		t.Errorf("ListObjects of a missing bucket = %#v, %v", keys, err)
	}

	put(t, s, "bkt", "a/b.txt", "hello")
	if got := get(t, s, "bkt", "a/b.txt"); got != "hello" {
		t.Errorf("GetObject = %q", got)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "bkt", "a", "b.txt")); err != nil || string(b) != "hello" {
		t.Errorf("the object is not the file <root>/B/KEY: %q %v", b, err)
	}
	if fi, _ := os.Stat(filepath.Join(dir, "bkt", "a", "b.txt")); fi.Mode().Perm() != 0o600 {
		t.Errorf("file mode %v", fi.Mode())
	}
	put(t, s, "bkt", "a/b.txt", "replaced")
	if got := get(t, s, "bkt", "a/b.txt"); got != "replaced" {
		t.Errorf("GetObject after replace = %q", got)
	}
	put(t, s, "bkt", "empty", "")
	if got := get(t, s, "bkt", "empty"); got != "" {
		t.Errorf("empty object = %q", got)
	}

	for key, want := range map[string]bool{"a/b.txt": true, "empty": true, "a": false, "a/b.txt/c": false, "nope": false} {
		if ok, err := s.ObjectExists(ctx, "bkt", key); ok != want || err != nil {
			t.Errorf("ObjectExists(%q) = %v, %v; want %v", key, ok, err, want)
		}
	}
	for _, key := range []string{"a", "nope", "a/b.txt/c"} {
		_, err := s.GetObject(ctx, "bkt", key)
		var oe *OpError
		if !errors.Is(err, rigging.ErrNotFound) || !errors.As(err, &oe) || oe.Op != "get" || !strings.Contains(err.Error(), "bkt/"+key) {
			t.Errorf("GetObject(%q) err = %v", key, err)
		}
	}

	// A key cannot also be a prefix, and the error says so.
	err := s.PutObject(ctx, "bkt", "a/b.txt/c", strings.NewReader("x"))
	if err == nil || !strings.Contains(err.Error(), "a/b.txt/c") || !strings.Contains(err.Error(), "is an object, not a prefix") {
		t.Errorf("put under an object: %v", err)
	}
	err = s.PutObject(ctx, "bkt", "a", strings.NewReader("x"))
	if err == nil || !strings.Contains(err.Error(), "prefix of other objects") {
		t.Errorf("put over a prefix: %v", err)
	}

	// Delete: missing keys and prefixes are fine; empty parents go.
	put(t, s, "bkt", "x/y/z/1", "1")
	put(t, s, "bkt", "x/2", "2")
	for _, key := range []string{"nope", "x/y", "x/y/z/1", "x/y/z/1"} {
		if err := s.DeleteObject(ctx, "bkt", key); err != nil {
			t.Errorf("DeleteObject(%q): %v", key, err)
		}
	}
	if err := s.DeleteObject(ctx, "missing-bucket", "k"); err != nil {
		t.Errorf("DeleteObject in a missing bucket: %v", err)
	}
	want := []string{"bkt/", "bkt/a/", "bkt/a/b.txt", "bkt/empty", "bkt/x/", "bkt/x/2"}
	if got := tree(t, dir); !slices.Equal(got, want) {
		t.Errorf("after deletes: %v, want %v", got, want)
	}
	if err := s.DeleteObject(ctx, "bkt", "x/2"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteObject(ctx, "bkt", "a/b.txt"); err != nil {
		t.Fatal(err)
	}
	if got := tree(t, dir); !slices.Equal(got, []string{"bkt/", "bkt/empty"}) {
		t.Errorf("after deleting the last objects: %v", got)
	}
}

func TestList(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	keys := []string{
		"velero/backups/demo-1/velero-backup.json",
		"velero/backups/demo-1/demo-1.tar.gz",
		"velero/backups/demo-2/velero-backup.json",
		"velero/backups/demo-10/velero-backup.json",
		"velero/restores/r1/restore-r1-logs.gz",
		"velero/loose-file",
		"velero/a-b-c",
		"velero/a-b/d",
		"velero/a.txt",
		"velero/a/x",
		"other/x",
		"top",
	}
	for _, k := range keys {
		put(t, s, "b", k, k)
	}
	objects := []struct {
		prefix string
		want   []string
	}{
		{"", slices.Sorted(slices.Values(keys))},
		{"velero/backups/demo-1", []string{"velero/backups/demo-1/demo-1.tar.gz", "velero/backups/demo-1/velero-backup.json", "velero/backups/demo-10/velero-backup.json"}},
		{"velero/backups/demo-1/", []string{"velero/backups/demo-1/demo-1.tar.gz", "velero/backups/demo-1/velero-backup.json"}},
		{"velero/a", []string{"velero/a-b-c", "velero/a-b/d", "velero/a.txt", "velero/a/x"}},
		{"velero/restores/r1/restore-r1-logs.gz", []string{"velero/restores/r1/restore-r1-logs.gz"}},
		{"to", []string{"top"}},
		{"nothing/", []string{}},
		{"top/", []string{}},
		{"velero/..", []string{}},
	}
	for _, tt := range objects {
		got, err := s.ListObjects(ctx, "b", tt.prefix)
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("ListObjects(%q) = %v, %v; want %v", tt.prefix, got, err, tt.want)
		}
	}
	prefixes := []struct {
		prefix, delim string
		want          []string
	}{
		{"velero/", "/", []string{"velero/a-b/", "velero/a/", "velero/backups/", "velero/restores/"}},
		{"velero/backups/", "/", []string{"velero/backups/demo-1/", "velero/backups/demo-10/", "velero/backups/demo-2/"}},
		{"", "/", []string{"other/", "velero/"}},
		{"velero", "/", []string{"velero/"}},
		{"velero/a", "/", []string{"velero/a-b/", "velero/a/"}},
		{"velero/backups/demo-1", "/", []string{"velero/backups/demo-1/", "velero/backups/demo-10/"}},
		{"velero/backups/demo-1", "-", []string{"velero/backups/demo-1/demo-", "velero/backups/demo-1/velero-", "velero/backups/demo-10/velero-"}},
		{"velero/backups/demo-", "/", []string{"velero/backups/demo-1/", "velero/backups/demo-10/", "velero/backups/demo-2/"}},
		{"velero/b", "s/", []string{"velero/backups/"}},
		{"velero/a", "-", []string{"velero/a-"}},
		{"velero/", "-", []string{"velero/a-", "velero/backups/demo-", "velero/loose-", "velero/restores/r1/restore-"}},
		{"velero/backups/", "o-", []string{"velero/backups/demo-"}},
		{"velero/", "", []string{}},
		{"nothing/", "/", []string{}},
		{"velero/backups/demo-1/", "/", []string{}},
	}
	for _, tt := range prefixes {
		got, err := s.ListCommonPrefixes(ctx, "b", tt.prefix, tt.delim)
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("ListCommonPrefixes(%q, %q) = %#v, %v; want %#v", tt.prefix, tt.delim, got, err, tt.want)
		}
		// The "/" fast path agrees with the definition over ListObjects.
		if tt.delim != "" {
			objs, _ := s.ListObjects(ctx, "b", tt.prefix)
			want := []string{}
			for _, k := range objs {
				if i := strings.Index(k[len(tt.prefix):], tt.delim); i >= 0 {
					want = append(want, k[:len(tt.prefix)+i+len(tt.delim)])
				}
			}
			slices.Sort(want)
			if want = slices.Compact(want); !slices.Equal(got, want) {
				t.Errorf("ListCommonPrefixes(%q, %q) = %v, but the keys give %v", tt.prefix, tt.delim, got, want)
			}
		}
	}
	// A directory holding only a temporary file or nothing is no prefix.
	os.MkdirAll(filepath.Join(s.Root(), "b", "velero", "empty", "deeper"), 0o700)
	os.MkdirAll(filepath.Join(s.Root(), "b", "velero", "partial"), 0o700)
	os.WriteFile(filepath.Join(s.Root(), "b", "velero", "partial", tmpPrefix+"x"), nil, 0o600)
	if got, _ := s.ListCommonPrefixes(ctx, "b", "velero/", "/"); !slices.Equal(got, prefixes[0].want) {
		t.Errorf("with empty directories: %v", got)
	}
	os.RemoveAll(filepath.Join(s.Root(), "b", "velero", "empty"))
	os.RemoveAll(filepath.Join(s.Root(), "b", "velero", "partial"))
	// Temporary files and symbolic links are not objects.
	os.WriteFile(filepath.Join(s.Root(), "b", "velero", tmpPrefix+"leftover"), []byte("partial"), 0o600)
	os.Symlink("a.txt", filepath.Join(s.Root(), "b", "velero", "link"))
	got, _ := s.ListObjects(ctx, "b", "velero/")
	if slices.ContainsFunc(got, func(k string) bool { return strings.Contains(k, tmpPrefix) || strings.HasSuffix(k, "link") }) {
		t.Errorf("ListObjects shows a temporary file or link: %v", got)
	}
	// A cancelled context stops a list.
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.ListObjects(cancelled, "b", ""); !errors.Is(err, context.Canceled) {
		t.Errorf("ListObjects with a cancelled context: %v", err)
	}
}

// TestTraversal: keys, prefixes and buckets that could leave the bucket are
// refused by every method, with an error naming them, and nothing is
// created.
func TestTraversal(t *testing.T) {
	ctx := context.Background()
	s, dir := newStore(t)
	put(t, s, "b", "inside", "x")
	before := tree(t, filepath.Dir(dir))
	keys := []string{
		"", "..", "../x", "../../etc/passwd", "a/../../x", "a/..", "/etc/passwd", "/abs",
		"a//b", "a/", "./a", "a/./b", ".", "a\x00b", tmpPrefix + "x", "d/" + tmpPrefix + "x",
		// Not valid UTF-8: S3 keys are UTF-8, and such a name would break
		// listing (FuzzKeys found "0\xda/0").
		"0\xda/0", "backups/bad\xda/velero-backup.json", "\xff", "a/b\xc3",
	}
	for _, key := range keys {
		checks := map[string]error{}
		checks["put"] = s.PutObject(ctx, "b", key, strings.NewReader("evil"))
		_, checks["exists"] = s.ObjectExists(ctx, "b", key)
		_, checks["get"] = s.GetObject(ctx, "b", key)
		checks["delete"] = s.DeleteObject(ctx, "b", key)
		_, checks["sign"] = s.CreateSignedURL(ctx, "b", key, time.Minute)
		for method, err := range checks {
			if !errors.Is(err, ErrInvalidKey) || (key != "" && !strings.Contains(err.Error(), fmt.Sprintf("%q", key))) {
				t.Errorf("%s(%q): err = %v, want ErrInvalidKey naming the key", method, key, err)
			}
		}
	}
	for _, prefix := range []string{"../", "/", "/etc", "a//", "../x", "a/../b", "bad\xda/", "\xff", "a/b\xc3"} {
		if _, err := s.ListObjects(ctx, "b", prefix); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("ListObjects(%q): %v", prefix, err)
		}
		if _, err := s.ListCommonPrefixes(ctx, "b", prefix, "/"); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("ListCommonPrefixes(%q): %v", prefix, err)
		}
	}
	for _, bucket := range []string{"", ".", "..", "a/b", "../b", `a\b`, "a\x00", tmpPrefix + "b"} {
		if err := s.PutObject(ctx, bucket, "k", strings.NewReader("evil")); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("PutObject in bucket %q: %v", bucket, err)
		}
		if _, err := s.ListObjects(ctx, bucket, ""); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("ListObjects of bucket %q: %v", bucket, err)
		}
	}
	if after := tree(t, filepath.Dir(dir)); !slices.Equal(before, after) {
		t.Errorf("files changed:\nbefore %v\nafter  %v", before, after)
	}
}

// TestListSkipsNonUTF8Names: files and directories put in a bucket by hand
// whose names are not valid UTF-8 (no key can name them) are skipped by both
// lists, each logged at debug level, instead of failing the whole list.
func TestListSkipsNonUTF8Names(t *testing.T) {
	ctx := context.Background()
	valid := []string{
		"backups/good/velero-backup.json",
		"backups/mixed/velero-backup.json",
		"restores/r1/restore-r1-logs.gz",
	}
	stray := []struct {
		path string // relative to the bucket, "/"-separated
		dir  bool
	}{
		{"backups/bad\xda", true},                 // a directory holding an object
		{"backups/empty\xff", true},               // an empty directory
		{"backups/mixed/sub\xc3", true},           // below a valid prefix
		{"backups/mixed/file\xfe", false},         // a file beside a valid key
		{"backups/loose\xda", false},              // a file at the prefix level
		{"top\xda", false},                        // a file at the bucket level
		{"dir\xda", true},                         // a directory at the bucket level
		{"restores/r1/deep\xda/deeper\xdb", true}, // nested stray directories
		{"restores/only/x\xda", true},             // a valid directory holding only stray entries
	}
	objects := []struct {
		prefix string
		want   []string
	}{
		{"", valid},
		{"backups/", valid[:2]},
		{"backups/mixed/", valid[1:2]},
		{"backups/bad", []string{}},
		{"restores/", valid[2:]},
		{"top", []string{}},
	}
	prefixes := []struct {
		prefix, delim string
		want          []string
	}{
		{"", "/", []string{"backups/", "restores/"}},
		{"backups/", "/", []string{"backups/good/", "backups/mixed/"}},
		{"backups/mixed/", "/", []string{}},
		{"restores/", "/", []string{"restores/r1/"}},
		{"backups/", "-", []string{"backups/good/velero-", "backups/mixed/velero-"}},
		{"", "s/", []string{"backups/", "restores/"}},
	}
	var logs bytes.Buffer
	s, dir := newStore(t)
	s.log = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	for _, k := range valid {
		put(t, s, "b", k, k)
	}
	for _, e := range stray {
		p := filepath.Join(dir, "b", filepath.FromSlash(e.path))
		if e.dir {
			if err := os.MkdirAll(p, 0o700); err != nil {
				t.Fatal(err)
			}
			// A stray directory holds a file, which must not be listed either.
			if err := os.WriteFile(filepath.Join(p, "velero-backup.json"), []byte("{}"), 0o600); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("{}"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, tt := range objects {
		got, err := s.ListObjects(ctx, "b", tt.prefix)
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("ListObjects(%q) = %q, %v; want %q", tt.prefix, got, err, tt.want)
		}
	}
	for _, tt := range prefixes {
		got, err := s.ListCommonPrefixes(ctx, "b", tt.prefix, tt.delim)
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("ListCommonPrefixes(%q, %q) = %q, %v; want %q", tt.prefix, tt.delim, got, err, tt.want)
		}
	}
	for _, want := range []string{`path="backups/bad\xda"`, `path="backups/mixed/file\xfe"`, `path="restores/r1/deep\xda"`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("debug log does not name the skipped entry %s:\n%s", want, logs.String())
		}
	}
	if strings.Contains(logs.String(), "level=INFO") || strings.Contains(logs.String(), "level=WARN") {
		t.Errorf("skipped entries logged above debug level:\n%s", logs.String())
	}

	// A store without a logger skips silently.
	s.log = nil
	if got, err := s.ListObjects(ctx, "b", ""); err != nil || !slices.Equal(got, valid) {
		t.Errorf("without a logger: ListObjects = %q, %v; want %q", got, err, valid)
	}
}

// TestSymlinkEscape: symbolic links inside a bucket that lead outside it are
// not followed.
func TestSymlinkEscape(t *testing.T) {
	ctx := context.Background()
	s, dir := newStore(t)
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "secret"), []byte("top secret"), 0o600)
	put(t, s, "b", "inside", "x")
	put(t, s, "other", "neighbour", "n")
	bdir := filepath.Join(dir, "b")
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Symlink(outside, filepath.Join(bdir, "absdir")))                       // absolute, to a directory outside
	must(os.Symlink(filepath.Join(outside, "secret"), filepath.Join(bdir, "abs"))) // absolute, to a file outside
	rel, _ := filepath.Rel(bdir, outside)
	must(os.Symlink(rel, filepath.Join(bdir, "reldir")))         // relative, climbing out
	must(os.Symlink("../other", filepath.Join(bdir, "sibling"))) // into another bucket
	must(os.Symlink("inside", filepath.Join(bdir, "alias")))     // stays inside: followed

	for _, key := range []string{"absdir/secret", "abs", "reldir/secret", "sibling/neighbour"} {
		if _, err := s.GetObject(ctx, "b", key); err == nil || errors.Is(err, rigging.ErrNotFound) || !strings.Contains(err.Error(), key) {
			t.Errorf("GetObject(%q) err = %v, want an escape error naming the key", key, err)
		}
		if ok, err := s.ObjectExists(ctx, "b", key); ok || err == nil {
			t.Errorf("ObjectExists(%q) = %v, %v", key, ok, err)
		}
	}
	for _, key := range []string{"absdir/new", "reldir/new", "sibling/new"} {
		if err := s.PutObject(ctx, "b", key, strings.NewReader("evil")); err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("PutObject(%q) err = %v", key, err)
		}
	}
	if got := tree(t, outside); !slices.Equal(got, []string{"secret"}) {
		t.Errorf("outside directory changed: %v", got)
	}
	if got := get(t, s, "b", "alias"); got != "x" {
		t.Errorf("in-bucket link: %q", got)
	}
	if keys, _ := s.ListObjects(ctx, "b", ""); !slices.Equal(keys, []string{"inside"}) {
		t.Errorf("ListObjects follows links: %v", keys)
	}
	if err := s.DeleteObject(ctx, "b", "abs"); err != nil {
		t.Errorf("DeleteObject of the link: %v", err)
	}
	if _, err := os.Stat(filepath.Join(outside, "secret")); err != nil {
		t.Errorf("deleting the link removed its target: %v", err)
	}

	// A bucket that is itself a link out of the root.
	must(os.Symlink(outside, filepath.Join(dir, "evil")))
	if _, err := s.GetObject(ctx, "evil", "secret"); err == nil || errors.Is(err, rigging.ErrNotFound) {
		t.Errorf("GetObject through a bucket link: %v", err)
	}
	if err := s.PutObject(ctx, "evil", "new", strings.NewReader("x")); err == nil {
		t.Error("PutObject through a bucket link succeeded")
	}
}

// errReader fails after n bytes.
type errReader struct{ n int }

func (r *errReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, errors.New("disk on fire")
	}
	m := min(len(p), r.n)
	r.n -= m
	return m, nil
}

func TestPutFailureLeavesNoTrace(t *testing.T) {
	ctx := context.Background()
	s, dir := newStore(t)
	put(t, s, "b", "k", "old")
	err := s.PutObject(ctx, "b", "k", &errReader{n: 200 << 10})
	if err == nil || !strings.Contains(err.Error(), "disk on fire") || !strings.Contains(err.Error(), "b/k") {
		t.Errorf("err = %v", err)
	}
	if got := get(t, s, "b", "k"); got != "old" {
		t.Errorf("object after a failed put = %q", got)
	}

	// Cancelled while the body is being read.
	cctx, cancel := context.WithCancel(ctx)
	body := io.MultiReader(strings.NewReader(strings.Repeat("a", copyBufSize)), readerFunc(func(p []byte) (int, error) {
		cancel()
		return copy(p, "more"), nil
	}), strings.NewReader(strings.Repeat("b", 3*copyBufSize)))
	if err := s.PutObject(cctx, "b", "new/k", body); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled put: %v", err)
	}
	if got := tree(t, dir); !slices.Equal(got, []string{"b/", "b/k"}) {
		t.Errorf("left behind: %v", got)
	}
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

// TestConcurrentPutsSameKey: concurrent writers of one key and concurrent
// readers; a reader sees one writer's complete body, never a mix or a part,
// and List never shows temporary files. Run with -race.
func TestConcurrentPutsSameKey(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	const size = 256 << 10
	const writers = 6
	put(t, s, "b", "k", strings.Repeat("0", size))
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := 1; w <= writers; w++ {
		wg.Go(func() {
			body := bytes.Repeat([]byte{byte('0' + w)}, size)
			for range 8 {
				if err := s.PutObject(ctx, "b", "k", bytes.NewReader(body)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	var readers sync.WaitGroup
	for range 3 {
		readers.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				rc, err := s.GetObject(ctx, "b", "k")
				if err != nil {
					t.Error(err)
					return
				}
				b, err := io.ReadAll(rc)
				rc.Close()
				if err != nil {
					t.Error(err)
					return
				}
				if len(b) != size || bytes.Count(b, b[:1]) != size {
					t.Errorf("read a partial or mixed object: %d bytes", len(b))
					return
				}
				keys, err := s.ListObjects(ctx, "b", "")
				if err != nil || !slices.Equal(keys, []string{"k"}) {
					t.Errorf("ListObjects during puts = %v, %v", keys, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	readers.Wait()
}

// TestConcurrentPutDelete: puts and deletes of neighbouring keys race on the
// directories that DeleteObject prunes; every put must still succeed.
func TestConcurrentPutDelete(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 100 {
				key := fmt.Sprintf("d/e/%d-%d", w, i)
				if err := s.PutObject(ctx, "b", key, strings.NewReader("x")); err != nil {
					t.Error(err)
					return
				}
				if err := s.DeleteObject(ctx, "b", key); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if keys, _ := s.ListObjects(ctx, "b", ""); len(keys) != 0 {
		t.Errorf("left: %v", keys)
	}
}

// patternReader yields n deterministic bytes without holding them.
type patternReader struct{ off, n int64 }

func (r *patternReader) Read(p []byte) (int, error) {
	if r.off >= r.n {
		return 0, io.EOF
	}
	m := min(int64(len(p)), r.n-r.off)
	p = p[:m]
	for len(p) > 0 { // byte at offset o is o*7 mod 251
		c := copy(p, patternCycle[r.off%251:])
		p = p[c:]
		r.off += int64(c)
	}
	return int(m), nil
}

var patternCycle = func() []byte {
	b := make([]byte, 251)
	for i := range b {
		b[i] = byte(i * 7 % 251)
	}
	return b
}()

// TestLargeObjectStreams puts and gets a 96 MiB object and checks that
// neither side holds it in memory.
func TestLargeObjectStreams(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 96 MiB")
	}
	const size = 96 << 20
	ctx := context.Background()
	s, _ := newStore(t)
	want := sha256.New()
	io.Copy(want, &patternReader{n: size})

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if err := s.PutObject(ctx, "b", "big", &patternReader{n: size}); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 4<<20 {
		t.Errorf("PutObject allocated %d bytes for a %d-byte object", alloc, size)
	}

	runtime.ReadMemStats(&before)
	rc, err := s.GetObject(ctx, "b", "big")
	if err != nil {
		t.Fatal(err)
	}
	got := sha256.New()
	n, err := io.Copy(got, rc)
	rc.Close()
	runtime.ReadMemStats(&after)
	if err != nil || n != size {
		t.Fatalf("read %d bytes, %v", n, err)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 4<<20 {
		t.Errorf("GetObject+copy allocated %d bytes for a %d-byte object", alloc, size)
	}
	if !bytes.Equal(got.Sum(nil), want.Sum(nil)) {
		t.Error("content differs")
	}

	// A reader bound to a cancelled context stops.
	cctx, cancel := context.WithCancel(ctx)
	rc, err = s.GetObject(cctx, "b", "big")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	buf := make([]byte, 1024)
	if _, err := rc.Read(buf); err != nil {
		t.Fatal(err)
	}
	cancel()
	if _, err := io.Copy(io.Discard, rc); !errors.Is(err, context.Canceled) {
		t.Errorf("read after cancel: %v", err)
	}
}

func TestCreateSignedURL(t *testing.T) {
	ctx := context.Background()
	s, dir := newStore(t)
	put(t, s, "b", "backups/demo 1/demo 1.tar.gz", "tar")
	raw, err := s.CreateSignedURL(ctx, "b", "backups/demo 1/demo 1.tar.gz", 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "file" {
		t.Fatalf("URL %q: %v", raw, err)
	}
	b, err := os.ReadFile(u.Path)
	if err != nil || string(b) != "tar" || u.Path != filepath.Join(dir, "b", "backups", "demo 1", "demo 1.tar.gz") {
		t.Errorf("URL %q names %q (%q, %v)", raw, u.Path, b, err)
	}
	if !strings.Contains(raw, "demo%201") {
		t.Errorf("URL %q is not escaped", raw)
	}
	// The TTL is ignored.
	if raw2, _ := s.CreateSignedURL(ctx, "b", "backups/demo 1/demo 1.tar.gz", 0); raw2 != raw {
		t.Errorf("URL depends on ttl: %q vs %q", raw2, raw)
	}
}
