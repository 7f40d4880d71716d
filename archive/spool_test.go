package archive_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/archive"
	"github.com/rigging-dev/rigging/archive/archivetest"
)

// dyingStore fails its first dies PutObject calls after reading part of the
// body, with err: by default as the external client reports a plugin
// process killed mid-upload (restarted, so a new call may succeed).
type dyingStore struct {
	*archivetest.MemStore
	dies int64
	err  error
	puts atomic.Int64
}

func (d *dyingStore) PutObject(ctx context.Context, bucket, key string, body io.Reader) error {
	if d.puts.Add(1) <= d.dies {
		_, _ = io.CopyN(io.Discard, body, 512)
		if d.err != nil {
			return d.err
		}
		return fmt.Errorf("put %s: connection reset by peer; the plugin process died: %w", key, rigging.ErrPluginUnavailable)
	}
	return d.MemStore.PutObject(ctx, bucket, key, body)
}

// TestStoreSpool: with a Spool, Put and PutBytes survive up to Replays
// deaths of the store's plugin process during the upload, each replay
// logged, and the object arrives whole; one death more, or any other error,
// fails the put with the store's error and stores nothing. Without a Spool
// the put streams and fails at the first death. No spool file is visible
// while the object is produced, nor left after any outcome.
func TestStoreSpool(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB
	other := errors.New("disk full")
	for _, tc := range []struct {
		name    string
		spool   bool
		replays int
		dies    int64
		err     error
		want    error // nil: stored whole
		puts    int64
		logged  int
	}{
		{name: "streaming, plugin dies", dies: 1, want: rigging.ErrPluginUnavailable, puts: 1},
		{name: "spool, no death", spool: true, puts: 1},
		{name: "spool, plugin dies once", spool: true, dies: 1, puts: 2, logged: 1},
		{name: "spool, dies DefaultReplays times", spool: true, dies: archive.DefaultReplays, puts: archive.DefaultReplays + 1, logged: archive.DefaultReplays},
		{name: "spool, dies once too often", spool: true, dies: archive.DefaultReplays + 1, want: rigging.ErrPluginUnavailable, puts: archive.DefaultReplays + 1, logged: archive.DefaultReplays},
		{name: "spool, Replays 1, dies twice", spool: true, replays: 1, dies: 2, want: rigging.ErrPluginUnavailable, puts: 2, logged: 1},
		{name: "spool, another error is not replayed", spool: true, dies: 1, err: other, want: other, puts: 1},
	} {
		for _, method := range []string{"Put", "PutBytes"} {
			t.Run(tc.name+"/"+method, func(t *testing.T) {
				ctx := context.Background()
				mem := archivetest.NewMemStore()
				ds := &dyingStore{MemStore: mem, dies: tc.dies, err: tc.err}
				s := archive.NewStore(ds, "bkt", "")
				dir := t.TempDir()
				var logs strings.Builder
				if tc.spool {
					s.Spool = &archive.Spool{Dir: dir, Replays: tc.replays, Logger: slog.New(slog.NewTextHandler(&logs, nil))}
				}
				var err error
				if method == "Put" {
					err = s.Put(ctx, "k", func(w io.Writer) error {
						if n := entries(t, dir); n != 0 {
							t.Errorf("%d files visible in the spool directory while the object is written", n)
						}
						for chunk := range slices.Chunk(data, 10_000) {
							if _, err := w.Write(chunk); err != nil {
								return err
							}
						}
						return nil
					})
				} else {
					err = s.PutBytes(ctx, "k", data)
				}
				got, stored := mem.Object("bkt", "k")
				switch {
				case tc.want == nil && err != nil:
					t.Fatalf("%s = %v; want success", method, err)
				case tc.want == nil && !bytes.Equal(got, data):
					t.Errorf("stored %d bytes (%v), want the %d written", len(got), stored, len(data))
				case tc.want != nil && !errors.Is(err, tc.want):
					t.Errorf("%s = %v; want an error matching %v", method, err, tc.want)
				case tc.want != nil && stored:
					t.Errorf("a failed %s stored %d bytes", method, len(got))
				case tc.want != nil && !strings.Contains(err.Error(), "bkt/k"):
					t.Errorf("error %q does not name the object", err)
				}
				if n := ds.puts.Load(); n != tc.puts {
					t.Errorf("%d PutObject calls, want %d", n, tc.puts)
				}
				if n := strings.Count(logs.String(), "uploading the object again"); n != tc.logged {
					t.Errorf("%d replays logged, want %d:\n%s", n, tc.logged, logs.String())
				}
				if n := entries(t, dir); n != 0 {
					t.Errorf("%d files left in the spool directory", n)
				}
			})
		}
	}
}

// TestStoreSpoolWriteError: a producer that fails leaves nothing stored,
// makes no upload and leaves no spool file.
func TestStoreSpoolWriteError(t *testing.T) {
	mem := archivetest.NewMemStore()
	ds := &dyingStore{MemStore: mem}
	s := archive.NewStore(ds, "bkt", "")
	dir := t.TempDir()
	s.Spool = &archive.Spool{Dir: dir}
	boom := errors.New("boom")
	err := s.Put(context.Background(), "k", func(w io.Writer) error {
		_, _ = w.Write([]byte("partial"))
		return boom
	})
	if !errors.Is(err, boom) {
		t.Errorf("Put = %v; want the producer's error", err)
	}
	if _, ok := mem.Object("bkt", "k"); ok || ds.puts.Load() != 0 {
		t.Errorf("after a failed producer: stored %v, %d uploads; want nothing", ok, ds.puts.Load())
	}
	if n := entries(t, dir); n != 0 {
		t.Errorf("%d files left in the spool directory", n)
	}
	// A spool directory that does not exist fails the put, naming it.
	s.Spool.Dir = dir + "/missing"
	if err := s.Put(context.Background(), "k", func(io.Writer) error { return nil }); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("Put with a missing spool directory = %v", err)
	}
}

func entries(t *testing.T, dir string) int {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}
