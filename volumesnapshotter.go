package rigging

import (
	"context"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// VolumeSnapshotter takes and restores snapshots of persistent volumes:
// Velero's VolumeSnapshotter (v1) with a context first (velero-protocol.md
// §2.4). A host creates one instance per snapshot location and calls Init once
// before anything else. Implementations must be safe for concurrent use once
// Init has returned.
//
// IOPS are a *int64: nil means unset (it travels as 0 on the wire, and 0 from
// the wire becomes nil).
type VolumeSnapshotter interface {
	// Init configures the snapshotter from the snapshot location's config.
	Init(ctx context.Context, config map[string]string) error
	// CreateVolumeFromSnapshot creates a volume from snapshotID and returns
	// its ID.
	CreateVolumeFromSnapshot(ctx context.Context, snapshotID, volumeType, volumeAZ string, iops *int64) (volumeID string, err error)
	// GetVolumeInfo returns the type and IOPS (nil when unset) of a volume.
	GetVolumeInfo(ctx context.Context, volumeID, volumeAZ string) (volumeType string, iops *int64, err error)
	// CreateSnapshot snapshots a volume, tagging the snapshot, and returns the
	// snapshot's ID.
	CreateSnapshot(ctx context.Context, volumeID, volumeAZ string, tags map[string]string) (snapshotID string, err error)
	// DeleteSnapshot removes a snapshot. A snapshot that no longer exists is
	// not an error.
	DeleteSnapshot(ctx context.Context, snapshotID string) error
	// GetVolumeID returns the provider's volume ID of a PersistentVolume, or
	// "" (and no error) when the PV is not one this snapshotter handles.
	GetVolumeID(ctx context.Context, pv *unstructured.Unstructured) (string, error)
	// SetVolumeID returns a copy of pv pointing at volumeID. pv is not
	// modified.
	SetVolumeID(ctx context.Context, pv *unstructured.Unstructured, volumeID string) (*unstructured.Unstructured, error)
}
