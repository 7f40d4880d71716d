package backup_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/archive"
	"github.com/rigging-dev/rigging/archive/archivetest"
	"github.com/rigging-dev/rigging/backup"
	"github.com/rigging-dev/rigging/bench"
)

// backupFiles backs items up with opts (Workers as given) into a fresh
// MemStore and returns every object of the backup, decompressed where
// gzipped (the tarball stays compressed: its bytes are compared as
// written), with what differs between any two runs blanked: the Backup's
// UID and the log's record times.
func backupFiles(t *testing.T, opts backup.Options) map[string][]byte {
	t.Helper()
	mem := archivetest.NewMemStore()
	opts.Store = archive.NewStore(mem, bucket, "")
	opts.Name = "b1"
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	opts.Now = func() time.Time { return start }
	opts.OperationPollInterval = time.Millisecond
	if _, err := backup.Run(context.Background(), opts); err != nil {
		t.Fatalf("workers %d: %v", opts.Workers, err)
	}
	out := map[string][]byte{}
	var uid []byte
	for _, k := range mem.Keys(bucket) {
		data, _ := mem.Object(bucket, k)
		switch {
		case strings.HasSuffix(k, "velero-backup.json"):
			var b map[string]any
			if err := json.Unmarshal(data, &b); err != nil {
				t.Fatal(err)
			}
			md := b["metadata"].(map[string]any)
			uid = []byte(md["uid"].(string))
			delete(md, "uid")
			data, _ = json.Marshal(b)
		case strings.HasSuffix(k, ".tar.gz"):
		case strings.HasSuffix(k, ".gz"):
			zr, err := gzip.NewReader(bytes.NewReader(data))
			if err != nil {
				t.Fatalf("%s: %v", k, err)
			}
			if data, err = io.ReadAll(zr); err != nil {
				t.Fatalf("%s: %v", k, err)
			}
			if strings.HasSuffix(k, "-logs.gz") {
				data = logTime.ReplaceAll(data, []byte("time=T "))
			}
		}
		out[k] = data
	}
	for k, data := range out {
		if !strings.HasSuffix(k, ".tar.gz") {
			out[k] = bytes.ReplaceAll(data, uid, []byte("UID"))
		}
	}
	return out
}

var logTime = regexp.MustCompile(`(?m)^time=\S+ `)

// sameFiles fails unless got holds exactly want's objects, byte for byte.
func sameFiles(t *testing.T, what string, want, got map[string][]byte) {
	t.Helper()
	for k, w := range want {
		g, ok := got[k]
		switch {
		case !ok:
			t.Errorf("%s: %s missing", what, k)
		case !bytes.Equal(g, w):
			t.Errorf("%s: %s differs from the sequential run's:\n got %.2000s\nwant %.2000s", what, k, g, w)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s: %s is not in the sequential run", what, k)
		}
	}
}

// mixedItems returns n ConfigMaps over four namespaces, with names that
// make mixedAction do each of its things.
func mixedItems(n int) []*unstructured.Unstructured {
	var items []*unstructured.Unstructured
	for i := range 4 {
		items = append(items, obj("v1", "Namespace", "", fmt.Sprint("ns", i), nil))
	}
	for i := range n {
		items = append(items, obj("v1", "ConfigMap", fmt.Sprint("ns", i%4), fmt.Sprintf("cm-%04d", i), map[string]string{"i": fmt.Sprint(i)}))
	}
	return items
}

// mixedAction, on ConfigMap cm-NNNN: fails every 7th, skips every 11th,
// names cm-(NNNN+5) as an additional item (reached again by its own block
// later) every 3rd, starts an operation every 13th, and annotates the rest;
// it yields the processor a varying number of times so that workers finish
// out of order.
func mixedAction() *fakeAction {
	var ops sync.Map
	return &fakeAction{
		name: "example.com/mixed",
		sel:  rigging.ResourceSelector{IncludedResources: []string{"configmaps"}},
		exec: func(item *unstructured.Unstructured) (*unstructured.Unstructured, []rigging.ResourceIdentifier, string, []rigging.ResourceIdentifier, error) {
			var i int
			fmt.Sscanf(item.GetName(), "cm-%d", &i)
			for range i % 5 * 50 {
				runtime.Gosched()
			}
			switch {
			case i%7 == 0:
				return nil, nil, "", nil, fmt.Errorf("no good: %s", item.GetName())
			case i%11 == 0:
				out := item.DeepCopy()
				out.SetAnnotations(map[string]string{rigging.AnnotationSkipFromBackup: "true"})
				return out, nil, "", nil, nil
			}
			out := item.DeepCopy()
			out.SetAnnotations(map[string]string{"mixed": fmt.Sprint(i)})
			var add []rigging.ResourceIdentifier
			if i%3 == 0 {
				add = append(add, cmID(fmt.Sprint("ns", (i+5)%4), fmt.Sprintf("cm-%04d", i+5)))
			}
			op := ""
			if i%13 == 0 {
				op = "op-" + item.GetName()
				ops.Store(op, true)
			}
			return out, add, op, nil, nil
		},
		progress: func(id string) (rigging.OperationProgress, error) {
			if _, ok := ops.Load(id); !ok {
				return rigging.OperationProgress{}, errors.New("unknown operation")
			}
			return rigging.OperationProgress{Completed: true}, nil
		},
	}
}

// TestParallelSameAsSequential: whatever the number of workers, every file
// of the backup is byte for byte what one worker writes (the log's lines
// too, but their times), with plugin errors failing only their item,
// additional items that two blocks reach, skipped items and operations; and
// with the built-in actions on the cluster export (item blocks of pods and
// claims).
func TestParallelSameAsSequential(t *testing.T) {
	for _, tc := range []struct {
		name    string
		items   func(t *testing.T) []*unstructured.Unstructured
		plugins func(t *testing.T) backup.Plugins
	}{
		{"mixed action", func(*testing.T) []*unstructured.Unstructured { return mixedItems(400) },
			func(*testing.T) backup.Plugins { return plugins{mixedAction()} }},
		{"built-ins on the cluster export", func(t *testing.T) []*unstructured.Unstructured { return clusterExport(t) },
			func(t *testing.T) backup.Plugins { return builtins(t) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			items := tc.items(t)
			want := backupFiles(t, backup.Options{Items: items, Plugins: tc.plugins(t), Workers: 1})
			for _, w := range []int{2, 3, 8} {
				got := backupFiles(t, backup.Options{Items: items, Plugins: tc.plugins(t), Workers: w})
				sameFiles(t, fmt.Sprint(w, " workers"), want, got)
			}
		})
	}
}

// TestParallelStaleBlockRunsAgain: block "a" names "b" as an additional
// item, but b's own block, run at the same time by another worker, has
// already backed it up when a is written. b's block is then run again
// after a's, finds b backed up, and the backup holds b once, as a
// sequential run writes it (a regression test: without the re-run, b was
// written twice and counted twice). b's action runs once: a's block
// replays the answer b's block got (a regression test: it ran twice).
func TestParallelStaleBlockRunsAgain(t *testing.T) {
	items := []*unstructured.Unstructured{
		obj("v1", "Namespace", "", "app", nil),
		obj("v1", "ConfigMap", "app", "a", nil),
		obj("v1", "ConfigMap", "app", "b", nil),
	}
	newAction := func(parallel bool) (*fakeAction, *atomic.Int32) {
		bDone := make(chan struct{})
		var once sync.Once
		var bCalls atomic.Int32
		return &fakeAction{
			name: "example.com/pair",
			sel:  rigging.ResourceSelector{IncludedResources: []string{"configmaps"}},
			exec: func(item *unstructured.Unstructured) (*unstructured.Unstructured, []rigging.ResourceIdentifier, string, []rigging.ResourceIdentifier, error) {
				out := item.DeepCopy()
				out.SetAnnotations(map[string]string{"seen": "yes"})
				switch item.GetName() {
				case "a":
					if parallel {
						<-bDone // b's own block has run b
					}
					return out, []rigging.ResourceIdentifier{cmID("app", "b")}, "", nil, nil
				case "b":
					bCalls.Add(1)
					once.Do(func() { close(bDone) })
				}
				return out, nil, "", nil, nil
			},
		}, &bCalls
	}
	seq, _ := newAction(false)
	want := backupFiles(t, backup.Options{Items: items, Plugins: plugins{seq}, Workers: 1})
	par, bCalls := newAction(true)
	got := backupFiles(t, backup.Options{Items: items, Plugins: plugins{par}, Workers: 2})
	sameFiles(t, "2 workers", want, got)
	if n := bCalls.Load(); n != 1 {
		t.Errorf("b executed %d times, want 1", n)
	}
}

// TestParallelSharedItemRunsOnce: blocks "a" and "b", run at the same time,
// both name "s" as an additional item, whose action starts an asynchronous
// operation; b's block reaches s first, but a's block (earlier) backs it
// up. Every item's action runs once, the one operation started is the one
// tracked (polled, and in the backup's operations), and the files are a
// sequential run's (a regression test: b's block ran again, calling the
// action on b and s a second time, and the operation its first run
// started was never polled).
func TestParallelSharedItemRunsOnce(t *testing.T) {
	items := []*unstructured.Unstructured{
		obj("v1", "Namespace", "", "app", nil),
		obj("v1", "ConfigMap", "app", "a", nil),
		obj("v1", "ConfigMap", "app", "b", nil),
		obj("v1", "ConfigMap", "app", "s", nil),
	}
	type counts struct {
		mu     sync.Mutex
		calls  map[string]int
		polled map[string]bool
	}
	newAction := func(parallel bool) (*fakeAction, *counts) {
		c := &counts{calls: map[string]int{}, polled: map[string]bool{}}
		sDone := make(chan struct{})
		var once sync.Once
		return &fakeAction{
			name: "example.com/shared",
			sel:  rigging.ResourceSelector{IncludedResources: []string{"configmaps"}},
			exec: func(item *unstructured.Unstructured) (*unstructured.Unstructured, []rigging.ResourceIdentifier, string, []rigging.ResourceIdentifier, error) {
				name := item.GetName()
				c.mu.Lock()
				c.calls[name]++
				n := c.calls[name]
				c.mu.Unlock()
				out := item.DeepCopy()
				out.SetAnnotations(map[string]string{"seen": "yes"})
				switch name {
				case "a":
					if parallel {
						<-sDone // b's block has run s
					}
					return out, []rigging.ResourceIdentifier{cmID("app", "s")}, "", nil, nil
				case "b":
					return out, []rigging.ResourceIdentifier{cmID("app", "s")}, "", nil, nil
				case "s":
					defer once.Do(func() { close(sDone) })
					return out, nil, fmt.Sprint("op-s-", n), nil, nil
				}
				return out, nil, "", nil, nil
			},
			progress: func(id string) (rigging.OperationProgress, error) {
				c.mu.Lock()
				c.polled[id] = true
				c.mu.Unlock()
				return rigging.OperationProgress{Completed: true}, nil
			},
		}, c
	}
	seq, _ := newAction(false)
	want := backupFiles(t, backup.Options{Items: items, Plugins: plugins{seq}, Workers: 1})
	par, c := newAction(true)
	got := backupFiles(t, backup.Options{Items: items, Plugins: plugins{par}, Workers: 2})
	sameFiles(t, "2 workers", want, got)
	for _, name := range []string{"a", "b", "s"} {
		if n := c.calls[name]; n != 1 {
			t.Errorf("%s executed %d times, want 1", name, n)
		}
	}
	for i := 1; i <= c.calls["s"]; i++ {
		if id := fmt.Sprint("op-s-", i); !c.polled[id] {
			t.Errorf("operation %s was started but never polled", id)
		}
	}
}

// TestParallelSameAsSequentialRPC is TestParallelSameAsSequential with the
// built-in actions served by a plugin subprocess (this test binary, over
// gRPC), whose calls the workers make at the same time.
func TestParallelSameAsSequentialRPC(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a plugin process")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// The plugin process reads the objects the in-process run's Lookup
	// holds (its Lookup would otherwise be a cluster's, and there is none).
	exported, err := filepath.Abs("../testdata/manifests/cluster-export")
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(bench.EnvLookup, exported)
	dir := t.TempDir()
	if err := bench.LinkBinary(self, filepath.Join(dir, "rigging-plugins")); err != nil {
		t.Fatal(err)
	}
	m, err := bench.CatalogManager(context.Background(), dir, "")
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	items := clusterExport(t)
	want := backupFiles(t, backup.Options{Items: items, Plugins: m, Workers: 1})
	for _, w := range []int{2, 4} {
		got := backupFiles(t, backup.Options{Items: items, Plugins: m, Workers: w})
		sameFiles(t, fmt.Sprint(w, " workers over gRPC"), want, got)
	}
	// The actions ran in the plugin process: its pod action's additional
	// items (the claims) are in the backup as the in-process run puts them.
	inproc := backupFiles(t, backup.Options{Items: items, Plugins: builtins(t), Workers: 1})
	if !bytes.Equal(inproc["backups/b1/b1-resource-list.json.gz"], want["backups/b1/b1-resource-list.json.gz"]) {
		t.Errorf("resource list over gRPC differs from in-process")
	}
}

func TestMain(m *testing.M) {
	if bench.ServeIfChild() { // the plugin process of TestParallelSameAsSequentialRPC
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestParallelFailedSharedItemCalledAgain: block "s" runs s first and its
// action fails; block "a" (earlier) reaches s as an additional item and
// takes that answer. A sequential run calls the action on s twice (for a,
// then in s's own block, where it succeeds here), and so does a parallel
// one: s's block, which shared a's answer, runs again (a regression test:
// it kept the failure, and s was not in the backup).
func TestParallelFailedSharedItemCalledAgain(t *testing.T) {
	items := []*unstructured.Unstructured{
		obj("v1", "Namespace", "", "app", nil),
		obj("v1", "ConfigMap", "app", "a", nil),
		obj("v1", "ConfigMap", "app", "s", nil),
	}
	newAction := func(parallel bool) (*fakeAction, *atomic.Int32) {
		sDone := make(chan struct{})
		var once sync.Once
		var sCalls atomic.Int32
		return &fakeAction{
			name: "example.com/flaky",
			sel:  rigging.ResourceSelector{IncludedResources: []string{"configmaps"}},
			exec: func(item *unstructured.Unstructured) (*unstructured.Unstructured, []rigging.ResourceIdentifier, string, []rigging.ResourceIdentifier, error) {
				out := item.DeepCopy()
				out.SetAnnotations(map[string]string{"seen": "yes"})
				if item.GetName() == "a" {
					if parallel {
						<-sDone // s's own block has run s
					}
					return out, []rigging.ResourceIdentifier{cmID("app", "s")}, "", nil, nil
				}
				defer once.Do(func() { close(sDone) })
				if sCalls.Add(1) == 1 {
					return nil, nil, "", nil, errors.New("not yet")
				}
				return out, nil, "", nil, nil
			},
		}, &sCalls
	}
	seq, seqCalls := newAction(false)
	want := backupFiles(t, backup.Options{Items: items, Plugins: plugins{seq}, Workers: 1})
	par, parCalls := newAction(true)
	got := backupFiles(t, backup.Options{Items: items, Plugins: plugins{par}, Workers: 2})
	sameFiles(t, "2 workers", want, got)
	if s, p := seqCalls.Load(), parCalls.Load(); s != 2 || p != s {
		t.Errorf("s executed %d times with 2 workers, %d with one; want 2 both", p, s)
	}
}
