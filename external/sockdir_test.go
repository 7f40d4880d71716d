package external

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSocketDirFitsSocketPath checks that the catalog's socket directory
// leaves room for a socket name whatever TMPDIR is: a deep TMPDIR made
// go-plugin's bind fail with "invalid argument".
func TestSocketDirFitsSocketPath(t *testing.T) {
	shallow, err := os.MkdirTemp("/tmp", "rs")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(shallow)
	deep := filepath.Join(shallow, strings.Repeat("d", 90))
	if err := os.Mkdir(deep, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, tmpdir, wantParent string
	}{
		{"short TMPDIR is used", shallow, shallow},
		{"deep TMPDIR falls back to /tmp", deep, "/tmp"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("TMPDIR", tc.tmpdir)
			dir, err := makeSocketDir()
			if err != nil {
				t.Fatal(err)
			}
			defer os.RemoveAll(dir)
			if got := filepath.Dir(dir); got != tc.wantParent {
				t.Errorf("socket dir %s: parent %s, want %s", dir, got, tc.wantParent)
			}
			if len(dir) > maxSocketDir {
				t.Errorf("socket dir %s is %d bytes, more than %d", dir, len(dir), maxSocketDir)
			}
		})
	}
}
