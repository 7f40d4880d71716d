package faults

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/archive"
	"github.com/rigging-dev/rigging/backup"
	"github.com/rigging-dev/rigging/external"
	"github.com/rigging-dev/rigging/internal/proctest"
	"github.com/rigging-dev/rigging/manager"
	"github.com/rigging-dev/rigging/manifest"
	"github.com/rigging-dev/rigging/providers/filesystem"
	"github.com/rigging-dev/rigging/registry"
)

// largeItems generates n objects with testdata/manifests/gen-large.sh and
// loads them.
func largeItems(t testing.TB, n int) []*unstructured.Unstructured {
	t.Helper()
	dir := t.TempDir()
	out, err := exec.Command("bash", "../testdata/manifests/gen-large.sh", "-n", strconv.Itoa(n), "-s", "8", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("gen-large.sh: %v\n%s", err, out)
	}
	items, err := manifest.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return items
}

// openStore opens a filesystem location rooted at root.
func openStore(t testing.TB, root string) *archive.Store {
	t.Helper()
	fs := filesystem.New()
	if err := fs.Init(context.Background(), map[string]string{filesystem.KeyRoot: root}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fs.Close() })
	return archive.NewStore(fs, "velero", "")
}

// backupWith runs a backup of items through the killme plugin of the
// plugin directory dir (a fresh catalog and Manager, as one CLI run).
func backupWith(ctx context.Context, dir, cache string, store *archive.Store, name string, items []*unstructured.Unstructured, progress func(backup.Progress)) (*backup.Summary, error) {
	log := slog.New(slog.DiscardHandler)
	cat, err := external.Discover(ctx, external.Options{Dir: dir, CacheFile: cache, Logger: log})
	if err != nil {
		return nil, err
	}
	m := manager.New(manager.Options{Registry: registry.New(), External: cat, Logger: log})
	defer m.Close()
	return backup.Run(ctx, backup.Options{Name: name, Items: items, Store: store, Plugins: m, Progress: progress, TempDir: filepath.Dir(cache)})
}

// verdict classifies the state a backup run left in the location.
type verdict int

const (
	complete        verdict = iota // listed, Completed, every item present and processed by the plugin
	failedUnlisted                 // Run failed and the location does not list the backup
	partialRecorded                // listed PartiallyFailed, as many errors recorded as items missing
	violation                      // anything else: a listed backup that lies
)

func (v verdict) String() string {
	return [...]string{"complete", "failed and not listed", "PartiallyFailed with the missing items recorded as errors", "VIOLATION"}[v]
}

// judge inspects backup name after a run that returned runErr.
func judge(t testing.TB, store *archive.Store, name string, runErr error, want int) (verdict, string) {
	t.Helper()
	ctx := context.Background()
	listed, err := store.Backups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var entry *archive.Listed
	for i := range listed {
		if listed[i].Name == name {
			entry = &listed[i]
		}
	}
	if runErr != nil {
		if entry != nil {
			return violation, fmt.Sprintf("run failed (%v) but the backup is listed", runErr)
		}
		return failedUnlisted, runErr.Error()
	}
	if entry == nil || entry.Err != nil {
		return violation, "run succeeded but the backup is not listed validly"
	}
	c, err := store.ReadContents(ctx, name, archive.Limits{})
	if err != nil {
		return violation, fmt.Sprintf("listed backup unreadable: %v", err)
	}
	processed := 0
	for _, it := range c.All() {
		var obj map[string]any
		if err := json.Unmarshal(it.Data, &obj); err != nil {
			return violation, fmt.Sprintf("item %s/%s is corrupt: %v", it.Namespace, it.Name, err)
		}
		u := unstructured.Unstructured{Object: obj}
		if u.GetAnnotations()["faults.rigging.dev/seen-by"] == "killme" {
			processed++
		}
	}
	b := entry.Backup
	missing := want - c.Len()
	unprocessed := c.Len() - processed
	switch {
	case b.Status.Phase == rigging.BackupPhaseCompleted && missing == 0 && unprocessed == 0:
		return complete, ""
	case b.Status.Phase == rigging.BackupPhasePartiallyFailed && missing+unprocessed > 0 && b.Status.Errors >= missing+unprocessed:
		return partialRecorded, fmt.Sprintf("%d items missing, %d unprocessed, %d errors recorded", missing, unprocessed, b.Status.Errors)
	}
	return violation, fmt.Sprintf("phase %s with %d of %d items (%d missing, %d not processed by the plugin), %d errors recorded",
		b.Status.Phase, c.Len(), want, missing, unprocessed, b.Status.Errors)
}

// TestKillPluginDuringBackup SIGKILLs the plugin process at a random point
// of a backup (a random item, plus a random delay of up to 2 ms so that the
// kill lands between calls as well as inside them), over 50 seeded runs,
// and classifies every outcome: a complete backup, a failed backup that is
// not listed (what the reliability issue promises), or a PartiallyFailed
// one that records its missing items (honest, but still a failure of the
// promise). A listed backup that claims more than it holds is a violation.
// 10 000 items per run with -faults.full, 400 otherwise.
func TestKillPluginDuringBackup(t *testing.T) {
	n, runs := 400, 50
	if *full {
		n = 10_000
	}
	items := largeItems(t, n)
	dir := pluginDir(t, "killme")
	cache := filepath.Join(t.TempDir(), "plugins.json")
	store := openStore(t, t.TempDir())
	ctx := context.Background()

	sum, err := backupWith(ctx, dir, cache, store, "baseline", items, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := int(sum.Backup.Status.Progress.ItemsBackedUp)
	if v, why := judge(t, store, "baseline", nil, want); v != complete {
		t.Fatalf("baseline backup without faults: %v %s", v, why)
	}
	t.Logf("baseline: %d items in %v", want, sum.Duration.Round(time.Millisecond))

	counts := map[verdict]int{}
	killed := 0
	for run := range runs {
		rng := rand.New(rand.NewPCG(uint64(run), 0x5eed))
		at := rng.IntN(want)
		delay := time.Duration(rng.IntN(2000)) * time.Microsecond
		var once sync.Once
		var hit sync.WaitGroup
		name := fmt.Sprintf("run-%02d", run)
		progress := func(p backup.Progress) {
			if p.ItemsBackedUp < at {
				return
			}
			once.Do(func() {
				hit.Go(func() {
					time.Sleep(delay) // the random injection point, not synchronisation
					for _, pid := range pidsOf(t, "killme") {
						if syscall.Kill(pid, syscall.SIGKILL) == nil {
							killed++
						}
					}
				})
			})
		}
		sum, err := backupWith(ctx, dir, cache, store, name, items, progress)
		hit.Wait()
		v, why := judge(t, store, name, err, want)
		if v == partialRecorded {
			why += ": " + firstError(sum.Results.Errors)
		}
		counts[v]++
		t.Logf("run %2d: kill after item %d (+%v): %v %s", run, at, delay, v, why)
		if v == violation {
			t.Errorf("run %d: %s", run, why)
		}
	}
	t.Logf("SUMMARY: %d runs of %d items, %d SIGKILLs delivered: %d complete, %d failed and not listed, %d PartiallyFailed with missing items recorded, %d violations",
		runs, want, killed, counts[complete], counts[failedUnlisted], counts[partialRecorded], counts[violation])
	// The promise: complete (after restart and retry) or failed and
	// not listed. A PartiallyFailed backup is honest about what it lacks but
	// is listed with items missing: /work/notes/BUGS.md item 2.
	if counts[partialRecorded] > 0 {
		t.Errorf("%d of %d runs ended with a listed PartiallyFailed backup missing the item in flight when the plugin died; want a retry after restart (complete) or a failed, unlisted backup",
			counts[partialRecorded], runs)
	}
}

const hostHelperEnv = "RIGGING_FAULTS_HOST_DIR"

// hostHelper is the host process TestHostKilled kills: it backs up the
// items of dir/items through dir/plugins into dir/store, and after 50 items
// prints the plugin's PID and stops there, mid-backup, until killed.
func hostHelper(dir string) {
	t := &helperTB{}
	items, err := manifest.Load(filepath.Join(dir, "items"))
	if err != nil {
		panic(err)
	}
	store := openStore(t, filepath.Join(dir, "store"))
	var once sync.Once
	_, err = backupWith(context.Background(), filepath.Join(dir, "plugins"), filepath.Join(dir, "cache.json"), store, "interrupted", items, func(p backup.Progress) {
		if p.ItemsBackedUp < 50 {
			return
		}
		once.Do(func() {
			fmt.Printf("PLUGIN %v\n", pidsOf(t, "killme"))
			select {} // mid-backup: the tarball is half uploaded, metadata not written
		})
	})
	fmt.Println("backup ended:", err)
	os.Exit(1)
}

// helperTB is the testing.TB the helper process gives the shared helpers.
type helperTB struct{ testing.TB }

func (*helperTB) Helper()                   {}
func (*helperTB) Fatal(args ...any)         { panic(fmt.Sprint(args...)) }
func (*helperTB) Fatalf(f string, a ...any) { panic(fmt.Sprintf(f, a...)) }
func (*helperTB) Cleanup(func())            {}

// TestHostKilled SIGKILLs a host process in the middle of a backup. Its
// plugin process must die with it (PR_SET_PDEATHSIG), the interrupted
// backup must not be listed, and the next run must start clean: a backup of
// the same name succeeds and is complete.
func TestHostKilled(t *testing.T) {
	dir := t.TempDir()
	items := largeItems(t, 400)
	for _, sub := range []string{"items", "plugins", "store"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	data, err := json.Marshal(map[string]any{"apiVersion": "v1", "kind": "List", "items": itemsObjects(items)})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "items", "all.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	installAs(t, filepath.Join(dir, "plugins"), "killme")

	host := exec.Command(os.Args[0], "-test.run=^$")
	// The SIGKILLed host cannot remove its plugin socket directory: keep
	// it in a TMPDIR the test removes.
	host.Env = append(os.Environ(), hostHelperEnv+"="+dir, "TMPDIR="+proctest.ShortTempDir(t))
	host.Stderr = os.Stderr
	out, err := host.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := host.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "PLUGIN [") {
		host.Process.Kill()
		host.Wait()
		t.Fatalf("host helper said %q, %v", line, err)
	}
	var pids []int
	for _, f := range strings.Fields(strings.Trim(strings.TrimPrefix(strings.TrimSpace(line), "PLUGIN "), "[]")) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			t.Fatal(err)
		}
		pids = append(pids, pid)
	}
	if len(pids) != 1 {
		t.Fatalf("host helper's plugin processes: %v", pids)
	}
	if err := host.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_ = host.Wait()
	if !waitFor(5*time.Second, func() bool { return !alive(pids[0]) }) {
		syscall.Kill(pids[0], syscall.SIGKILL)
		t.Fatalf("plugin process %d survived its host by 5s", pids[0])
	}
	t.Logf("plugin process %d gone %v after its host was SIGKILLed", pids[0], time.Since(start).Round(time.Millisecond))

	store := openStore(t, filepath.Join(dir, "store"))
	listed, err := store.Backups(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(listed) != 0 {
		t.Fatalf("interrupted backup listed: %+v", listed)
	}
	var leftovers []string
	_ = filepath.WalkDir(filepath.Join(dir, "store"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			leftovers = append(leftovers, strings.TrimPrefix(p, dir))
		}
		return nil
	})
	t.Logf("left in the store by the interrupted run: %q", leftovers)

	sum, err := backupWith(context.Background(), filepath.Join(dir, "plugins"), filepath.Join(dir, "cache.json"), store, "interrupted", items, nil)
	if err != nil {
		t.Fatalf("the next run, same backup name: %v", err)
	}
	if v, why := judge(t, store, "interrupted", nil, int(sum.Backup.Status.Progress.ItemsBackedUp)); v != complete {
		t.Fatalf("the next run: %v %s", v, why)
	}
}

func itemsObjects(items []*unstructured.Unstructured) []any {
	out := make([]any, len(items))
	for i, u := range items {
		out[i] = u.Object
	}
	return out
}

// firstError returns one recorded error message, for the log.
func firstError(r archive.Result) string {
	all := append(append([]string{}, r.Velero...), r.Cluster...)
	for _, msgs := range r.Namespaces {
		all = append(all, msgs...)
	}
	if len(all) == 0 {
		return ""
	}
	return all[0]
}
