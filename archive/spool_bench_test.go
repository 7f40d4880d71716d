package archive_test

import (
	"context"
	"testing"

	"github.com/rigging-dev/rigging/archive"
	"github.com/rigging-dev/rigging/archive/archivetest"
	"github.com/rigging-dev/rigging/providers/filesystem"
)

// BenchmarkStorePut compares Store.Put streaming (an in-process store, the
// default) with Store.Put spooling to a temporary file first (what a store
// served by a plugin process gets, to replay an upload after a restart):
// a 32 MiB object, written 32 KiB at a time as the tarball writer does,
// into the filesystem store; the spool directory and the store share a
// disk. Recorded in docs/BENCHMARKS.md.
func BenchmarkStorePut(b *testing.B) {
	const size = 32 << 20
	write := archivetest.Incompressible(size, 32<<10)
	for _, mode := range []string{"stream", "spool"} {
		b.Run(mode, func(b *testing.B) {
			fs := filesystem.New()
			if err := fs.Init(context.Background(), map[string]string{filesystem.KeyRoot: b.TempDir()}); err != nil {
				b.Fatal(err)
			}
			defer fs.Close()
			s := archive.NewStore(fs, "bench", "")
			if mode == "spool" {
				s.Spool = &archive.Spool{Dir: b.TempDir()}
			}
			b.SetBytes(size)
			b.ReportAllocs()
			for b.Loop() {
				if err := s.Put(context.Background(), "backups/b/b.tar.gz", write); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
