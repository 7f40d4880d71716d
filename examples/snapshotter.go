package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rigging-dev/rigging"
)

// fileSnapshotter is a VolumeSnapshotter whose "snapshots" are small files
// under config key root: enough to show the contract (IOPS as *int64, PV
// JSON in and out) without a cloud.
type fileSnapshotter struct {
	mu   sync.RWMutex
	root string
}

func newFileSnapshotter(*slog.Logger) (rigging.VolumeSnapshotter, error) {
	return &fileSnapshotter{}, nil
}

func (s *fileSnapshotter) Init(_ context.Context, config map[string]string) error {
	if config["root"] == "" {
		return errors.New("example.com/file-snapshots: config key root is required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.root = config["root"]
	return os.MkdirAll(s.root, 0o755)
}

func (s *fileSnapshotter) path(id string) (string, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.root == "" {
		return "", rigging.ErrNotInitialized
	}
	if id == "" || strings.ContainsAny(id, "/\\") {
		return "", fmt.Errorf("invalid ID %q", id)
	}
	return filepath.Join(s.root, id), nil
}

func (s *fileSnapshotter) CreateVolumeFromSnapshot(_ context.Context, snapshotID, volumeType, volumeAZ string, iops *int64) (string, error) {
	p, err := s.path(snapshotID)
	if err != nil {
		return "", err
	}
	src, err := os.ReadFile(p)
	if err != nil {
		return "", fmt.Errorf("snapshot %s: %w", snapshotID, rigging.ErrNotFound)
	}
	vol := "vol-from-" + snapshotID
	dst, _ := s.path(vol)
	meta := fmt.Sprintf("type=%s az=%s", volumeType, volumeAZ)
	if iops != nil {
		meta += fmt.Sprintf(" iops=%d", *iops)
	}
	return vol, os.WriteFile(dst, append(src, []byte("\n"+meta)...), 0o644)
}

func (s *fileSnapshotter) GetVolumeInfo(_ context.Context, volumeID, _ string) (string, *int64, error) {
	if _, err := s.path(volumeID); err != nil {
		return "", nil, err
	}
	return "file", nil, nil // no IOPS: nil, sent as 0 on the wire
}

func (s *fileSnapshotter) CreateSnapshot(_ context.Context, volumeID, volumeAZ string, tags map[string]string) (string, error) {
	id := "snap-" + volumeID
	p, err := s.path(id)
	if err != nil {
		return "", err
	}
	return id, os.WriteFile(p, []byte(fmt.Sprintf("volume=%s az=%s tags=%v", volumeID, volumeAZ, tags)), 0o644)
}

func (s *fileSnapshotter) DeleteSnapshot(_ context.Context, snapshotID string) error {
	p, err := s.path(snapshotID)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// GetVolumeID handles CSI volumes of driver example.com/file only.
func (s *fileSnapshotter) GetVolumeID(_ context.Context, pv *unstructured.Unstructured) (string, error) {
	driver, _, _ := unstructured.NestedString(pv.Object, "spec", "csi", "driver")
	if driver != "example.com/file" {
		return "", nil
	}
	id, _, err := unstructured.NestedString(pv.Object, "spec", "csi", "volumeHandle")
	return id, err
}

func (s *fileSnapshotter) SetVolumeID(_ context.Context, pv *unstructured.Unstructured, volumeID string) (*unstructured.Unstructured, error) {
	out := pv.DeepCopy()
	return out, unstructured.SetNestedField(out.Object, volumeID, "spec", "csi", "volumeHandle")
}

var _ rigging.VolumeSnapshotter = (*fileSnapshotter)(nil)
