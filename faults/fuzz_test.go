package faults

import (
	"archive/tar"
	"os"
	"path/filepath"
	"testing"

	"github.com/rigging-dev/rigging/archive"
	"github.com/rigging-dev/rigging/faults/hostile"
)

// FuzzRestoreExtract plants a fuzzed tarball as a backup in a filesystem
// location and restores it into a directory, end to end (archive reader,
// restore pipeline, YAML directory output). Whatever the bytes: no panic,
// and nothing is created outside the output directory and the store.
// Seeds: a backup tarball written by archive.Writer and hostile ones.
func FuzzRestoreExtract(f *testing.F) {
	f.Add(realTarball(f))
	for _, tb := range [][]byte{
		hostile.Tarball(hostile.Version(), hostile.Item("configmaps", "ns", "a"), hostile.Item("namespaces", "", "ns")),
		hostile.Tarball(hostile.Version(), hostile.Entry{Name: "resources/configmaps/namespaces/ns/../../../../x.json", Body: []byte("{}")}),
		hostile.Tarball(hostile.Entry{Name: "resources/configmaps/namespaces/ns/a.json",
			Body: []byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"../../x","namespace":"ns"}}`)}),
		hostile.Tarball(hostile.Entry{Name: "resources/configmaps/cluster/l.json", Typeflag: tar.TypeSymlink, Linkname: "/etc"}),
		hostile.GzipBomb("resources/configmaps/cluster/b.json", 4<<20),
	} {
		f.Add(tb)
	}
	f.Fuzz(func(t *testing.T, tarball []byte) {
		l := newLocation(t)
		l.plant(t, "fz", "fz", tarball)
		_, _ = l.restoreTo(t, "r", "fz", archive.Limits{MaxEntrySize: 256 << 10, MaxTotalSize: 2 << 20, MaxEntries: 2000})
		if bad := outsiders(t, l.dir); len(bad) > 0 {
			t.Fatalf("written outside the output directory: %q", bad)
		}
		if _, err := os.Lstat(filepath.Join(filepath.Dir(l.dir), "x")); err == nil {
			t.Fatalf("%s/x exists", filepath.Dir(l.dir))
		}
	})
}
