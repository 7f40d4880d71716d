package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rigging-dev/rigging"
)

// dirStore is an ObjectStore over a local directory: bucket b, key k is the
// file <root>/b/k. Config: root (required).
type dirStore struct {
	log  *slog.Logger
	mu   sync.RWMutex
	root string
}

func newDirStore(log *slog.Logger) (rigging.ObjectStore, error) { return &dirStore{log: log}, nil }

func (s *dirStore) Init(_ context.Context, config map[string]string) error {
	for k := range config {
		switch k {
		case "root", "bucket", "prefix", "caCert", "credentialsFile":
		default:
			return fmt.Errorf("example.com/dir: unknown config key %q (want root)", k)
		}
	}
	if config["root"] == "" {
		return errors.New("example.com/dir: config key root is required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.root != "" && s.root != config["root"] {
		return fmt.Errorf("example.com/dir: %w with root %s", rigging.ErrAlreadyInitialized, s.root)
	}
	s.root = config["root"]
	return nil
}

func (s *dirStore) file(bucket, key string) (string, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.root == "" {
		return "", rigging.ErrNotInitialized
	}
	if bucket == "" || strings.Contains(bucket, "/") || strings.Contains(key, "..") {
		return "", fmt.Errorf("example.com/dir: invalid bucket %q or key %q", bucket, key)
	}
	return filepath.Join(s.root, bucket, filepath.FromSlash(key)), nil
}

// PutObject writes to a temporary file and renames it, so a failed upload
// leaves nothing behind.
func (s *dirStore) PutObject(_ context.Context, bucket, key string, body io.Reader) error {
	p, err := s.file(bucket, key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), ".upload-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, body); err != nil {
		tmp.Close()
		return fmt.Errorf("put %s: %w", key, err)
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), p)
}

func (s *dirStore) ObjectExists(_ context.Context, bucket, key string) (bool, error) {
	p, err := s.file(bucket, key)
	if err != nil {
		return false, err
	}
	_, err = os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

func (s *dirStore) GetObject(_ context.Context, bucket, key string) (io.ReadCloser, error) {
	p, err := s.file(bucket, key)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("get %s: %w", key, rigging.ErrNotFound)
	}
	return f, err
}

func (s *dirStore) keys(bucket string) ([]string, error) {
	dir, err := s.file(bucket, "")
	if err != nil {
		return nil, err
	}
	var keys []string
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return filepath.SkipAll
		}
		if err != nil || d.IsDir() || strings.HasPrefix(d.Name(), ".upload-") {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		keys = append(keys, filepath.ToSlash(rel))
		return nil
	})
	slices.Sort(keys)
	return keys, err
}

func (s *dirStore) ListCommonPrefixes(_ context.Context, bucket, prefix, delimiter string) ([]string, error) {
	keys, err := s.keys(bucket)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, k := range keys {
		if rest, ok := strings.CutPrefix(k, prefix); ok {
			if i := strings.Index(rest, delimiter); i >= 0 && !slices.Contains(out, prefix+rest[:i+len(delimiter)]) {
				out = append(out, prefix+rest[:i+len(delimiter)])
			}
		}
	}
	return out, nil
}

func (s *dirStore) ListObjects(_ context.Context, bucket, prefix string) ([]string, error) {
	keys, err := s.keys(bucket)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(keys, func(k string) bool { return !strings.HasPrefix(k, prefix) }), nil
}

func (s *dirStore) DeleteObject(_ context.Context, bucket, key string) error {
	p, err := s.file(bucket, key)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// CreateSignedURL returns a file:// URL; a directory has no signatures.
func (s *dirStore) CreateSignedURL(_ context.Context, bucket, key string, ttl time.Duration) (string, error) {
	p, err := s.file(bucket, key)
	if err != nil {
		return "", err
	}
	s.log.Debug("signed URL requested", "key", key, "ttl", ttl)
	return "file://" + p, nil
}

var _ rigging.ObjectStore = (*dirStore)(nil)
