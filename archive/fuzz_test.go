package archive_test

import (
	"archive/tar"
	"bytes"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/rigging-dev/rigging/archive"
	"github.com/rigging-dev/rigging/faults/hostile"
	"github.com/rigging-dev/rigging/manifest"
	"github.com/rigging-dev/rigging/resources"
)

// fuzzLimits are small, so that the fuzzer reaches every limit.
var fuzzLimits = archive.Limits{MaxEntrySize: 64 << 10, MaxTotalSize: 1 << 20, MaxEntries: 2000}

// maxReadAlloc bounds what one Read under fuzzLimits may allocate.
const maxReadAlloc = 8*(1<<20) + 4<<20

// FuzzRead checks that Read never panics, keeps within its Limits (and
// allocates accordingly, whatever sizes the input claims), and only
// returns items whose place (group-resource, version folder, namespace,
// name) is a clean relative path inside any directory it is extracted to.
// Seeds: tarballs archive.Writer wrote from the demo and cluster-export
// manifests, and hostile tarballs (path traversal, absolute paths, links,
// lying sizes, a gzip bomb).
func FuzzRead(f *testing.F) {
	for _, file := range []string{"../testdata/demo/pod-two-pvcs.yaml", "../testdata/demo/claims.yaml", "../testdata/manifests/cluster-export/kube-system.yaml"} {
		f.Add(realTarball(f, file, 12))
	}
	for _, tb := range [][]byte{
		hostile.Tarball(hostile.Version(), hostile.Item("pods", "ns", "a"), hostile.Entry{Name: "resources/pods/namespaces/../../../etc/x.json", Body: []byte("{}")}),
		hostile.Tarball(hostile.Entry{Name: "/etc/passwd", Body: []byte("x")}),
		hostile.Tarball(hostile.Entry{Name: "C:\\windows\\x.json", Body: []byte("x")}),
		hostile.Tarball(hostile.Entry{Name: "resources/pods/cluster/l.json", Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd"}),
		hostile.Tarball(hostile.Entry{Name: "resources/pods/cluster/h.json", Typeflag: tar.TypeLink, Linkname: "../../x"}),
		hostile.Tarball(hostile.Entry{Name: "resources/pods/cluster/big.json", Body: []byte("{}"), Size: 1 << 40}),
		hostile.Tarball(hostile.Entry{Name: "resources/pods/cluster/...json", Body: []byte("{}")}, hostile.Entry{Name: "resources/./pods/./cluster/.json", Body: []byte("{}")}),
		hostile.Tarball(hostile.Entry{Name: "resources/pods/v1-preferredversion/namespaces/ns/a.json", Body: []byte("{}")}),
		hostile.GzipBomb("resources/pods/cluster/bomb.json", 2<<20),
		hostile.ManyEntriesBomb(3000),
		{0x1f, 0x8b}, {},
	} {
		f.Add(tb)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		c, err := archive.Read(bytes.NewReader(data), fuzzLimits)
		runtime.ReadMemStats(&after)
		// Memory is bounded by the limits, not by what the input claims:
		// the items kept (at most MaxTotalSize), buffers growing to them,
		// and the decompressor's fixed state.
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > uint64(maxReadAlloc) {
			t.Fatalf("Read of %d bytes allocated %d bytes, more than %d", len(data), alloc, maxReadAlloc)
		}
		if err != nil {
			return
		}
		var total int64
		root := filepath.Join(string(filepath.Separator), "extract", "root")
		for _, it := range c.All() {
			total += int64(len(it.Data))
			if int64(len(it.Data)) > fuzzLimits.MaxEntrySize {
				t.Fatalf("item %s/%s of %d bytes passed MaxEntrySize %d", it.Namespace, it.Name, len(it.Data), fuzzLimits.MaxEntrySize)
			}
			gr := it.GroupResource.String()
			for _, seg := range []struct{ what, v string }{{"resource", gr}, {"version folder", it.VersionDir}, {"namespace", it.Namespace}, {"name", it.Name}} {
				if seg.v == "" && (seg.what == "version folder" || seg.what == "namespace") {
					continue
				}
				// A name of "." or ".." (from "..json" and "...json") is a
				// known defect, reported in /work/notes/BUGS.md and asserted
				// by faults.TestHostileBackups; ItemPath keeps it inside the
				// root, which is checked below.
				dotName := seg.what == "name" && (seg.v == "." || seg.v == "..")
				if seg.v == "" || (!dotName && (seg.v == "." || seg.v == "..")) || strings.ContainsAny(seg.v, "/\\\x00") {
					t.Fatalf("item with unsafe %s %q (resource %q namespace %q name %q)", seg.what, seg.v, gr, it.Namespace, it.Name)
				}
			}
			p := filepath.Join(root, filepath.FromSlash(archive.ItemPath(gr, it.VersionDir, it.Namespace, it.Name)))
			if !strings.HasPrefix(p, root+string(filepath.Separator)) {
				t.Fatalf("item path %s escapes %s", p, root)
			}
			if c.Get(gr, it.Namespace, it.Name) != it {
				t.Fatalf("Get(%q, %q, %q) does not return the listed item", gr, it.Namespace, it.Name)
			}
		}
		if total > fuzzLimits.MaxTotalSize {
			t.Fatalf("read %d bytes of items, more than MaxTotalSize %d", total, fuzzLimits.MaxTotalSize)
		}
		if c.Len() != len(c.All()) {
			t.Fatalf("Len %d != len(All) %d", c.Len(), len(c.All()))
		}
	})
}

// realTarball writes up to n objects of a manifest file with archive.Writer,
// as the backup pipeline does.
func realTarball(tb testing.TB, file string, n int) []byte {
	tb.Helper()
	objs, err := manifest.Load(file)
	if err != nil {
		tb.Fatal(err)
	}
	m := resources.NewMapper()
	var buf bytes.Buffer
	w, err := archive.NewWriter(&buf, time.Date(2026, 11, 27, 10, 3, 23, 0, time.UTC))
	if err != nil {
		tb.Fatal(err)
	}
	for _, o := range objs[:min(n, len(objs))] {
		r, err := m.ForObject(o)
		if err != nil {
			continue
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
