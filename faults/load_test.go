package faults

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/external"
	"github.com/rigging-dev/rigging/manager"
	"github.com/rigging-dev/rigging/registry"
)

// builtinEcho is an in-process BackupItemAction that returns its item.
type builtinEcho struct{}

func (builtinEcho) AppliesTo(context.Context) (rigging.ResourceSelector, error) {
	return rigging.ResourceSelector{}, nil
}

func (builtinEcho) Execute(_ context.Context, item *unstructured.Unstructured, _ *rigging.Backup) (*unstructured.Unstructured, []rigging.ResourceIdentifier, error) {
	return item, nil, nil
}

// baseline is what the process holds at rest.
type baseline struct{ goroutines, fds, children int }

func measure(t testing.TB) baseline {
	return baseline{runtime.NumGoroutine(), openFDs(t), len(children(t))}
}

// settle waits (up to 10s) for the process to return to b and fails the
// test, naming what leaked, if it does not.
func settle(t testing.TB, what string, b baseline) baseline {
	t.Helper()
	var now baseline
	ok := waitFor(10*time.Second, func() bool {
		runtime.GC()
		now = measure(t)
		return now.goroutines <= b.goroutines && now.fds <= b.fds && now.children <= b.children
	})
	if !ok {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		t.Errorf("%s: leaked: goroutines %d -> %d, open fds %d -> %d, child processes %d -> %d\n%s",
			what, b.goroutines, now.goroutines, b.fds, now.fds, b.children, now.children, buf)
	}
	return now
}

// TestLoad runs 64 goroutines each making N calls of Execute on one
// external plugin, then on a built-in, and checks every call succeeds and
// nothing leaks. N is 10 000 with -faults.full, 500 otherwise (100 with
// -race).
func TestLoad(t *testing.T) {
	const workers = 64
	calls := 500
	if raceEnabled {
		calls = 100
	}
	if *full {
		calls = 10_000
	}
	before := measure(t)
	h := newHost(t, external.Options{}, nil, "echo")
	reg := registry.New()
	registry.RegisterIn(reg, "faults.rigging.dev/builtin-echo", func(*slog.Logger) (rigging.BackupItemAction, error) { return builtinEcho{}, nil })
	bm := manager.New(manager.Options{Registry: reg, Logger: slog.New(slog.DiscardHandler)})
	defer bm.Close()

	for _, tc := range []struct {
		name string
		m    *manager.Manager
		p    string
	}{{"external (gRPC)", h.m, "faults.rigging.dev/echo"}, {"built-in (in-process)", bm, "faults.rigging.dev/builtin-echo"}} {
		a, err := tc.m.BackupItemAction(context.Background(), tc.p)
		if err != nil {
			t.Fatal(err)
		}
		var failed atomic.Int64
		var firstErr atomic.Value
		start := time.Now()
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				item := configMap("ns", fmt.Sprintf("w%d", w), 64)
				for range calls {
					if _, _, err := a.Execute(context.Background(), item, &rigging.Backup{}); err != nil {
						failed.Add(1)
						firstErr.CompareAndSwap(nil, err)
					}
				}
			})
		}
		wg.Wait()
		d := time.Since(start)
		total := workers * calls
		t.Logf("%s: %d goroutines x %d calls = %d calls in %v: %.0f calls/s, %v/call; %d failed",
			tc.name, workers, calls, total, d.Round(time.Millisecond), float64(total)/d.Seconds(), (d / time.Duration(total)).Round(time.Nanosecond), failed.Load())
		if failed.Load() > 0 {
			t.Errorf("%s: %d calls failed, first: %v", tc.name, failed.Load(), firstErr.Load())
		}
	}
	h.m.Close()
	bm.Close()
	after := settle(t, "after load", before)
	t.Logf("baseline %+v, after close %+v", before, after)
}

// TestManagerCycles opens and closes a Manager over the external catalog
// repeatedly (discovery from the cache, a process start, one call, Close)
// and asserts that goroutines, open file descriptors and child processes
// return to their baseline. 1 000 cycles with -faults.full, 100 otherwise.
func TestManagerCycles(t *testing.T) {
	cycles := 100
	if *full {
		cycles = 1000
	}
	dir := pluginDir(t, "echo")
	cache := filepath.Join(t.TempDir(), "plugins.json")
	log := slog.New(slog.DiscardHandler)
	cycle := func() {
		cat, err := external.Discover(context.Background(), external.Options{Dir: dir, CacheFile: cache, Logger: log})
		if err != nil {
			t.Fatal(err)
		}
		m := manager.New(manager.Options{Registry: registry.New(), External: cat, Logger: log})
		a, err := m.BackupItemAction(context.Background(), "faults.rigging.dev/echo")
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := a.Execute(context.Background(), configMap("ns", "c", 16), &rigging.Backup{}); err != nil {
			t.Fatal(err)
		}
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}
	}
	cycle() // warm: fills the cache, starts gRPC's and the runtime's long-lived goroutines
	before := settle(t, "warm-up", measure(t))
	start := time.Now()
	for range cycles {
		cycle()
	}
	d := time.Since(start)
	after := settle(t, fmt.Sprintf("after %d cycles", cycles), before)
	t.Logf("%d open/call/close cycles in %v (%v each); baseline %+v, after %+v", cycles, d.Round(time.Millisecond), (d / time.Duration(cycles)).Round(time.Microsecond), before, after)
}
