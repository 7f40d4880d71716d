package external

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/external/plugin"
	"github.com/rigging-dev/rigging/registry"
)

// The data path tests run this test binary as their plugin (dpPluginEnv=1
// with go-plugin's cookie): it serves dpStore, an object store steered by
// key, before any test (or TestMain) runs.
const (
	dpPluginEnv = "RIGGING_TEST_DATAPATH_PLUGIN"
	dpStoreName = "test.rigging.dev/dp"
)

func init() {
	if os.Getenv(dpPluginEnv) != "1" || os.Getenv(plugin.Handshake.MagicCookieKey) != plugin.Handshake.MagicCookieValue {
		return
	}
	r := registry.New()
	registry.RegisterIn(r, dpStoreName, func(*slog.Logger) (rigging.ObjectStore, error) { return &dpStore{objs: map[string][]byte{}}, nil })
	plugin.Serve(plugin.ServeOptions{Registry: r})
	os.Exit(0)
}

// dpPluginDir returns a plugin directory whose one binary is a script
// running this test binary as the dpStore plugin, with env added.
func dpPluginDir(t testing.TB, env ...string) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	script := "#!/bin/sh\n" + dpPluginEnv + "=1 " + strings.Join(env, " ") + " exec '" + self + "' \"$@\"\n"
	if err := os.WriteFile(filepath.Join(dir, "dpplugin"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// pattern is the content of every generated object: byte i of an object
// is pattern(i), so a misplaced or lost frame shows.
func pattern(i int64) byte { return byte(i*7 + i>>12) }

type patternReader struct{ off, size int64 }

func (r *patternReader) Read(p []byte) (int, error) {
	if r.off >= r.size {
		return 0, io.EOF
	}
	n := int(min(int64(len(p)), r.size-r.off))
	for i := range n {
		p[i] = pattern(r.off + int64(i))
	}
	r.off += int64(n)
	return n, nil
}

// dpStore keeps objects in memory. Keys steer it:
//
//	put "discard/..."      reads the body and keeps nothing
//	put "fail/N/..."       reads N bytes, then fails ("disk full")
//	put "careless/..."     ignores read errors and reports success
//	put "crash/N/..."      reads N bytes, then the process exits
//	put "block/..."        reads one byte, then waits for its context
//	put "early/..."        returns success without reading
//	get "size/N"           N pattern bytes
//	get "zeros/N"          N zero bytes (cheap to produce: benchmarks)
//	get "fail/N"           N pattern bytes, then a read error ("disk read error")
//	get "crash/N"          N pattern bytes, then the process exits
//	get "block/N"          N pattern bytes, then waits for its context
//	get anything else      the stored object, or rigging.ErrNotFound
type dpStore struct {
	mu   sync.Mutex
	objs map[string][]byte
}

func (s *dpStore) Init(context.Context, map[string]string) error { return nil }

func steerN(key string) (string, int64) {
	parts := strings.SplitN(key, "/", 3)
	if len(parts) < 2 {
		return parts[0], 0
	}
	n, _ := strconv.ParseInt(parts[1], 10, 64)
	return parts[0], n
}

func (s *dpStore) PutObject(ctx context.Context, _, key string, body io.Reader) error {
	mode, n := steerN(key)
	switch mode {
	case "discard":
		_, err := io.Copy(io.Discard, body)
		return err
	case "fail":
		if _, err := io.CopyN(io.Discard, body, n); err != nil {
			return err
		}
		return plugin.WithStack(errors.New("disk full"))
	case "careless":
		b, _ := io.ReadAll(body)
		s.store(key, b)
		return nil
	case "crash":
		io.CopyN(io.Discard, body, n)
		os.Exit(3)
	case "block":
		io.ReadFull(body, make([]byte, 1))
		<-ctx.Done()
		return ctx.Err()
	case "early":
		return nil
	}
	b, err := io.ReadAll(body)
	if err != nil {
		return err
	}
	s.store(key, b)
	return nil
}

func (s *dpStore) store(key string, b []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.objs[key] = b
}

func (s *dpStore) ObjectExists(_ context.Context, _, key string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.objs[key]
	return ok, nil
}

// steeredReader produces n pattern bytes, then does what its mode says.
type steeredReader struct {
	patternReader
	mode string
	ctx  context.Context
}

func (r *steeredReader) Read(p []byte) (int, error) {
	n, err := r.patternReader.Read(p)
	if err != io.EOF {
		return n, err
	}
	switch r.mode {
	case "fail":
		return 0, errors.New("disk read error")
	case "crash":
		os.Exit(3)
	case "block":
		<-r.ctx.Done()
		return 0, r.ctx.Err()
	}
	return 0, io.EOF
}

func (s *dpStore) GetObject(ctx context.Context, _, key string) (io.ReadCloser, error) {
	mode, n := steerN(key)
	switch mode {
	case "zeros":
		return io.NopCloser(&zeroReader{n: n}), nil
	case "size", "fail", "crash", "block":
		return io.NopCloser(&steeredReader{patternReader: patternReader{size: n}, mode: mode, ctx: ctx}), nil
	}
	s.mu.Lock()
	b, ok := s.objs[key]
	s.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("get %s: %w", key, rigging.ErrNotFound)
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

func (s *dpStore) ListCommonPrefixes(context.Context, string, string, string) ([]string, error) {
	return nil, nil
}
func (s *dpStore) ListObjects(context.Context, string, string) ([]string, error) { return nil, nil }
func (s *dpStore) DeleteObject(context.Context, string, string) error            { return nil }
func (s *dpStore) CreateSignedURL(context.Context, string, string, time.Duration) (string, error) {
	return "", nil
}

// zeroReader produces n zero bytes at the cost of a copy.
type zeroReader struct{ n int64 }

var zeroBuf = make([]byte, 1<<20)

func (z *zeroReader) Read(p []byte) (int, error) {
	if z.n == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(int64(len(p)), z.n)], zeroBuf)
	z.n -= int64(n)
	return n, nil
}
