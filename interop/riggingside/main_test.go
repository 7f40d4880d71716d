package riggingside

import (
	"context"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/rigging-dev/rigging/external"
	"github.com/rigging-dev/rigging/internal/testcluster"
	"github.com/rigging-dev/rigging/interop/internal/testbin"
	"github.com/rigging-dev/rigging/manager"
	"github.com/rigging-dev/rigging/registry"
)

func TestMain(m *testing.M) {
	// The test API server (started by the first testcluster.Get) holds
	// the cluster-export objects.
	code := testcluster.Main(m, testcluster.Options{Seed: []string{testcluster.ClusterExport}})
	testbin.Cleanup()
	os.Exit(code)
}

// binary builds (once per process) what build returns, failing the test on error.
func binary(t *testing.T, build func() (string, error)) string {
	t.Helper()
	p, err := build()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// manager discovers the plugins of binaries (copied into a fresh plugin
// directory) and returns a Manager over them with an empty static registry,
// so every plugin it hands out is external.
func newManager(t *testing.T, binaries ...string) (*manager.Manager, *external.Catalog, string) {
	t.Helper()
	dir, err := testbin.PluginDir(t.TempDir(), binaries...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cat, err := external.Discover(ctx, external.Options{Dir: dir, Strict: true, Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("discover %s: %v", dir, err)
	}
	m := manager.New(manager.Options{Registry: registry.New(), External: cat, Logger: testLogger(t)})
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("close manager: %v", err)
		}
	})
	return m, cat, dir
}

// testLogger logs warnings and errors to stderr: plugin log lines are
// re-emitted asynchronously and may outlive a test, so they cannot go to t.Log.
func testLogger(*testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}
