package faults

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/rigging-dev/rigging/archive"
	"github.com/rigging-dev/rigging/archive/archivetest"
	"github.com/rigging-dev/rigging/external"
	"github.com/rigging-dev/rigging/manager"
	"github.com/rigging-dev/rigging/providers/filesystem"
	"github.com/rigging-dev/rigging/registry"
)

// BenchmarkPluginStorePut is archive's BenchmarkStorePut with the
// filesystem store served by a plugin process (the killstore binary): a
// 32 MiB object put streaming, and put spooled to a temporary file first
// (what rigging does with such a store, to replay an upload after a
// restart). Recorded in docs/BENCHMARKS.md.
func BenchmarkPluginStorePut(b *testing.B) {
	const size = 32 << 20
	write := archivetest.Incompressible(size, 32<<10)
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	cat, err := external.Discover(ctx, external.Options{Dir: pluginDir(b, "killstore"), CacheFile: filepath.Join(b.TempDir(), "plugins.json"), Logger: log})
	if err != nil {
		b.Fatal(err)
	}
	m := manager.New(manager.Options{Registry: registry.New(), External: cat, Logger: log})
	defer m.Close()
	objects, err := m.ObjectStore(ctx, killStoreName)
	if err != nil {
		b.Fatal(err)
	}
	if err := objects.Init(ctx, map[string]string{filesystem.KeyRoot: b.TempDir()}); err != nil {
		b.Fatal(err)
	}
	for _, mode := range []string{"stream", "spool"} {
		b.Run(mode, func(b *testing.B) {
			s := archive.NewStore(objects, "bench", "")
			if mode == "spool" {
				s.Spool = &archive.Spool{Dir: b.TempDir(), Logger: log}
			}
			b.SetBytes(size)
			for b.Loop() {
				if err := s.Put(ctx, "backups/b/b.tar.gz", write); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
