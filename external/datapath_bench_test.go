package external

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/external/plugin"
)

// BenchmarkObject moves 64 MiB objects between this host and a rigging
// plugin subprocess (a store that discards puts and serves zeros), over
// the data path and over Velero's 16 KiB chunked streaming (the same plugin
// with the data path switched off), with and without AutoMTLS on the
// control connection.
func BenchmarkObject(b *testing.B) {
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
		benchPutGet(b, s, mode.name, 64<<20)
	}
}

// BenchmarkSmallObject measures the per-transfer cost with 1 KiB objects
// on both paths.
func BenchmarkSmallObject(b *testing.B) {
	for _, mode := range []struct {
		name string
		env  []string
	}{{"datapath", nil}, {"chunked", []string{plugin.DataPathEnv + "=off"}}} {
		s, _ := dpOpen(b, Options{Logger: slog.New(slog.DiscardHandler)}, mode.env...)
		benchPutGet(b, s, mode.name, 1<<10)
	}
}

// benchPutGet runs put/NAME and get/NAME, size bytes per operation.
func benchPutGet(b *testing.B, s rigging.ObjectStore, name string, size int64) {
	ctx := context.Background()
	if err := s.PutObject(ctx, "b", "discard/warm", &zeroReader{n: 1}); err != nil { // start the process
		b.Fatal(err)
	}
	b.Run("put/"+name, func(b *testing.B) {
		b.SetBytes(size)
		b.ReportAllocs()
		for b.Loop() {
			if err := s.PutObject(ctx, "b", "discard/x", &zeroReader{n: size}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("get/"+name, func(b *testing.B) {
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
