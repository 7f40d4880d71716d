package rigginghost

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/external"
	"github.com/rigging-dev/rigging/interop/internal/riggingsdk"
	"github.com/rigging-dev/rigging/interop/internal/spec"
)

// messages records the messages of the log records it handles.
type messages struct {
	mu   sync.Mutex
	msgs []string
}

func (h *messages) Enabled(context.Context, slog.Level) bool { return true }
func (h *messages) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.msgs = append(h.msgs, r.Message)
	return nil
}
func (h *messages) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *messages) WithGroup(string) slog.Handler      { return h }

func (h *messages) has(prefix string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, m := range h.msgs {
		if strings.HasPrefix(m, prefix) {
			return true
		}
	}
	return false
}

// TestObjectStreamPaths: rigging's host negotiates its data path with a
// plugin built on rigging's SDK, and falls back to Velero's chunked
// streaming with a plugin built on Velero's framework (which answers
// Unimplemented); bodies of every size arrive intact either way.
func TestObjectStreamPaths(t *testing.T) {
	const (
		dataPath = "object bodies use the plugin's data socket"
		chunks   = "plugin has no data path"
	)
	tests := []struct {
		name, pkg, store string
		want, never      string
	}{
		{"velero framework plugin", "../veleroplugin", "interop.rigging.dev/store", chunks, dataPath},
		{"rigging SDK plugin", "../cmd/rigging-test-plugin", riggingsdk.Name(spec.ObjectStore), dataPath, chunks},
	}
	ctx := context.Background()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			build(t, dir, "plugin", tt.pkg)
			log := &messages{}
			cat, err := external.Discover(ctx, external.Options{Dir: dir, Logger: slog.New(log), Strict: true})
			if err != nil {
				t.Fatal(err)
			}
			defer cat.Close()
			v, err := cat.Open(ctx, rigging.KindObjectStore, rigging.Name(tt.store))
			if err != nil {
				t.Fatal(err)
			}
			s := v.(rigging.ObjectStore)
			if err := s.Init(ctx, map[string]string{"bucket": "bk"}); err != nil {
				t.Fatal(err)
			}
			for _, size := range []int{0, 1, 1<<20 + 1, 8 << 20} {
				body := make([]byte, size)
				for i := range body {
					body[i] = byte(i*7 + i>>12)
				}
				key := fmt.Sprintf("backups/b/%d", size)
				if err := s.PutObject(ctx, "bk", key, bytes.NewReader(body)); err != nil {
					t.Fatalf("put %d bytes: %v", size, err)
				}
				rc, err := s.GetObject(ctx, "bk", key)
				if err != nil {
					t.Fatalf("get %d bytes: %v", size, err)
				}
				got, err := io.ReadAll(rc)
				rc.Close()
				if err != nil || !bytes.Equal(got, body) {
					t.Errorf("get %d bytes: %d bytes back, %v", size, len(got), err)
				}
			}
			if !log.has(tt.want) || log.has(tt.never) {
				t.Errorf("host logs %q, want a message starting %q and none starting %q", log.msgs, tt.want, tt.never)
			}
		})
	}
}
