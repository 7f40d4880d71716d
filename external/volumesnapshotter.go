package external

import (
	"context"

	"google.golang.org/grpc"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/external/generated"
	"github.com/rigging-dev/rigging/external/internal/wire"
)

type volumeSnapshotterClient struct{ base }

func (c *volumeSnapshotterClient) Init(ctx context.Context, config map[string]string) error {
	return c.inv.callInit(ctx, func(ctx context.Context, cc grpc.ClientConnInterface) error {
		_, err := generated.NewVolumeSnapshotterClient(cc).Init(ctx, &generated.VolumeSnapshotterInitRequest{Plugin: c.name, Config: config})
		return err
	})
}

func (c *volumeSnapshotterClient) CreateVolumeFromSnapshot(ctx context.Context, snapshotID, volumeType, volumeAZ string, iops *int64) (string, error) {
	res, err := rpc(ctx, c.base, "CreateVolumeFromSnapshot "+snapshotID, false, func(ctx context.Context, cc grpc.ClientConnInterface) (*generated.CreateVolumeResponse, error) {
		return generated.NewVolumeSnapshotterClient(cc).CreateVolumeFromSnapshot(ctx, &generated.CreateVolumeRequest{Plugin: c.name, SnapshotID: snapshotID, VolumeType: volumeType, VolumeAZ: volumeAZ, Iops: wire.IOPS(iops)})
	})
	return res.GetVolumeID(), err
}

func (c *volumeSnapshotterClient) GetVolumeInfo(ctx context.Context, volumeID, volumeAZ string) (string, *int64, error) {
	res, err := rpc(ctx, c.base, "GetVolumeInfo "+volumeID, true, func(ctx context.Context, cc grpc.ClientConnInterface) (*generated.GetVolumeInfoResponse, error) {
		return generated.NewVolumeSnapshotterClient(cc).GetVolumeInfo(ctx, &generated.GetVolumeInfoRequest{Plugin: c.name, VolumeID: volumeID, VolumeAZ: volumeAZ})
	})
	if err != nil {
		return "", nil, err
	}
	return res.VolumeType, wire.FromIOPS(res.Iops), nil
}

func (c *volumeSnapshotterClient) CreateSnapshot(ctx context.Context, volumeID, volumeAZ string, tags map[string]string) (string, error) {
	res, err := rpc(ctx, c.base, "CreateSnapshot "+volumeID, false, func(ctx context.Context, cc grpc.ClientConnInterface) (*generated.CreateSnapshotResponse, error) {
		return generated.NewVolumeSnapshotterClient(cc).CreateSnapshot(ctx, &generated.CreateSnapshotRequest{Plugin: c.name, VolumeID: volumeID, VolumeAZ: volumeAZ, Tags: tags})
	})
	return res.GetSnapshotID(), err
}

func (c *volumeSnapshotterClient) DeleteSnapshot(ctx context.Context, snapshotID string) error {
	_, err := rpc(ctx, c.base, "DeleteSnapshot "+snapshotID, false, func(ctx context.Context, cc grpc.ClientConnInterface) (*generated.Empty, error) {
		return generated.NewVolumeSnapshotterClient(cc).DeleteSnapshot(ctx, &generated.DeleteSnapshotRequest{Plugin: c.name, SnapshotID: snapshotID})
	})
	return err
}

func (c *volumeSnapshotterClient) GetVolumeID(ctx context.Context, pv *unstructured.Unstructured) (string, error) {
	b, err := wire.EncodeItem(pv)
	if err != nil {
		return "", err
	}
	res, err := rpc(ctx, c.base, "GetVolumeID", true, func(ctx context.Context, cc grpc.ClientConnInterface) (*generated.GetVolumeIDResponse, error) {
		return generated.NewVolumeSnapshotterClient(cc).GetVolumeID(ctx, &generated.GetVolumeIDRequest{Plugin: c.name, PersistentVolume: b})
	})
	return res.GetVolumeID(), err
}

func (c *volumeSnapshotterClient) SetVolumeID(ctx context.Context, pv *unstructured.Unstructured, volumeID string) (*unstructured.Unstructured, error) {
	b, err := wire.EncodeItem(pv)
	if err != nil {
		return nil, err
	}
	res, err := rpc(ctx, c.base, "SetVolumeID "+volumeID, false, func(ctx context.Context, cc grpc.ClientConnInterface) (*generated.SetVolumeIDResponse, error) {
		return generated.NewVolumeSnapshotterClient(cc).SetVolumeID(ctx, &generated.SetVolumeIDRequest{Plugin: c.name, PersistentVolume: b, VolumeID: volumeID})
	})
	if err != nil {
		return nil, err
	}
	return decodeItem(res.PersistentVolume)
}

var _ rigging.VolumeSnapshotter = (*volumeSnapshotterClient)(nil)
