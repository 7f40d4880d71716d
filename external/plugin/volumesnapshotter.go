package plugin

import (
	"context"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/external/generated"
	"github.com/rigging-dev/rigging/external/internal/wire"
)

// volumeSnapshotterServer serves VolumeSnapshotter over Velero's service.
type volumeSnapshotterServer struct {
	kindServer[rigging.VolumeSnapshotter]
}

func (s volumeSnapshotterServer) Init(ctx context.Context, req *generated.VolumeSnapshotterInitRequest) (*generated.Empty, error) {
	impl, err := s.get(req.Plugin)
	if err != nil {
		return nil, err
	}
	return &generated.Empty{}, impl.Init(ctx, req.Config)
}

func (s volumeSnapshotterServer) CreateVolumeFromSnapshot(ctx context.Context, req *generated.CreateVolumeRequest) (*generated.CreateVolumeResponse, error) {
	impl, err := s.get(req.Plugin)
	if err != nil {
		return nil, err
	}
	id, err := impl.CreateVolumeFromSnapshot(ctx, req.SnapshotID, req.VolumeType, req.VolumeAZ, wire.FromIOPS(req.Iops))
	return &generated.CreateVolumeResponse{VolumeID: id}, err
}

func (s volumeSnapshotterServer) GetVolumeInfo(ctx context.Context, req *generated.GetVolumeInfoRequest) (*generated.GetVolumeInfoResponse, error) {
	impl, err := s.get(req.Plugin)
	if err != nil {
		return nil, err
	}
	typ, iops, err := impl.GetVolumeInfo(ctx, req.VolumeID, req.VolumeAZ)
	return &generated.GetVolumeInfoResponse{VolumeType: typ, Iops: wire.IOPS(iops)}, err
}

func (s volumeSnapshotterServer) CreateSnapshot(ctx context.Context, req *generated.CreateSnapshotRequest) (*generated.CreateSnapshotResponse, error) {
	impl, err := s.get(req.Plugin)
	if err != nil {
		return nil, err
	}
	id, err := impl.CreateSnapshot(ctx, req.VolumeID, req.VolumeAZ, req.Tags)
	return &generated.CreateSnapshotResponse{SnapshotID: id}, err
}

func (s volumeSnapshotterServer) DeleteSnapshot(ctx context.Context, req *generated.DeleteSnapshotRequest) (*generated.Empty, error) {
	impl, err := s.get(req.Plugin)
	if err != nil {
		return nil, err
	}
	return &generated.Empty{}, impl.DeleteSnapshot(ctx, req.SnapshotID)
}

func (s volumeSnapshotterServer) GetVolumeID(ctx context.Context, req *generated.GetVolumeIDRequest) (*generated.GetVolumeIDResponse, error) {
	impl, pv, err := getDecoded(s.kindServer, req.Plugin, wire.DecodeItem, req.PersistentVolume)
	if err != nil {
		return nil, err
	}
	id, err := impl.GetVolumeID(ctx, pv)
	return &generated.GetVolumeIDResponse{VolumeID: id}, err
}

func (s volumeSnapshotterServer) SetVolumeID(ctx context.Context, req *generated.SetVolumeIDRequest) (*generated.SetVolumeIDResponse, error) {
	impl, pv, err := getDecoded(s.kindServer, req.Plugin, wire.DecodeItem, req.PersistentVolume)
	if err != nil {
		return nil, err
	}
	out, err := impl.SetVolumeID(ctx, pv, req.VolumeID)
	if err != nil {
		return nil, err
	}
	b, err := wire.EncodeItem(out)
	return &generated.SetVolumeIDResponse{PersistentVolume: b}, err
}
