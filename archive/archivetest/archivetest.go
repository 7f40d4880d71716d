// Package archivetest provides object stores for tests of code that writes
// or reads backups: an in-memory rigging.ObjectStore, and a wrapper that fails
// chosen calls of another store.
package archivetest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rigging-dev/rigging"
)

// MemStore is an in-memory rigging.ObjectStore, keyed by bucket and key.
// Init accepts any config. It is safe for concurrent use.
type MemStore struct {
	mu      sync.Mutex
	objects map[string][]byte // bucket + "\x00" + key
}

// NewMemStore returns an empty MemStore.
func NewMemStore() *MemStore { return &MemStore{objects: map[string][]byte{}} }

func id(bucket, key string) string { return bucket + "\x00" + key }

// Init implements rigging.ObjectStore.
func (s *MemStore) Init(context.Context, map[string]string) error { return nil }

// PutObject implements rigging.ObjectStore: it reads body to the end and
// stores nothing when body fails.
func (s *MemStore) PutObject(_ context.Context, bucket, key string, body io.Reader) error {
	data, err := io.ReadAll(body)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.objects[id(bucket, key)] = data
	return nil
}

// ObjectExists implements rigging.ObjectStore.
func (s *MemStore) ObjectExists(_ context.Context, bucket, key string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.objects[id(bucket, key)]
	return ok, nil
}

// GetObject implements rigging.ObjectStore.
func (s *MemStore) GetObject(_ context.Context, bucket, key string) (io.ReadCloser, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	data, ok := s.objects[id(bucket, key)]
	if !ok {
		return nil, fmt.Errorf("%s: %w", key, rigging.ErrNotFound)
	}
	return io.NopCloser(bytes.NewReader(data)), nil
}

// ListCommonPrefixes implements rigging.ObjectStore.
func (s *MemStore) ListCommonPrefixes(_ context.Context, bucket, prefix, delimiter string) ([]string, error) {
	seen := map[string]bool{}
	for _, k := range s.keys(bucket) {
		rest, ok := strings.CutPrefix(k, prefix)
		if !ok {
			continue
		}
		if i := strings.Index(rest, delimiter); i >= 0 {
			seen[prefix+rest[:i+len(delimiter)]] = true
		}
	}
	out := make([]string, 0, len(seen))
	for p := range seen {
		out = append(out, p)
	}
	slices.Sort(out)
	return out, nil
}

// ListObjects implements rigging.ObjectStore.
func (s *MemStore) ListObjects(_ context.Context, bucket, prefix string) ([]string, error) {
	var out []string
	for _, k := range s.keys(bucket) {
		if strings.HasPrefix(k, prefix) {
			out = append(out, k)
		}
	}
	return out, nil
}

// DeleteObject implements rigging.ObjectStore.
func (s *MemStore) DeleteObject(_ context.Context, bucket, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.objects, id(bucket, key))
	return nil
}

// CreateSignedURL implements rigging.ObjectStore with a mem:// URL.
func (s *MemStore) CreateSignedURL(_ context.Context, bucket, key string, _ time.Duration) (string, error) {
	return "mem://" + bucket + "/" + key, nil
}

// Keys returns every key of bucket, sorted.
func (s *MemStore) Keys(bucket string) []string { return s.keys(bucket) }

// Object returns the bytes stored under key.
func (s *MemStore) Object(bucket, key string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.objects[id(bucket, key)]
	return d, ok
}

func (s *MemStore) keys(bucket string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for k := range s.objects {
		if b, key, _ := strings.Cut(k, "\x00"); b == bucket {
			out = append(out, key)
		}
	}
	slices.Sort(out)
	return out
}

// FailingStore wraps a store and fails its FailPut-th PutObject (1-based;
// 0 never fails), after reading part of the body, as a store whose disk or
// network gives up mid-upload. Every other call goes to the wrapped store.
type FailingStore struct {
	rigging.ObjectStore
	FailPut int64
	puts    atomic.Int64
}

// ErrInjected is the error FailingStore returns.
var ErrInjected = fmt.Errorf("injected failure")

// Puts returns how many PutObject calls were made.
func (f *FailingStore) Puts() int64 { return f.puts.Load() }

// PutObject implements rigging.ObjectStore.
func (f *FailingStore) PutObject(ctx context.Context, bucket, key string, body io.Reader) error {
	if n := f.puts.Add(1); n == f.FailPut {
		// Consume a little, as a real upload would before failing.
		_, _ = io.CopyN(io.Discard, body, 512)
		return fmt.Errorf("put %s: %w", key, ErrInjected)
	}
	return f.ObjectStore.PutObject(ctx, bucket, key, body)
}

// Incompressible returns a producer for archive.Store.Put that writes size
// bytes of random data (incompressible, as a gzip'd tarball is), chunk
// bytes per Write, the same bytes at every call. size is rounded down to a
// multiple of chunk.
func Incompressible(size, chunk int) func(io.Writer) error {
	b := make([]byte, chunk)
	rng := rand.NewChaCha8([32]byte{'r', 'i', 'g'})
	_, _ = rng.Read(b)
	return func(w io.Writer) error {
		for range size / chunk {
			if _, err := w.Write(b); err != nil {
				return err
			}
		}
		return nil
	}
}

var (
	_ rigging.ObjectStore = (*MemStore)(nil)
	_ rigging.ObjectStore = (*FailingStore)(nil)
)
