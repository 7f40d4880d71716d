package restore_test

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/archive"
	"github.com/rigging-dev/rigging/manager"
	"github.com/rigging-dev/rigging/restore"
)

// fakeCluster is a concurrent Output that answers as an API server would:
// it refuses objects whose name contains "refuse", warns about those whose
// name contains "warn", and fails (the server gone) at the object named
// goneAt. Writes yield the processor to shuffle the workers.
type fakeCluster struct {
	goneAt string
	mu     sync.Mutex
	seen   map[string]bool
}

func (f *fakeCluster) Write(ctx context.Context, it restore.Item) (restore.Outcome, error) {
	runtime.Gosched()
	if err := ctx.Err(); err != nil {
		return restore.Outcome{}, err
	}
	name := it.Object.GetName()
	if name == f.goneAt {
		return restore.Outcome{}, errors.New("connection refused")
	}
	f.mu.Lock()
	if f.seen == nil {
		f.seen = map[string]bool{}
	}
	f.seen[it.Resource+"/"+it.Object.GetNamespace()+"/"+name] = true
	f.mu.Unlock()
	switch {
	case strings.Contains(name, "refuse"):
		return restore.Outcome{Action: rigging.RestoreActionFailed, Rejected: fmt.Errorf("%s is invalid", name)}, nil
	case strings.Contains(name, "warn"):
		return restore.Outcome{Action: rigging.RestoreActionCreated, Warnings: []error{fmt.Errorf("status of %s not restored", name)}}, nil
	}
	return restore.Outcome{Action: rigging.RestoreActionCreated}, nil
}

func (f *fakeCluster) Close() error { return nil }

// restoreFiles returns the restore's uploaded log (timestamps removed),
// results and resource list.
func restoreFiles(t *testing.T, store *archive.Store, name string) string {
	t.Helper()
	var b strings.Builder
	for _, f := range []archive.RestoreFile{archive.RestoreLog, archive.RestoreResults, archive.RestoreResourceList} {
		rc, err := store.Objects.GetObject(context.Background(), bucket, store.Layout.RestoreKey(name, f))
		if err != nil {
			t.Fatalf("%v: %v", f, err)
		}
		zr, err := gzip.NewReader(rc)
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(zr)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		b.Write(data)
		b.WriteString("\n")
	}
	return regexp.MustCompile(`(?m)^time=\S+ `).ReplaceAllString(b.String(), "")
}

// TestWorkersSameAsSequential: a restore written by 8 workers has the log,
// results, resource list and counts of the same restore written by one,
// with objects refused and warned about among them, built-in actions that
// restore additional items, and a SequentialOutput's order kept.
func TestWorkersSameAsSequential(t *testing.T) {
	m := manager.New(manager.Options{Logger: slog.New(slog.DiscardHandler)})
	defer m.Close()
	items := clusterExport(t)
	for _, o := range items {
		switch o.GetName() {
		case "grafana-datasources":
			o.SetName("grafana-datasources-refuse")
		case "prometheus-config":
			o.SetName("prometheus-config-warn")
		}
	}
	var files [2]string
	var sums [2]*restore.Summary
	for i, workers := range []int{1, 8} {
		store := backupOf(t, items, m)
		out := &fakeCluster{}
		sum, err := restore.Run(context.Background(), restore.Options{Name: "r1", BackupName: "b1", Store: store, Output: out, Plugins: m, Workers: workers})
		if err != nil {
			t.Fatal(err)
		}
		files[i], sums[i] = restoreFiles(t, store, "r1"), sum
	}
	if files[0] != files[1] {
		t.Errorf("--workers 8 wrote other files than --workers 1:\n%s\n----\n%s", files[1], files[0])
	}
	st := sums[1].Restore.Status
	if st.Phase != rigging.RestorePhasePartiallyFailed || st.Errors != 1 || st.Warnings != 1 {
		t.Errorf("status %+v", st)
	}
	if a, b := sums[0].Restore.Status, sums[1].Restore.Status; a.Progress.ItemsRestored != b.Progress.ItemsRestored || fmt.Sprint(sums[0].NotRestored) != fmt.Sprint(sums[1].NotRestored) {
		t.Errorf("counts differ: %+v %v, %+v %v", a.Progress, sums[0].NotRestored, b.Progress, sums[1].NotRestored)
	}
	if !strings.Contains(files[1], "monitoring/grafana-datasources-refuse(failed)") || !strings.Contains(files[1], "grafana-datasources-refuse is invalid") {
		t.Errorf("the refused object is not recorded failed, with its error:\n%s", files[1])
	}
}

// TestOutputGoneMidRestore: an Output that fails (an API server gone)
// fails the restore; its log and results are uploaded, with the objects
// written before the failure recorded and the failure logged.
func TestOutputGoneMidRestore(t *testing.T) {
	for _, workers := range []int{1, 4} {
		t.Run(fmt.Sprint("workers=", workers), func(t *testing.T) {
			store := backupOf(t, clusterExport(t), nil)
			out := &fakeCluster{goneAt: "prometheus-config"}
			_, err := restore.Run(context.Background(), restore.Options{Name: "r1", BackupName: "b1", Store: store, Output: out, Workers: workers})
			if err == nil || !strings.Contains(err.Error(), "connection refused") {
				t.Fatalf("Run: %v, want the output's failure", err)
			}
			files := restoreFiles(t, store, "r1")
			for _, want := range []string{`msg="restore failed"`, "connection refused", "shop/orders-worker(created)"} {
				if !strings.Contains(files, want) {
					t.Errorf("uploaded files lack %q:\n%s", want, files)
				}
			}
			if strings.Contains(files, "(created)") && strings.Contains(files, "monitoring/prometheus-config(") {
				t.Errorf("the object the output failed on is recorded:\n%s", files)
			}
		})
	}
}

// existingCluster is an Output in which every object but a namespace
// exists and differs from the backup's (policy none: left, with a
// warning), as cluster.Applier answers; it counts the writes.
type existingCluster struct {
	mu                 sync.Mutex
	writes, namespaces int
}

func (e *existingCluster) Write(_ context.Context, it restore.Item) (restore.Outcome, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.writes++
	if it.Resource == "namespaces" {
		e.namespaces++
		return restore.Outcome{Action: rigging.RestoreActionCreated}, nil
	}
	return restore.Outcome{Action: rigging.RestoreActionFailed, Warnings: []error{fmt.Errorf("could not restore, %s %q already exists", it.Object.GetKind(), it.Object.GetName())}}, nil
}

func (e *existingCluster) Close() error { return nil }

// TestExistingDiffersCounted: an object that exists and differs (policy
// none) counts among the items restored, as Velero v1.18.3 counts every
// item its restoreItem got as far as trying (ItemsRestored is the size of
// its restoredItems, whatever each one's action), and is still listed as
// not restored, with its warning.
func TestExistingDiffersCounted(t *testing.T) {
	m := manager.New(manager.Options{Logger: slog.New(slog.DiscardHandler)})
	defer m.Close()
	store := backupOf(t, clusterExport(t), m)
	out := &existingCluster{}
	sum, err := restore.Run(context.Background(), restore.Options{Name: "r1", BackupName: "b1", Store: store, Output: out, Plugins: m})
	if err != nil {
		t.Fatal(err)
	}
	st := sum.Restore.Status
	if st.Progress.ItemsRestored != out.writes || st.Warnings != out.writes-out.namespaces {
		t.Errorf("items restored %d, warnings %d; want %d written, one warning per object but the namespaces", st.Progress.ItemsRestored, st.Warnings, out.writes)
	}
	differs := 0
	for _, nr := range sum.NotRestored {
		if nr.Reason == restore.ReasonExistsDiffers {
			differs += nr.Count
		}
	}
	if differs != st.Warnings {
		t.Errorf("%d listed as existing and different, want %d: %v", differs, st.Warnings, sum.NotRestored)
	}
}

// barrierCluster is a concurrent Output whose writes of resource wait
// until n of them are in flight at once, then all go through; a write that
// waits longer than patience records that they never were, and lets
// every write through.
type barrierCluster struct {
	resource string
	n        int
	patience time.Duration
	mu       sync.Mutex
	inFlight int
	release  chan struct{}
	released bool
	timedOut bool
}

func (b *barrierCluster) Write(ctx context.Context, it restore.Item) (restore.Outcome, error) {
	if it.Resource != b.resource {
		return restore.Outcome{Action: rigging.RestoreActionCreated}, nil
	}
	b.mu.Lock()
	b.inFlight++
	if b.inFlight == b.n {
		b.open()
	}
	b.mu.Unlock()
	t := time.NewTimer(b.patience)
	defer t.Stop()
	select {
	case <-b.release:
	case <-ctx.Done():
		return restore.Outcome{}, ctx.Err()
	case <-t.C:
		b.mu.Lock()
		b.timedOut = true
		b.open()
		b.mu.Unlock()
	}
	b.mu.Lock()
	b.inFlight--
	b.mu.Unlock()
	return restore.Outcome{Action: rigging.RestoreActionCreated}, nil
}

// open lets every write through, once; b.mu is held.
func (b *barrierCluster) open() {
	if !b.released {
		b.released = true
		close(b.release)
	}
}

func (b *barrierCluster) Close() error { return nil }

// TestPodsWithClaimsWrittenTogether: pods whose claims were restored in
// their own tier are written by several workers at once, although an
// action (velero.io/add-pvc-from-pod) names the claims as additional
// items: only an additional item still to write makes the tier's batch be
// written first. (Before, every such pod was written alone.)
func TestPodsWithClaimsWrittenTogether(t *testing.T) {
	m := manager.New(manager.Options{Logger: slog.New(slog.DiscardHandler)})
	defer m.Close()
	const pods = 8
	var items []*unstructured.Unstructured
	for i := range pods {
		claim := fmt.Sprintf("data-%d", i)
		items = append(items,
			&unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "PersistentVolumeClaim",
				"metadata": map[string]any{"name": claim, "namespace": "app"},
				"spec":     map[string]any{"accessModes": []any{"ReadWriteOnce"}, "resources": map[string]any{"requests": map[string]any{"storage": "1Gi"}}}}},
			&unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Pod",
				"metadata": map[string]any{"name": fmt.Sprintf("web-%d", i), "namespace": "app"},
				"spec": map[string]any{
					"containers": []any{map[string]any{"name": "web", "image": "nginx"}},
					"volumes":    []any{map[string]any{"name": "data", "persistentVolumeClaim": map[string]any{"claimName": claim}}},
				}}})
	}
	store := backupOf(t, items, m)
	out := &barrierCluster{resource: "pods", n: 4, patience: 30 * time.Second, release: make(chan struct{})}
	sum, err := restore.Run(context.Background(), restore.Options{Name: "r1", BackupName: "b1", Store: store, Output: out, Plugins: m, Workers: 4})
	if err != nil {
		t.Fatal(err)
	}
	if out.timedOut {
		t.Errorf("the pods were never written 4 at once with 4 workers")
	}
	if got := sum.Restore.Status.Progress.ItemsRestored; got != 2*pods+1 {
		t.Errorf("%d items restored, want %d", got, 2*pods+1)
	}
	if files := restoreFiles(t, store, "r1"); !strings.Contains(files, `msg="skipping item: already restored" restore=velero/r1 resource=persistentvolumeclaims`) {
		t.Errorf("the pods' claims were not named as additional items:\n%s", files)
	}
}
