package bench_test

import (
	"context"
	"testing"

	"github.com/rigging-dev/rigging/bench"
)

// BenchmarkExecute runs BackupItemAction Execute on the fixtures through
// every per-call path: direct, Manager in-process, Manager over in-memory
// gRPC, Manager to a plugin subprocess (this test binary), and the gRPC
// and unix-socket floors (this test binary again).
//
//	go test -run '^$' -bench Execute -benchmem ./bench
func BenchmarkExecute(b *testing.B) {
	calls, closeAll, err := bench.Calls(context.Background(), bench.Config{
		PluginBinary: self(b), FloorCommand: bench.FloorCommand(self(b)),
	})
	if err != nil {
		b.Fatal(err)
	}
	defer closeAll()
	for _, c := range calls {
		b.Run(c.Name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := c.Do(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
