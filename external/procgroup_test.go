package external

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/external/internal/testplugin"
	"github.com/rigging-dev/rigging/internal/proctest"
)

// TestProcessGroupKilledAtEveryStop: a plugin whose descendants keep its
// stdout and stderr open, and ignore SIGTERM, stops promptly at a probe
// timeout, a cancelled discovery, a call deadline and Close, and none of
// its process group survives. Before plugins had process groups, every
// case hung until the descendant exited (an hour).
func TestProcessGroupKilledAtEveryStop(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("process groups are killed as a whole on Linux only")
	}
	const probe = 500 * time.Millisecond
	// Bound on each stop: a probe timeout or StopGrace, plus pipeGrace,
	// plus slack for a loaded machine; far below the descendants' hour.
	const prompt = probe + pipeGrace + 8*time.Second
	scripts := map[string]string{
		// The shell forks sleep, which keeps the pipes open.
		"sleeping shell": "#!/bin/sh\necho $$ > %[1]s\nsleep 3600\n",
		// A handshake naming a socket nobody serves, then the same.
		"fake handshake": "#!/bin/sh\necho $$ > %[1]s\necho '1|2|unix|%[2]s|grpc|'\nsleep 3600\n",
	}
	for name, script := range scripts {
		t.Run("probe timeout, "+name, func(t *testing.T) {
			work := t.TempDir()
			pidFile := filepath.Join(work, "pid")
			dir := t.TempDir()
			os.Chmod(dir, 0o755)
			os.WriteFile(filepath.Join(dir, "plugin"), fmt.Appendf(nil, script, pidFile, filepath.Join(work, "nobody.sock")), 0o755)
			start := time.Now()
			c := discover(t, Options{Dir: dir, ProbeTimeout: probe})
			if d := time.Since(start); d > prompt {
				t.Errorf("discovery took %s with a %s probe timeout", d, probe)
			}
			if len(c.Problems()) != 1 {
				t.Errorf("problems = %v, want the plugin", c.Problems())
			}
			proctest.GroupGone(t, proctest.ReadPID(t, pidFile))
		})
	}
	t.Run("probe timeout, no handshake, child ignores SIGTERM", func(t *testing.T) {
		pidFile := filepath.Join(t.TempDir(), "child")
		t.Setenv("RIGGING_TESTPLUGIN_CHILD", pidFile)
		t.Setenv("RIGGING_TESTPLUGIN_HANG", "1")
		start := time.Now()
		c := discover(t, Options{Dir: pluginDir(t, nil), ProbeTimeout: probe})
		if d := time.Since(start); d > prompt || len(c.Problems()) != 1 {
			t.Errorf("discovery took %s (probe timeout %s), problems %v", d, probe, c.Problems())
		}
		// The child ignores SIGTERM: only the group's SIGKILL ends it.
		proctest.Gone(t, proctest.ReadPID(t, pidFile))
	})
	t.Run("discovery cancelled", func(t *testing.T) {
		pidFile := filepath.Join(t.TempDir(), "child")
		t.Setenv("RIGGING_TESTPLUGIN_CHILD", pidFile)
		t.Setenv("RIGGING_TESTPLUGIN_HANG", "1")
		ctx, cancel := context.WithCancel(context.Background())
		type result struct {
			c   *Catalog
			err error
		}
		done := make(chan result, 1)
		dir := pluginDir(t, nil)
		go func() {
			c, err := Discover(ctx, Options{Dir: dir, Logger: testLogger(t)})
			done <- result{c, err}
		}()
		g := proctest.Group(proctest.ReadPID(t, pidFile))
		start := time.Now()
		cancel()
		r := <-done
		if r.c != nil {
			r.c.Close()
		}
		if d := time.Since(start); d > pipeGrace+8*time.Second || !errors.Is(r.err, context.Canceled) {
			t.Errorf("cancelled discovery returned after %s: %v, want context.Canceled", d, r.err)
		}
		proctest.GroupGone(t, g)
	})

	// Started plugins: the child is forked before the plugin serves.
	started := func(t *testing.T) (*Catalog, rigging.ItemBlockAction, int) {
		pidFile := filepath.Join(t.TempDir(), "child")
		t.Setenv("RIGGING_TESTPLUGIN_CHILD", pidFile)
		c := discover(t, Options{Dir: pluginDir(t, nil), StopGrace: 500 * time.Millisecond})
		a := open[rigging.ItemBlockAction](t, c, rigging.KindItemBlockAction, testplugin.IBA)
		os.Remove(pidFile) // written by the probe's process
		if _, err := a.GetRelatedItems(context.Background(), pod("p", 0), backup()); err != nil {
			t.Fatal(err)
		}
		return c, a, proctest.Group(proctest.ReadPID(t, pidFile))
	}
	t.Run("call deadline", func(t *testing.T) {
		_, a, g := started(t)
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		if _, err := a.GetRelatedItems(ctx, pod("sleep", 0), backup()); err == nil {
			t.Fatal("a call past its deadline succeeded")
		}
		if d := time.Since(start); d > prompt {
			t.Errorf("the call returned %s after a 300ms deadline", d)
		}
		proctest.GroupGone(t, g)
	})
	t.Run("Close", func(t *testing.T) {
		c, _, g := started(t)
		start := time.Now()
		if err := c.Close(); err != nil {
			t.Error(err)
		}
		if d := time.Since(start); d > prompt {
			t.Errorf("Close took %s", d)
		}
		proctest.GroupGone(t, g)
	})
}
