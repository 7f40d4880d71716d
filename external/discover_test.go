package external

import (
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestCacheFileFormat: a discovery cache written before (its JSON shape
// literal here) is read, and a cache written now has the same shape.
func TestCacheFileFormat(t *testing.T) {
	const onDisk = `{
  "version": 1,
  "entries": [
    {
      "path": "/plugins/acme",
      "size": 42,
      "inode": 7,
      "mtime": 1000,
      "ctime": 2000,
      "plugins": [
        {
          "kind": "BackupItemAction",
          "name": "acme.com/one"
        },
        {
          "kind": "ObjectStore",
          "name": "acme.com/store"
        }
      ]
    }
  ]
}`
	file := filepath.Join(t.TempDir(), "cache.json")
	if err := os.WriteFile(file, []byte(onDisk), 0o600); err != nil {
		t.Fatal(err)
	}
	c := loadCache(file, slog.Default())
	got, ok := c.lookup(binaryID{Path: "/plugins/acme", Size: 42, Inode: 7, MTime: 1000, CTime: 2000})
	want := []listedPlugin{{Kind: "BackupItemAction", Name: "acme.com/one"}, {Kind: "ObjectStore", Name: "acme.com/store"}}
	if !ok || !slices.Equal(got, want) {
		t.Fatalf("lookup = %v, %v; want %v", got, ok, want)
	}
	again := filepath.Join(t.TempDir(), "again.json")
	if err := c.save(again); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(again)
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(string(b)) != onDisk {
		t.Errorf("cache written as\n%s\nwant\n%s", b, onDisk)
	}
}
