package filesystem_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rigging-dev/rigging/providers/filesystem"
)

// FuzzKeys drives every method of the store with a fuzzed bucket, key and
// list prefix, over a root whose bucket "b" holds symbolic links leading out
// of it (a directory link "out" and a file link "file"). Whatever the input:
// no panic; nothing outside the root is created, changed or removed; no
// temporary file is left behind; an accepted Put reads back the same bytes,
// is listed, and is gone after Delete.
func FuzzKeys(f *testing.F) {
	seeds := []struct{ bucket, key, prefix string }{
		{"velero", "backups/demo-1/velero-backup.json", "backups/"},
		{"velero", "prefix/backups/demo-1/demo-1.tar.gz", "prefix/backups/demo-1/"},
		{"velero", "restores/r-1/restore-r-1-logs.gz", "restores/r"},
		{"b", "out/escape", "out/"},
		{"b", "file", "fi"},
		{"b", "x/../../escape", "x/.."},
		{"b", "../escape", ".."},
		{"..", "escape", ""},
		{".", "x", "."},
		{"b", "/etc/passwd", "/"},
		{"b", "a//b", "a//"},
		{"b", "a/./b", "a/."},
		{"b", "a\\..\\..\\escape", "a\\"},
		{"b", ".rigging-tmp-x", ".rigging-tmp-"},
		{"b", "a/.rigging-tmp-x", "a/"},
		{"b", "x\x00y", "x\x00"},
		{"b/c", "x", ""},
		{"b", strings.Repeat("d/", 200) + "x", strings.Repeat("d/", 100)},
		{"b", strings.Repeat("n", 300), ""},
		{"b", "out", "o"},
	}
	for _, s := range seeds {
		f.Add(s.bucket, s.key, s.prefix, []byte("data"))
	}
	f.Fuzz(func(t *testing.T, bucket, key, prefix string, body []byte) {
		outer := t.TempDir()
		root := filepath.Join(outer, "root")
		outside := filepath.Join(outer, "outside")
		must(t, os.MkdirAll(filepath.Join(root, "b"), 0o700))
		must(t, os.MkdirAll(outside, 0o700))
		must(t, os.WriteFile(filepath.Join(outside, "secret"), []byte("secret"), 0o600))
		must(t, os.Symlink(outside, filepath.Join(root, "b", "out")))
		must(t, os.Symlink(filepath.Join(outside, "secret"), filepath.Join(root, "b", "file")))
		before := snapshot(t, outer, root)

		s := filesystem.New()
		ctx := context.Background()
		must(t, s.Init(ctx, map[string]string{filesystem.KeyRoot: root}))
		defer s.Close()

		_, _ = s.ListObjects(ctx, bucket, prefix)
		_, _ = s.ListCommonPrefixes(ctx, bucket, prefix, "/")
		_, _ = s.ObjectExists(ctx, bucket, key)
		if rc, err := s.GetObject(ctx, bucket, key); err == nil {
			_, _ = io.Copy(io.Discard, rc)
			rc.Close()
		}
		if u, err := s.CreateSignedURL(ctx, bucket, key, time.Minute); err == nil && !strings.HasPrefix(u, "file://") {
			t.Fatalf("signed URL %q is not a file URL", u)
		}
		if err := s.PutObject(ctx, bucket, key, bytes.NewReader(body)); err == nil {
			checkStored(t, s, bucket, key, body)
		} else if !strings.Contains(err.Error(), key) && !errors.Is(err, filesystem.ErrInvalidKey) {
			t.Fatalf("put %q/%q: error does not name the key: %v", bucket, key, err)
		}
		_, _ = s.ListObjects(ctx, bucket, prefix)
		_ = s.DeleteObject(ctx, bucket, key)
		_ = s.DeleteObject(ctx, bucket, prefix)
		must(t, s.Close())

		if after := snapshot(t, outer, root); !slices.Equal(before, after) {
			t.Fatalf("bucket %q key %q prefix %q changed what lies outside the root:\nbefore %q\nafter  %q", bucket, key, prefix, before, after)
		}
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if strings.HasPrefix(d.Name(), ".rigging-tmp-") {
				t.Errorf("temporary file left behind: %s", p)
			}
			return nil
		})
		must(t, err)
	})
}

// checkStored asserts that an accepted Put is readable, listed, and
// deletable.
func checkStored(t *testing.T, s *filesystem.Store, bucket, key string, body []byte) {
	t.Helper()
	ctx := context.Background()
	rc, err := s.GetObject(ctx, bucket, key)
	if err != nil {
		t.Fatalf("put %q/%q succeeded but get fails: %v", bucket, key, err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("put %q/%q: read back %d bytes (%v), want %d", bucket, key, len(got), err, len(body))
	}
	keys, err := s.ListObjects(ctx, bucket, "")
	if err != nil || !slices.Contains(keys, key) {
		t.Fatalf("put %q/%q: not listed (%v): %q", bucket, key, err, keys)
	}
	if err := s.DeleteObject(ctx, bucket, key); err != nil {
		t.Fatalf("delete %q/%q: %v", bucket, key, err)
	}
	if ok, err := s.ObjectExists(ctx, bucket, key); ok || err != nil {
		t.Fatalf("delete %q/%q: still exists (%v)", bucket, key, err)
	}
}

// snapshot lists everything under outer except the root, with each regular
// file's content, so that any change outside the root shows.
func snapshot(t *testing.T, outer, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(outer, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == root {
			return filepath.SkipDir
		}
		entry := p + " " + d.Type().String()
		if d.Type().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			entry += " " + string(b)
		}
		out = append(out, entry)
		return nil
	})
	must(t, err)
	return out
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
