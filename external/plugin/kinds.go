package plugin

import (
	"context"
	"errors"
	"io"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/emptypb"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/external/generated"
	biav2 "github.com/rigging-dev/rigging/external/generated/backupitemaction/v2"
	ibav1 "github.com/rigging-dev/rigging/external/generated/itemblockaction/v1"
	riav2 "github.com/rigging-dev/rigging/external/generated/restoreitemaction/v2"
	"github.com/rigging-dev/rigging/external/internal/wire"
)

// The per-kind servers below only map messages to interface calls; routing,
// lazy creation, errors and panics are handled once, in mux and the
// interceptors.

type objectStoreServer struct{ m *mux }

func (s objectStoreServer) get(name string) (rigging.ObjectStore, error) {
	return handlerFor[rigging.ObjectStore](s.m, rigging.KindObjectStore, name)
}

func (s objectStoreServer) Init(ctx context.Context, req *generated.ObjectStoreInitRequest) (*generated.Empty, error) {
	impl, err := s.get(req.Plugin)
	if err != nil {
		return nil, err
	}
	return &generated.Empty{}, impl.Init(ctx, req.Config)
}

// PutObject streams the chunks into the implementation through a pipe, so a
// large object is never held in memory. Every chunk repeats plugin, bucket
// and key; the first one is used. A stream with no chunk at all (what
// Velero's host sends for an empty body) names no key and is rejected with
// InvalidArgument.
func (s objectStoreServer) PutObject(stream grpc.ClientStreamingServer[generated.PutObjectRequest, generated.Empty]) error {
	first, err := stream.Recv()
	if errors.Is(err, io.EOF) {
		return status.Error(codes.InvalidArgument, "PutObject: the host sent no chunk, so no plugin, bucket or key")
	}
	if err != nil {
		return err
	}
	impl, err := s.get(first.Plugin)
	if err != nil {
		return err
	}
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		var err error
		defer func() {
			if p := recover(); p != nil {
				err = panicStatus(p)
			}
			pr.CloseWithError(errors.New("PutObject returned"))
			done <- err
		}()
		err = impl.PutObject(stream.Context(), first.Bucket, first.Key, pr)
	}()
	body := first.Body
	for {
		if len(body) > 0 {
			if _, err := pw.Write(body); err != nil {
				break // the implementation returned early; its result decides
			}
		}
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			pw.Close()
			break
		}
		if err != nil {
			pw.CloseWithError(err)
			break
		}
		body = msg.Body
	}
	if err := <-done; err != nil {
		return err
	}
	return stream.SendAndClose(&generated.Empty{})
}

func (s objectStoreServer) ObjectExists(ctx context.Context, req *generated.ObjectExistsRequest) (*generated.ObjectExistsResponse, error) {
	impl, err := s.get(req.Plugin)
	if err != nil {
		return nil, err
	}
	ok, err := impl.ObjectExists(ctx, req.Bucket, req.Key)
	return &generated.ObjectExistsResponse{Exists: ok}, err
}

// GetObject sends the body in chunks of at most 16 KiB.
func (s objectStoreServer) GetObject(req *generated.GetObjectRequest, stream grpc.ServerStreamingServer[generated.Bytes]) error {
	impl, err := s.get(req.Plugin)
	if err != nil {
		return err
	}
	rc, err := impl.GetObject(stream.Context(), req.Bucket, req.Key)
	if err != nil {
		return err
	}
	defer rc.Close()
	buf := make([]byte, wire.ChunkSize)
	for {
		n, err := io.ReadFull(rc, buf)
		if n > 0 {
			if serr := stream.Send(&generated.Bytes{Data: buf[:n]}); serr != nil {
				return serr
			}
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func (s objectStoreServer) ListCommonPrefixes(ctx context.Context, req *generated.ListCommonPrefixesRequest) (*generated.ListCommonPrefixesResponse, error) {
	impl, err := s.get(req.Plugin)
	if err != nil {
		return nil, err
	}
	p, err := impl.ListCommonPrefixes(ctx, req.Bucket, req.Prefix, req.Delimiter)
	return &generated.ListCommonPrefixesResponse{Prefixes: p}, err
}

func (s objectStoreServer) ListObjects(ctx context.Context, req *generated.ListObjectsRequest) (*generated.ListObjectsResponse, error) {
	impl, err := s.get(req.Plugin)
	if err != nil {
		return nil, err
	}
	keys, err := impl.ListObjects(ctx, req.Bucket, req.Prefix)
	return &generated.ListObjectsResponse{Keys: keys}, err
}

func (s objectStoreServer) DeleteObject(ctx context.Context, req *generated.DeleteObjectRequest) (*generated.Empty, error) {
	impl, err := s.get(req.Plugin)
	if err != nil {
		return nil, err
	}
	return &generated.Empty{}, impl.DeleteObject(ctx, req.Bucket, req.Key)
}

func (s objectStoreServer) CreateSignedURL(ctx context.Context, req *generated.CreateSignedURLRequest) (*generated.CreateSignedURLResponse, error) {
	impl, err := s.get(req.Plugin)
	if err != nil {
		return nil, err
	}
	u, err := impl.CreateSignedURL(ctx, req.Bucket, req.Key, time.Duration(req.Ttl))
	return &generated.CreateSignedURLResponse{Url: u}, err
}

type volumeSnapshotterServer struct{ m *mux }

func (s volumeSnapshotterServer) get(name string) (rigging.VolumeSnapshotter, error) {
	return handlerFor[rigging.VolumeSnapshotter](s.m, rigging.KindVolumeSnapshotter, name)
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
	impl, err := s.get(req.Plugin)
	if err != nil {
		return nil, err
	}
	pv, err := wire.DecodeItem(req.PersistentVolume)
	if err != nil {
		return nil, err
	}
	id, err := impl.GetVolumeID(ctx, pv)
	return &generated.GetVolumeIDResponse{VolumeID: id}, err
}

func (s volumeSnapshotterServer) SetVolumeID(ctx context.Context, req *generated.SetVolumeIDRequest) (*generated.SetVolumeIDResponse, error) {
	impl, err := s.get(req.Plugin)
	if err != nil {
		return nil, err
	}
	pv, err := wire.DecodeItem(req.PersistentVolume)
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

// itemAndBackup decodes the (item, backup) pair most action requests carry.
func itemAndBackup(item, backup []byte) (*itemBackup, error) {
	u, err := wire.DecodeItem(item)
	if err != nil {
		return nil, err
	}
	b, err := decodeBackup(backup)
	if err != nil {
		return nil, err
	}
	return &itemBackup{u, b}, nil
}

type itemBackup struct {
	item   *unstructured.Unstructured
	backup *rigging.Backup
}

// echo returns the JSON of updated, or the request's item when the
// implementation returned nil: a response always carries item JSON. A
// backup item action that declares rigging.InputPreserver (impl) and
// returns the item it was given (given) has left it unchanged, so the
// request's JSON is echoed too, with no encoding; the host then hands its
// caller back the item it sent.
func echo(impl any, updated, given *unstructured.Unstructured, in []byte) ([]byte, error) {
	if updated == nil || (updated == given && rigging.PreservesInput(impl)) {
		return in, nil
	}
	return wire.EncodeItem(updated)
}

type backupItemActionServer struct{ m *mux }

func (s backupItemActionServer) AppliesTo(ctx context.Context, req *generated.BackupItemActionAppliesToRequest) (*generated.BackupItemActionAppliesToResponse, error) {
	impl, err := handlerFor[rigging.BackupItemAction](s.m, rigging.KindBackupItemAction, req.Plugin)
	if err != nil {
		return nil, err
	}
	sel, err := impl.AppliesTo(ctx)
	return &generated.BackupItemActionAppliesToResponse{ResourceSelector: wire.Selector(sel)}, err
}

func (s backupItemActionServer) Execute(ctx context.Context, req *generated.ExecuteRequest) (*generated.ExecuteResponse, error) {
	impl, err := handlerFor[rigging.BackupItemAction](s.m, rigging.KindBackupItemAction, req.Plugin)
	if err != nil {
		return nil, err
	}
	in, err := itemAndBackup(req.Item, req.Backup)
	if err != nil {
		return nil, err
	}
	out, extra, err := impl.Execute(ctx, in.item, in.backup)
	if err != nil {
		return nil, err
	}
	item, err := echo(impl, out, in.item, req.Item)
	return &generated.ExecuteResponse{Item: item, AdditionalItems: wire.Identifiers(extra)}, err
}

type backupItemActionV2Server struct{ m *mux }

func (s backupItemActionV2Server) get(name string) (rigging.BackupItemActionV2, error) {
	return handlerFor[rigging.BackupItemActionV2](s.m, rigging.KindBackupItemActionV2, name)
}

func (s backupItemActionV2Server) AppliesTo(ctx context.Context, req *biav2.BackupItemActionAppliesToRequest) (*biav2.BackupItemActionAppliesToResponse, error) {
	impl, err := s.get(req.Plugin)
	if err != nil {
		return nil, err
	}
	sel, err := impl.AppliesTo(ctx)
	return &biav2.BackupItemActionAppliesToResponse{ResourceSelector: wire.Selector(sel)}, err
}

func (s backupItemActionV2Server) Execute(ctx context.Context, req *biav2.ExecuteRequest) (*biav2.ExecuteResponse, error) {
	impl, err := s.get(req.Plugin)
	if err != nil {
		return nil, err
	}
	in, err := itemAndBackup(req.Item, req.Backup)
	if err != nil {
		return nil, err
	}
	out, extra, opID, post, err := impl.Execute(ctx, in.item, in.backup)
	if err != nil {
		return nil, err
	}
	item, err := echo(impl, out, in.item, req.Item)
	return &biav2.ExecuteResponse{Item: item, AdditionalItems: wire.Identifiers(extra), OperationID: opID, PostOperationItems: wire.Identifiers(post)}, err
}

func (s backupItemActionV2Server) Progress(ctx context.Context, req *biav2.BackupItemActionProgressRequest) (*biav2.BackupItemActionProgressResponse, error) {
	impl, err := s.get(req.Plugin)
	if err != nil {
		return nil, err
	}
	b, err := decodeBackup(req.Backup)
	if err != nil {
		return nil, err
	}
	p, err := impl.Progress(ctx, req.OperationID, b)
	if err != nil {
		return nil, err
	}
	return &biav2.BackupItemActionProgressResponse{Progress: wire.Progress(p)}, nil
}

func (s backupItemActionV2Server) Cancel(ctx context.Context, req *biav2.BackupItemActionCancelRequest) (*emptypb.Empty, error) {
	impl, err := s.get(req.Plugin)
	if err != nil {
		return nil, err
	}
	b, err := decodeBackup(req.Backup)
	if err != nil {
		return nil, err
	}
	return &emptypb.Empty{}, impl.Cancel(ctx, req.OperationID, b)
}

// restoreInput decodes a RestoreItemAction Execute request.
func restoreInput(item, fromBackup, restore []byte) (*rigging.RestoreItemActionExecuteInput, error) {
	u, err := wire.DecodeItem(item)
	if err != nil {
		return nil, err
	}
	fb, err := wire.DecodeOptionalItem(fromBackup)
	if err != nil {
		return nil, err
	}
	r, err := wire.DecodeObject[rigging.Restore](restore)
	if err != nil {
		return nil, err
	}
	return &rigging.RestoreItemActionExecuteInput{Item: u, ItemFromBackup: fb, Restore: r}, nil
}

// restoreOutput normalises a nil output to "unchanged" and encodes the item.
func restoreOutput(out *rigging.RestoreItemActionExecuteOutput, in []byte) (*rigging.RestoreItemActionExecuteOutput, []byte, error) {
	if out == nil {
		out = &rigging.RestoreItemActionExecuteOutput{}
	}
	item, err := echo(nil, out.UpdatedItem, nil, in)
	return out, item, err
}

type restoreItemActionServer struct{ m *mux }

func (s restoreItemActionServer) AppliesTo(ctx context.Context, req *generated.RestoreItemActionAppliesToRequest) (*generated.RestoreItemActionAppliesToResponse, error) {
	impl, err := handlerFor[rigging.RestoreItemAction](s.m, rigging.KindRestoreItemAction, req.Plugin)
	if err != nil {
		return nil, err
	}
	sel, err := impl.AppliesTo(ctx)
	return &generated.RestoreItemActionAppliesToResponse{ResourceSelector: wire.Selector(sel)}, err
}

// Execute drops the v2-only output fields, as Velero's v1 server does.
func (s restoreItemActionServer) Execute(ctx context.Context, req *generated.RestoreItemActionExecuteRequest) (*generated.RestoreItemActionExecuteResponse, error) {
	impl, err := handlerFor[rigging.RestoreItemAction](s.m, rigging.KindRestoreItemAction, req.Plugin)
	if err != nil {
		return nil, err
	}
	in, err := restoreInput(req.Item, req.ItemFromBackup, req.Restore)
	if err != nil {
		return nil, err
	}
	out, err := impl.Execute(ctx, in)
	if err != nil {
		return nil, err
	}
	out, item, err := restoreOutput(out, req.Item)
	return &generated.RestoreItemActionExecuteResponse{Item: item, AdditionalItems: wire.Identifiers(out.AdditionalItems), SkipRestore: out.SkipRestore}, err
}

type restoreItemActionV2Server struct{ m *mux }

func (s restoreItemActionV2Server) get(name string) (rigging.RestoreItemActionV2, error) {
	return handlerFor[rigging.RestoreItemActionV2](s.m, rigging.KindRestoreItemActionV2, name)
}

func (s restoreItemActionV2Server) AppliesTo(ctx context.Context, req *riav2.RestoreItemActionAppliesToRequest) (*riav2.RestoreItemActionAppliesToResponse, error) {
	impl, err := s.get(req.Plugin)
	if err != nil {
		return nil, err
	}
	sel, err := impl.AppliesTo(ctx)
	return &riav2.RestoreItemActionAppliesToResponse{ResourceSelector: wire.Selector(sel)}, err
}

func (s restoreItemActionV2Server) Execute(ctx context.Context, req *riav2.RestoreItemActionExecuteRequest) (*riav2.RestoreItemActionExecuteResponse, error) {
	impl, err := s.get(req.Plugin)
	if err != nil {
		return nil, err
	}
	in, err := restoreInput(req.Item, req.ItemFromBackup, req.Restore)
	if err != nil {
		return nil, err
	}
	out, err := impl.Execute(ctx, in)
	if err != nil {
		return nil, err
	}
	out, item, err := restoreOutput(out, req.Item)
	return &riav2.RestoreItemActionExecuteResponse{
		Item: item, AdditionalItems: wire.Identifiers(out.AdditionalItems), SkipRestore: out.SkipRestore,
		OperationID: out.OperationID, WaitForAdditionalItems: out.WaitForAdditionalItems,
		AdditionalItemsReadyTimeout: durationpb.New(out.AdditionalItemsReadyTimeout),
	}, err
}

func (s restoreItemActionV2Server) Progress(ctx context.Context, req *riav2.RestoreItemActionProgressRequest) (*riav2.RestoreItemActionProgressResponse, error) {
	impl, err := s.get(req.Plugin)
	if err != nil {
		return nil, err
	}
	r, err := wire.DecodeObject[rigging.Restore](req.Restore)
	if err != nil {
		return nil, err
	}
	p, err := impl.Progress(ctx, req.OperationID, r)
	if err != nil {
		return nil, err
	}
	return &riav2.RestoreItemActionProgressResponse{Progress: wire.Progress(p)}, nil
}

func (s restoreItemActionV2Server) Cancel(ctx context.Context, req *riav2.RestoreItemActionCancelRequest) (*emptypb.Empty, error) {
	impl, err := s.get(req.Plugin)
	if err != nil {
		return nil, err
	}
	r, err := wire.DecodeObject[rigging.Restore](req.Restore)
	if err != nil {
		return nil, err
	}
	return &emptypb.Empty{}, impl.Cancel(ctx, req.OperationID, r)
}

func (s restoreItemActionV2Server) AreAdditionalItemsReady(ctx context.Context, req *riav2.RestoreItemActionItemsReadyRequest) (*riav2.RestoreItemActionItemsReadyResponse, error) {
	impl, err := s.get(req.Plugin)
	if err != nil {
		return nil, err
	}
	r, err := wire.DecodeObject[rigging.Restore](req.Restore)
	if err != nil {
		return nil, err
	}
	ok, err := impl.AreAdditionalItemsReady(ctx, wire.FromIdentifiers(req.AdditionalItems), r)
	return &riav2.RestoreItemActionItemsReadyResponse{Ready: ok}, err
}

type deleteItemActionServer struct{ m *mux }

func (s deleteItemActionServer) AppliesTo(ctx context.Context, req *generated.DeleteItemActionAppliesToRequest) (*generated.DeleteItemActionAppliesToResponse, error) {
	impl, err := handlerFor[rigging.DeleteItemAction](s.m, rigging.KindDeleteItemAction, req.Plugin)
	if err != nil {
		return nil, err
	}
	sel, err := impl.AppliesTo(ctx)
	return &generated.DeleteItemActionAppliesToResponse{ResourceSelector: wire.Selector(sel)}, err
}

func (s deleteItemActionServer) Execute(ctx context.Context, req *generated.DeleteItemActionExecuteRequest) (*generated.Empty, error) {
	impl, err := handlerFor[rigging.DeleteItemAction](s.m, rigging.KindDeleteItemAction, req.Plugin)
	if err != nil {
		return nil, err
	}
	in, err := itemAndBackup(req.Item, req.Backup)
	if err != nil {
		return nil, err
	}
	return &generated.Empty{}, impl.Execute(ctx, &rigging.DeleteItemActionExecuteInput{Item: in.item, Backup: in.backup})
}

type itemBlockActionServer struct{ m *mux }

func (s itemBlockActionServer) AppliesTo(ctx context.Context, req *ibav1.ItemBlockActionAppliesToRequest) (*ibav1.ItemBlockActionAppliesToResponse, error) {
	impl, err := handlerFor[rigging.ItemBlockAction](s.m, rigging.KindItemBlockAction, req.Plugin)
	if err != nil {
		return nil, err
	}
	sel, err := impl.AppliesTo(ctx)
	return &ibav1.ItemBlockActionAppliesToResponse{ResourceSelector: wire.Selector(sel)}, err
}

func (s itemBlockActionServer) GetRelatedItems(ctx context.Context, req *ibav1.ItemBlockActionGetRelatedItemsRequest) (*ibav1.ItemBlockActionGetRelatedItemsResponse, error) {
	impl, err := handlerFor[rigging.ItemBlockAction](s.m, rigging.KindItemBlockAction, req.Plugin)
	if err != nil {
		return nil, err
	}
	in, err := itemAndBackup(req.Item, req.Backup)
	if err != nil {
		return nil, err
	}
	ids, err := impl.GetRelatedItems(ctx, in.item, in.backup)
	return &ibav1.ItemBlockActionGetRelatedItemsResponse{RelatedItems: wire.Identifiers(ids)}, err
}
