package external

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"

	"github.com/rigging-dev/rigging/external/plugin"
)

// BenchmarkObject moves 64 MiB objects between this host and a rigging
// plugin subprocess (a store that discards puts and serves zeros), over
// the data path and over Velero's 16 KiB chunked streaming (the same plugin
// with the data path switched off), with and without AutoMTLS on the
// control connection.
func BenchmarkObject(b *testing.B) {
	const size = 64 << 20
	ctx := context.Background()
	for _, mode := range []struct {
		name string
		mtls bool
		env  []string
	}{
		{"datapath", false, nil},
		{"datapath-mtls", true, nil},
		{"chunked", false, []string{plugin.DataPathEnv + "=off"}},
		{"chunked-mtls", true, []string{plugin.DataPathEnv + "=off"}},
	} {
		s, _ := dpOpen(b, Options{Logger: slog.New(slog.DiscardHandler), AutoMTLS: mode.mtls}, mode.env...)
		if err := s.PutObject(ctx, "b", "discard/warm", &zeroReader{n: 1}); err != nil {
			b.Fatal(err)
		}
		b.Run("put/"+mode.name, func(b *testing.B) {
			b.SetBytes(size)
			b.ReportAllocs()
			for b.Loop() {
				if err := s.PutObject(ctx, "b", "discard/x", &zeroReader{n: size}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("get/"+mode.name, func(b *testing.B) {
			b.SetBytes(size)
			b.ReportAllocs()
			key := fmt.Sprintf("zeros/%d", size)
			for b.Loop() {
				rc, err := s.GetObject(ctx, "b", key)
				if err != nil {
					b.Fatal(err)
				}
				n, err := io.Copy(io.Discard, rc)
				rc.Close()
				if err != nil || n != size {
					b.Fatalf("%d bytes, %v", n, err)
				}
			}
		})
	}
}
