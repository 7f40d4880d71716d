package faults

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/archive"
	"github.com/rigging-dev/rigging/backup"
	"github.com/rigging-dev/rigging/external"
	"github.com/rigging-dev/rigging/manager"
	"github.com/rigging-dev/rigging/providers/filesystem"
	"github.com/rigging-dev/rigging/registry"
)

// killStoreName is the filesystem ObjectStore served by the killstore
// binary of the fault plugin.
const killStoreName = "faults.rigging.dev/killstore"

// killOnRead passes every call to the store, and SIGKILLs the store's
// plugin process once, when the host has read at bytes of the body of key:
// the kill lands in the middle of that upload.
type killOnRead struct {
	rigging.ObjectStore
	key    string
	at     int64
	kill   func()
	once   sync.Once
	killed bool
}

func (k *killOnRead) PutObject(ctx context.Context, bucket, key string, body io.Reader) error {
	if key == k.key {
		body = &killingReader{r: body, left: k.at, kill: func() { k.once.Do(func() { k.kill(); k.killed = true }) }}
	}
	return k.ObjectStore.PutObject(ctx, bucket, key, body)
}

// killingReader calls kill once left bytes have been read through it.
type killingReader struct {
	r    io.Reader
	left int64
	kill func()
}

func (r *killingReader) Read(p []byte) (int, error) {
	if r.left <= 0 {
		r.kill()
	} else if int64(len(p)) > r.left {
		p = p[:r.left]
	}
	n, err := r.r.Read(p)
	r.left -= int64(n)
	return n, err
}

// backupToPluginStore backs up items into the filesystem store under root,
// served by the killstore plugin process of plugin directory dir, with the
// killme action on every item (a fresh catalog and Manager, as one CLI run
// with the store in a plugin process). wrap wraps the store the backup
// uploads through; spool is the archive.Store's Spool.
func backupToPluginStore(ctx context.Context, dir, cache, root, name string, items []*unstructured.Unstructured, spool *archive.Spool, wrap func(rigging.ObjectStore) rigging.ObjectStore) (*backup.Summary, error) {
	log := spool.Logger
	cat, err := external.Discover(ctx, external.Options{Dir: dir, CacheFile: cache, Logger: log})
	if err != nil {
		return nil, err
	}
	m := manager.New(manager.Options{Registry: registry.New(), External: cat, Logger: log})
	defer m.Close()
	objects, err := m.ObjectStore(ctx, killStoreName)
	if err != nil {
		return nil, err
	}
	if err := objects.Init(ctx, map[string]string{filesystem.KeyRoot: root, filesystem.KeyBucket: "velero"}); err != nil {
		return nil, err
	}
	store := archive.NewStore(wrap(objects), "velero", "")
	store.Spool = spool
	return backup.Run(ctx, backup.Options{Name: name, Items: items, Store: store, Plugins: m, TempDir: filepath.Dir(cache)})
}

// TestKillStoreDuringUpload SIGKILLs the plugin process serving the object
// store in the middle of the tarball's upload (at a random byte of it),
// over seeded runs of a 2 000-item backup (10 000 with -faults.full). The
// store is a plugin process, so the backup spools its objects and replays
// an upload the process's death ended: nearly every run must end complete,
// and none may leave a listed backup that is incomplete. A run that fails
// must not be listed.
func TestKillStoreDuringUpload(t *testing.T) {
	n, runs := 2000, 10
	if *full {
		n, runs = 2000, 50
	}
	items := largeItems(t, n)
	dir := pluginDir(t, "killme", "killstore")
	cache := filepath.Join(t.TempDir(), "plugins.json")
	root := t.TempDir()
	direct := openStore(t, root) // the same files, read in process to judge
	log, logs := newLogger(t)
	spool := &archive.Spool{Dir: t.TempDir(), Logger: log}
	ctx := context.Background()
	same := func(s rigging.ObjectStore) rigging.ObjectStore { return s }

	sum, err := backupToPluginStore(ctx, dir, cache, root, "baseline", items, spool, same)
	if err != nil {
		t.Fatal(err)
	}
	want := sum.Backup.Status.Progress.ItemsBackedUp
	if v, why := judge(t, direct, "baseline", nil, want); v != complete {
		t.Fatalf("baseline backup without faults: %v %s", v, why)
	}
	size := objectSize(t, direct, "baseline", archive.BackupContents)
	t.Logf("baseline: %d items, tarball %d bytes, in %v", want, size, sum.Duration)

	counts := map[verdict]int{}
	killed := 0
	for run := range runs {
		rng := rand.New(rand.NewPCG(uint64(run), 0x5702e))
		at := rng.Int64N(size)
		name := fmt.Sprintf("run-%02d", run)
		k := &killOnRead{key: direct.Layout.BackupKey(name, archive.BackupContents), at: at, kill: func() {
			for _, pid := range pidsOf(t, "killstore") {
				if syscall.Kill(pid, syscall.SIGKILL) == nil {
					killed++
				}
			}
		}}
		before := strings.Count(logs.String(), "uploading the object again")
		_, err := backupToPluginStore(ctx, dir, cache, root, name, items, spool, func(s rigging.ObjectStore) rigging.ObjectStore {
			k.ObjectStore = s
			return k
		})
		v, why := judge(t, direct, name, err, want)
		counts[v]++
		replays := strings.Count(logs.String(), "uploading the object again") - before
		t.Logf("run %2d: kill at byte %d of %d (killed %v, %d replays): %v %s", run, at, size, k.killed, replays, v, why)
		if !k.killed {
			t.Errorf("run %d: the kill was not delivered", run)
		}
		if v == violation || v == partialRecorded {
			t.Errorf("run %d: %v %s", run, v, why)
		}
	}
	t.Logf("SUMMARY: %d runs of %d items, %d SIGKILLs of the store process during the tarball upload: %d complete, %d failed and not listed, %d PartiallyFailed, %d violations",
		runs, want, killed, counts[complete], counts[failedUnlisted], counts[partialRecorded], counts[violation])
	if least := runs - runs/10; counts[complete] < least {
		t.Errorf("%d of %d runs complete; want at least %d: an upload ended by the store process dying must be made again", counts[complete], runs, least)
	}
	if n := entries(t, spool.Dir); n != 0 {
		t.Errorf("%d spool files left behind", n)
	}
}

// objectSize returns the size of one object of backup name.
func objectSize(t testing.TB, s *archive.Store, name string, f archive.BackupFile) int64 {
	t.Helper()
	rc, err := s.OpenBackupFile(context.Background(), name, f)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	n, err := io.Copy(io.Discard, rc)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func entries(t testing.TB, dir string) int {
	t.Helper()
	ents, err := filepath.Glob(filepath.Join(dir, "*"))
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}
