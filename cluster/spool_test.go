package cluster_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/archive"
	"github.com/rigging-dev/rigging/archive/archivetest"
	"github.com/rigging-dev/rigging/backup"
	"github.com/rigging-dev/rigging/cluster"
	"github.com/rigging-dev/rigging/internal/testcluster"
	"github.com/rigging-dev/rigging/resources"
)

// spooledLookup returns a Lookup of c whose objects' JSON goes to a new
// spool in a directory of its own (closed when t ends), and the directory.
func spooledLookup(t *testing.T, c *testcluster.Cluster, opts cluster.LookupOptions) (*cluster.Lookup, *resources.Spool, string) {
	t.Helper()
	dir := t.TempDir()
	sp, err := resources.NewSpool(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sp.Close() })
	opts.Spool = sp
	l, err := cluster.NewLookup(c.Config(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return l, sp, dir
}

// clusterBackupFiles backs up what a Lookup of c collects (opts.Spool
// chooses where the JSON is) with workers, at a fixed time, and returns
// the stored files whose bytes depend only on the items: the contents
// tarball, the resource list and the results.
func clusterBackupFiles(t *testing.T, c *testcluster.Cluster, opts cluster.LookupOptions, workers int) map[string][]byte {
	t.Helper()
	ctx := context.Background()
	l, err := cluster.NewLookup(c.Config(), opts)
	if err != nil {
		t.Fatal(err)
	}
	enc, warnings, err := l.CollectEncoded(ctx, cluster.CollectOptions{})
	if err != nil || len(warnings) > 0 {
		t.Fatalf("CollectEncoded: %v %v", warnings, err)
	}
	for _, e := range enc {
		if spooled := e.JSON == nil; spooled != (opts.Spool != nil) {
			t.Fatalf("%s %s/%s: JSON in memory %v with spool %v", e.Kind, e.Namespace, e.Name, !spooled, opts.Spool != nil)
		}
	}
	in, inErrs := backup.NewInput(nil, enc)
	if len(inErrs) > 0 {
		t.Fatalf("NewInput: %v", inErrs)
	}
	mem := archivetest.NewMemStore()
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if _, err := backup.Run(ctx, backup.Options{Name: "b", Input: in, Lookup: l, Workers: workers,
		Store: archive.NewStore(mem, "bkt", ""), Now: func() time.Time { return start }}); err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, k := range mem.Keys("bkt") {
		if strings.HasSuffix(k, ".tar.gz") || strings.HasSuffix(k, "-resource-list.json.gz") || strings.HasSuffix(k, "-results.gz") {
			out[k], _ = mem.Object("bkt", k)
		}
	}
	if len(out) != 3 {
		t.Fatalf("stored %v, want the tarball, resource list and results", mem.Keys("bkt"))
	}
	return out
}

// TestCollectSpooled: a backup of the cluster whose listed objects are
// spooled (LookupOptions.Spool) stores the same files, byte for byte, as
// one whose objects are in memory, with one worker and with several; the
// spool holds every object's JSON and its directory no file. The API
// server changes objects of its own meanwhile (its identity Lease in
// kube-system is renewed every few seconds): a comparison counts only when
// an in-memory backup made before the spooled one and one made after it
// are the same, and is tried again otherwise.
func TestCollectSpooled(t *testing.T) {
	c := testcluster.Get(t)
	for _, workers := range []int{1, 3} {
		compared := false
		for attempt := 0; attempt < 5 && !compared; attempt++ {
			before := clusterBackupFiles(t, c, cluster.LookupOptions{}, workers)
			dir := t.TempDir()
			sp, err := resources.NewSpool(dir)
			if err != nil {
				t.Fatal(err)
			}
			got := clusterBackupFiles(t, c, cluster.LookupOptions{Spool: sp}, workers)
			after := clusterBackupFiles(t, c, cluster.LookupOptions{}, workers)
			if sp.Size() == 0 {
				t.Error("nothing was spooled")
			}
			if left, _ := os.ReadDir(dir); len(left) != 0 {
				t.Errorf("left in the spool's directory: %v", left)
			}
			if err := sp.Close(); err != nil {
				t.Error(err)
			}
			if !sameFiles(before, after) {
				t.Logf("workers %d, attempt %d: the cluster changed during the comparison; again", workers, attempt+1)
				continue
			}
			compared = true
			for k, w := range before {
				if !bytes.Equal(got[k], w) {
					t.Errorf("workers %d: %s of the spooled backup differs from the in-memory one's", workers, k)
				}
			}
		}
		if !compared {
			t.Errorf("workers %d: the cluster changed during each of 5 comparisons", workers)
		}
	}
}

// sameFiles reports whether a and b hold the same files, byte for byte.
func sameFiles(a, b map[string][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || !bytes.Equal(v, w) {
			return false
		}
	}
	return true
}

// TestLookupSpoolErrors: a spooled Lookup answers from its spool; once the
// spool is closed, a list it has to make and an object it has to read
// again fail with ErrSpoolClosed, naming the resource listed; Fetch, which
// reads the API server afresh, still works.
func TestLookupSpoolErrors(t *testing.T) {
	c := testcluster.Get(t)
	ctx := context.Background()
	l, sp, dir := spooledLookup(t, c, cluster.LookupOptions{})
	cm, err := l.Get(ctx, grCMs, "kube-system", "coredns")
	if err != nil {
		t.Fatalf("Get from the spool: %v", err)
	}
	if cm.GetName() != "coredns" {
		t.Fatalf("Get returned %s", cm.GetName())
	}
	if err := sp.Close(); err != nil {
		t.Fatal(err)
	}
	_, _, err = l.Collect(ctx, cluster.CollectOptions{})
	if !errors.Is(err, resources.ErrSpoolClosed) || !strings.Contains(err.Error(), "cluster lookup: list ") {
		t.Errorf("Collect with the spool closed: %v, want ErrSpoolClosed naming the list", err)
	}
	// Objects listed before it closed are read back from it, unless
	// recently decoded.
	if _, err := l.List(ctx, grCMs, "kube-system"); !errors.Is(err, resources.ErrSpoolClosed) {
		t.Errorf("List with the spool closed: %v, want ErrSpoolClosed", err)
	}
	got, err := l.Fetch(ctx, grCMs, "kube-system", "coredns")
	if err != nil || got.GetName() != "coredns" {
		t.Errorf("Fetch with the spool closed: %v %v", got, err)
	}
	if _, err := l.Fetch(ctx, grCMs, "kube-system", "no-such"); !errors.Is(err, rigging.ErrNotFound) {
		t.Errorf("Fetch of a missing object: %v, want ErrNotFound", err)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("left in the spool's directory: %v", left)
	}
}
