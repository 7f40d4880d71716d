package faults

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rigging-dev/rigging/providers/filesystem"
)

// TestFilesystemNonUTF8Names: an object key, or a directory put in the
// bucket by hand, whose name is not valid UTF-8 must not make listing the
// bucket fail: found by FuzzKeys ("0\xda/0"). Either Put refuses such a
// key with ErrInvalidKey (S3 keys are UTF-8), or List shows it; a stray
// directory is skipped or listed, never an error for the whole bucket.
func TestFilesystemNonUTF8Names(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	s := filesystem.New()
	if err := s.Init(ctx, map[string]string{filesystem.KeyRoot: root}); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.PutObject(ctx, "velero", "backups/good/velero-backup.json", strings.NewReader("{}")); err != nil {
		t.Fatal(err)
	}
	err := s.PutObject(ctx, "velero", "backups/bad\xda/velero-backup.json", strings.NewReader("{}"))
	switch {
	case errors.Is(err, filesystem.ErrInvalidKey):
		t.Logf("put of a non-UTF-8 key refused: %v", err)
	case err != nil:
		t.Errorf("put of a non-UTF-8 key: %v, want nil or ErrInvalidKey", err)
	default:
		t.Logf("put of a non-UTF-8 key accepted")
	}
	if keys, err := s.ListObjects(ctx, "velero", "backups/"); err != nil {
		t.Errorf("after that put, listing the bucket fails: %q", err.Error())
	} else {
		t.Logf("listed %q", keys)
	}

	// A directory made by hand (or by another tool) with such a name.
	if err := os.MkdirAll(filepath.Join(root, "velero", "backups", "stray\xff"), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ListObjects(ctx, "velero", "backups/"); err != nil {
		t.Errorf("a stray non-UTF-8 directory makes listing the bucket fail: %q", err.Error())
	}
	if _, err := s.ListCommonPrefixes(ctx, "velero", "backups/", "/"); err != nil {
		t.Errorf("a stray non-UTF-8 directory makes listing prefixes fail: %q", err.Error())
	}
}
