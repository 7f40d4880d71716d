package external

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/external/generated"
	biav2 "github.com/rigging-dev/rigging/external/generated/backupitemaction/v2"
	ibav1 "github.com/rigging-dev/rigging/external/generated/itemblockaction/v1"
	riav2 "github.com/rigging-dev/rigging/external/generated/restoreitemaction/v2"
	"github.com/rigging-dev/rigging/external/internal/wire"
)

// invoker runs one RPC of a plugin instance. The supervised invoker of a
// Catalog starts and restarts the process, replays Init and retries
// idempotent calls; the direct one (NewClient) just calls.
type invoker interface {
	// call runs fn with a connection. op names the RPC for errors;
	// idempotent calls may be retried once after a restart.
	call(ctx context.Context, op string, idempotent bool, fn func(context.Context, grpc.ClientConnInterface) error) error
	// callInit runs an Init RPC and remembers it, to replay it in a
	// restarted process.
	callInit(ctx context.Context, fn func(context.Context, grpc.ClientConnInterface) error) error
}

// direct is the invoker over a fixed connection.
type direct struct {
	cc   grpc.ClientConnInterface
	name rigging.Name
}

func (d direct) call(ctx context.Context, op string, _ bool, fn func(context.Context, grpc.ClientConnInterface) error) error {
	if err := fn(ctx, d.cc); err != nil {
		return callError(op, wire.FromStatus(err), "")
	}
	return nil
}

func (d direct) callInit(ctx context.Context, fn func(context.Context, grpc.ClientConnInterface) error) error {
	return d.call(ctx, "Init", false, fn)
}

// NewClient returns a client of plugin (kind, name) over cc, implementing
// kind's interface (kind.Interface()). It does no supervision: cc is used as
// it is. Errors the plugin returns are *RemoteError values (wrapped with the
// plugin's name and the method).
func NewClient(kind rigging.Kind, name rigging.Name, cc grpc.ClientConnInterface) (any, error) {
	return newClient(kind, name, direct{cc: cc, name: name})
}

// newClient is the per-kind mapping from a kind to its client type.
func newClient(kind rigging.Kind, name rigging.Name, inv invoker) (any, error) {
	b := base{inv: inv, name: string(name)}
	switch kind {
	case rigging.KindObjectStore:
		return &objectStoreClient{b}, nil
	case rigging.KindVolumeSnapshotter:
		return &volumeSnapshotterClient{b}, nil
	case rigging.KindBackupItemAction:
		return &backupItemActionClient{b}, nil
	case rigging.KindBackupItemActionV2:
		return &backupItemActionV2Client{b}, nil
	case rigging.KindRestoreItemAction:
		return &restoreItemActionClient{b}, nil
	case rigging.KindRestoreItemActionV2:
		return &restoreItemActionV2Client{b}, nil
	case rigging.KindDeleteItemAction:
		return &deleteItemActionClient{b}, nil
	case rigging.KindItemBlockAction:
		return &itemBlockActionClient{b}, nil
	}
	return nil, fmt.Errorf("%w: %q", rigging.ErrInvalidKind, kind)
}

// base is what every per-kind client holds.
type base struct {
	inv  invoker
	name string
}

// Name returns the plugin's registered name (v2 actions and ItemBlockAction;
// not an RPC).
func (b base) Name() string { return b.name }

// rpc runs one unary call and returns its response.
func rpc[Resp any](ctx context.Context, b base, op string, idempotent bool, fn func(context.Context, grpc.ClientConnInterface) (Resp, error)) (Resp, error) {
	var res Resp
	err := b.inv.call(ctx, op, idempotent, func(ctx context.Context, cc grpc.ClientConnInterface) (err error) {
		res, err = fn(ctx, cc)
		return err
	})
	return res, err
}

type objectStoreClient struct{ base }

func (c *objectStoreClient) Init(ctx context.Context, config map[string]string) error {
	return c.inv.callInit(ctx, func(ctx context.Context, cc grpc.ClientConnInterface) error {
		_, err := generated.NewObjectStoreClient(cc).Init(ctx, &generated.ObjectStoreInitRequest{Plugin: c.name, Config: config})
		return err
	})
}

// PutObject uploads body. With a rigging-built plugin process it goes over
// the plugin's data socket (datapath.go); otherwise it streams in 16 KiB
// chunks, each repeating plugin, bucket and key, and an empty body is sent
// as one empty chunk (Velero's server fails on zero chunks). A read
// returning data together with io.EOF keeps the data. A body that cannot
// be read fails the call with that error and cancels the plugin's
// PutObject, on either path.
func (c *objectStoreClient) PutObject(ctx context.Context, bucket, key string, body io.Reader) error {
	ahead := &aheadBody{r: body}
	defer ahead.release()
	return c.inv.call(ctx, "put "+key, false, func(ctx context.Context, cc grpc.ClientConnInterface) error {
		addr, err := c.dataPathFor(ctx, cc)
		if err == nil {
			err = c.putData(ctx, cc, addr, bucket, key, ahead)
		}
		if !errors.Is(err, errUseChunks) {
			return err
		}
		body := ahead.reader()
		ctx, cancel := context.WithCancel(ctx)
		defer cancel() // a body error ends the stream: the plugin's read fails
		stream, err := generated.NewObjectStoreClient(cc).PutObject(ctx)
		if err != nil {
			return err
		}
		buf := make([]byte, wire.ChunkSize)
		sent := false
		for {
			n, rerr := io.ReadFull(body, buf)
			if n > 0 || !sent {
				if err := stream.Send(&generated.PutObjectRequest{Plugin: c.name, Bucket: bucket, Key: key, Body: buf[:n]}); err != nil {
					if errors.Is(err, io.EOF) {
						_, err = stream.CloseAndRecv() // the server's error
					}
					return err
				}
				sent = true
			}
			if errors.Is(rerr, io.EOF) || errors.Is(rerr, io.ErrUnexpectedEOF) {
				break
			}
			if rerr != nil {
				return &bodyError{rerr}
			}
		}
		_, err = stream.CloseAndRecv()
		return err
	})
}

// bodyError is a failure to read the caller's body, not the plugin's.
type bodyError struct{ err error }

func (e *bodyError) Error() string { return "read body: " + e.err.Error() }
func (e *bodyError) Unwrap() error { return e.err }

func (c *objectStoreClient) ObjectExists(ctx context.Context, bucket, key string) (bool, error) {
	res, err := rpc(ctx, c.base, "exists "+key, true, func(ctx context.Context, cc grpc.ClientConnInterface) (*generated.ObjectExistsResponse, error) {
		return generated.NewObjectStoreClient(cc).ObjectExists(ctx, &generated.ObjectExistsRequest{Plugin: c.name, Bucket: bucket, Key: key})
	})
	return res.GetExists(), err
}

// GetObject opens the object within ctx's deadline (on the chunked path,
// also its first chunk); the returned reader then streams the rest, bound
// only by ctx's cancellation, and Close cancels the stream. With a
// rigging-built plugin process the body comes over the plugin's data socket
// (datapath.go), otherwise in 16 KiB chunks. Either way a body that breaks
// off ends with an error, never an early io.EOF.
func (c *objectStoreClient) GetObject(ctx context.Context, bucket, key string) (io.ReadCloser, error) {
	var rc io.ReadCloser
	err := c.inv.call(ctx, "get "+key, true, func(ctx context.Context, cc grpc.ClientConnInterface) error {
		addr, err := c.dataPathFor(ctx, cc)
		if err == nil {
			rc, err = c.getData(ctx, cc, addr, bucket, key)
		}
		if !errors.Is(err, errUseChunks) {
			return err
		}
		// The stream carries no deadline: the body may take longer than the
		// call's deadline to read. Opening is bounded by the watch below.
		sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		stop := context.AfterFunc(ctx, cancel)
		stream, err := generated.NewObjectStoreClient(cc).GetObject(sctx, &generated.GetObjectRequest{Plugin: c.name, Bucket: bucket, Key: key})
		if err != nil {
			stop()
			cancel()
			return err
		}
		first, err := stream.Recv()
		if err != nil && !errors.Is(err, io.EOF) {
			stop()
			cancel()
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
		r := &streamReader{stream: stream, cancel: func() { stop(); cancel() }, eof: errors.Is(err, io.EOF), name: c.name, key: key}
		if first != nil {
			r.buf = first.Data
		}
		rc = r
		return nil
	})
	if err != nil {
		return nil, err
	}
	return rc, nil
}

// streamReader reads a GetObject stream.
type streamReader struct {
	stream    grpc.ServerStreamingClient[generated.Bytes]
	cancel    func()
	buf       []byte
	eof       bool
	err       error
	name, key string
}

func (r *streamReader) Read(p []byte) (int, error) {
	for len(r.buf) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		if r.eof {
			return 0, io.EOF
		}
		msg, err := r.stream.Recv()
		if errors.Is(err, io.EOF) {
			r.eof = true
			continue
		}
		if err != nil {
			r.err = fmt.Errorf("plugin %s: get %s: %w", r.name, r.key, wire.FromStatus(err))
			return 0, r.err
		}
		r.buf = msg.Data
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

// Close cancels the stream; reading after Close fails.
func (r *streamReader) Close() error {
	r.cancel()
	if r.err == nil && !r.eof {
		r.err = errors.New("read after close")
	}
	r.buf = nil
	return nil
}

func (c *objectStoreClient) ListCommonPrefixes(ctx context.Context, bucket, prefix, delimiter string) ([]string, error) {
	res, err := rpc(ctx, c.base, "list prefixes "+prefix, true, func(ctx context.Context, cc grpc.ClientConnInterface) (*generated.ListCommonPrefixesResponse, error) {
		return generated.NewObjectStoreClient(cc).ListCommonPrefixes(ctx, &generated.ListCommonPrefixesRequest{Plugin: c.name, Bucket: bucket, Prefix: prefix, Delimiter: delimiter})
	})
	return res.GetPrefixes(), err
}

func (c *objectStoreClient) ListObjects(ctx context.Context, bucket, prefix string) ([]string, error) {
	res, err := rpc(ctx, c.base, "list "+prefix, true, func(ctx context.Context, cc grpc.ClientConnInterface) (*generated.ListObjectsResponse, error) {
		return generated.NewObjectStoreClient(cc).ListObjects(ctx, &generated.ListObjectsRequest{Plugin: c.name, Bucket: bucket, Prefix: prefix})
	})
	return res.GetKeys(), err
}

func (c *objectStoreClient) DeleteObject(ctx context.Context, bucket, key string) error {
	_, err := rpc(ctx, c.base, "delete "+key, false, func(ctx context.Context, cc grpc.ClientConnInterface) (*generated.Empty, error) {
		return generated.NewObjectStoreClient(cc).DeleteObject(ctx, &generated.DeleteObjectRequest{Plugin: c.name, Bucket: bucket, Key: key})
	})
	return err
}

func (c *objectStoreClient) CreateSignedURL(ctx context.Context, bucket, key string, ttl time.Duration) (string, error) {
	res, err := rpc(ctx, c.base, "sign "+key, false, func(ctx context.Context, cc grpc.ClientConnInterface) (*generated.CreateSignedURLResponse, error) {
		return generated.NewObjectStoreClient(cc).CreateSignedURL(ctx, &generated.CreateSignedURLRequest{Plugin: c.name, Bucket: bucket, Key: key, Ttl: int64(ttl)})
	})
	return res.GetUrl(), err
}

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

// decodeItem parses an item in a response (the Manager's error names the
// plugin and method).
func decodeItem(item []byte) (*unstructured.Unstructured, error) {
	u, err := wire.DecodeItem(item)
	if err != nil {
		return nil, fmt.Errorf("invalid item in the response: %w", err)
	}
	return u, nil
}

// resultItem is the item of an action's response. When its JSON is exactly
// the JSON the request carried (the action returned the item unchanged, as
// most do), it is the caller's own item, as an in-process action returning
// its argument gives, and nothing is decoded; otherwise it is decoded.
func resultItem(in *unstructured.Unstructured, sent, got []byte) (*unstructured.Unstructured, error) {
	if in != nil && len(got) > 0 && bytes.Equal(sent, got) {
		return in, nil
	}
	return decodeItem(got)
}

// encodeItemBackup encodes the (item, backup) pair of action requests.
func encodeItemBackup(item *unstructured.Unstructured, backup *rigging.Backup) ([]byte, []byte, error) {
	i, err := wire.EncodeItem(item)
	if err != nil {
		return nil, nil, err
	}
	b, err := encodeBackup(backup)
	return i, b, err
}

type backupItemActionClient struct{ base }

// PreservesInput reports true (rigging.InputPreserver): the item crosses
// the wire as JSON, so the caller's item is never modified; Execute returns
// it as it is when the plugin returns it unchanged, or a decoded copy.
func (c *backupItemActionClient) PreservesInput() bool { return true }

func (c *backupItemActionClient) AppliesTo(ctx context.Context) (rigging.ResourceSelector, error) {
	res, err := rpc(ctx, c.base, "AppliesTo", true, func(ctx context.Context, cc grpc.ClientConnInterface) (*generated.BackupItemActionAppliesToResponse, error) {
		return generated.NewBackupItemActionClient(cc).AppliesTo(ctx, &generated.BackupItemActionAppliesToRequest{Plugin: c.name})
	})
	return wire.FromSelector(res.GetResourceSelector()), err
}

func (c *backupItemActionClient) Execute(ctx context.Context, item *unstructured.Unstructured, backup *rigging.Backup) (*unstructured.Unstructured, []rigging.ResourceIdentifier, error) {
	i, b, err := encodeItemBackup(item, backup)
	if err != nil {
		return nil, nil, err
	}
	res, err := rpc(ctx, c.base, "Execute", false, func(ctx context.Context, cc grpc.ClientConnInterface) (*generated.ExecuteResponse, error) {
		return generated.NewBackupItemActionClient(cc).Execute(ctx, &generated.ExecuteRequest{Plugin: c.name, Item: i, Backup: b})
	})
	if err != nil {
		return nil, nil, err
	}
	u, err := resultItem(item, i, res.Item)
	return u, wire.FromIdentifiers(res.AdditionalItems), err
}

type backupItemActionV2Client struct{ base }

// PreservesInput reports true, as backupItemActionClient's.
func (c *backupItemActionV2Client) PreservesInput() bool { return true }

func (c *backupItemActionV2Client) AppliesTo(ctx context.Context) (rigging.ResourceSelector, error) {
	res, err := rpc(ctx, c.base, "AppliesTo", true, func(ctx context.Context, cc grpc.ClientConnInterface) (*biav2.BackupItemActionAppliesToResponse, error) {
		return biav2.NewBackupItemActionClient(cc).AppliesTo(ctx, &biav2.BackupItemActionAppliesToRequest{Plugin: c.name})
	})
	return wire.FromSelector(res.GetResourceSelector()), err
}

func (c *backupItemActionV2Client) Execute(ctx context.Context, item *unstructured.Unstructured, backup *rigging.Backup) (*unstructured.Unstructured, []rigging.ResourceIdentifier, string, []rigging.ResourceIdentifier, error) {
	i, b, err := encodeItemBackup(item, backup)
	if err != nil {
		return nil, nil, "", nil, err
	}
	res, err := rpc(ctx, c.base, "Execute", false, func(ctx context.Context, cc grpc.ClientConnInterface) (*biav2.ExecuteResponse, error) {
		return biav2.NewBackupItemActionClient(cc).Execute(ctx, &biav2.ExecuteRequest{Plugin: c.name, Item: i, Backup: b})
	})
	if err != nil {
		return nil, nil, "", nil, err
	}
	u, err := resultItem(item, i, res.Item)
	return u, wire.FromIdentifiers(res.AdditionalItems), res.OperationID, wire.FromIdentifiers(res.PostOperationItems), err
}

func (c *backupItemActionV2Client) Progress(ctx context.Context, operationID string, backup *rigging.Backup) (rigging.OperationProgress, error) {
	b, err := encodeBackup(backup)
	if err != nil {
		return rigging.OperationProgress{}, err
	}
	res, err := rpc(ctx, c.base, "Progress "+operationID, true, func(ctx context.Context, cc grpc.ClientConnInterface) (*biav2.BackupItemActionProgressResponse, error) {
		return biav2.NewBackupItemActionClient(cc).Progress(ctx, &biav2.BackupItemActionProgressRequest{Plugin: c.name, OperationID: operationID, Backup: b})
	})
	return wire.FromProgress(res.GetProgress()), err
}

func (c *backupItemActionV2Client) Cancel(ctx context.Context, operationID string, backup *rigging.Backup) error {
	b, err := encodeBackup(backup)
	if err != nil {
		return err
	}
	_, err = rpc(ctx, c.base, "Cancel "+operationID, false, func(ctx context.Context, cc grpc.ClientConnInterface) (*emptypb.Empty, error) {
		return biav2.NewBackupItemActionClient(cc).Cancel(ctx, &biav2.BackupItemActionCancelRequest{Plugin: c.name, OperationID: operationID, Backup: b})
	})
	return err
}

// encodeRestoreInput encodes the item, item-from-backup and restore of a
// RestoreItemAction Execute.
func encodeRestoreInput(in *rigging.RestoreItemActionExecuteInput) (item, fromBackup, restore []byte, err error) {
	if in == nil {
		return nil, nil, nil, errors.New("nil RestoreItemActionExecuteInput")
	}
	if item, err = wire.EncodeItem(in.Item); err != nil {
		return
	}
	if fromBackup, err = wire.EncodeItem(in.ItemFromBackup); err != nil {
		return
	}
	restore, err = wire.EncodeObject(in.Restore)
	return
}

type restoreItemActionClient struct{ base }

func (c *restoreItemActionClient) AppliesTo(ctx context.Context) (rigging.ResourceSelector, error) {
	res, err := rpc(ctx, c.base, "AppliesTo", true, func(ctx context.Context, cc grpc.ClientConnInterface) (*generated.RestoreItemActionAppliesToResponse, error) {
		return generated.NewRestoreItemActionClient(cc).AppliesTo(ctx, &generated.RestoreItemActionAppliesToRequest{Plugin: c.name})
	})
	return wire.FromSelector(res.GetResourceSelector()), err
}

func (c *restoreItemActionClient) Execute(ctx context.Context, in *rigging.RestoreItemActionExecuteInput) (*rigging.RestoreItemActionExecuteOutput, error) {
	item, fb, r, err := encodeRestoreInput(in)
	if err != nil {
		return nil, err
	}
	res, err := rpc(ctx, c.base, "Execute", false, func(ctx context.Context, cc grpc.ClientConnInterface) (*generated.RestoreItemActionExecuteResponse, error) {
		return generated.NewRestoreItemActionClient(cc).Execute(ctx, &generated.RestoreItemActionExecuteRequest{Plugin: c.name, Item: item, ItemFromBackup: fb, Restore: r})
	})
	if err != nil {
		return nil, err
	}
	u, err := resultItem(in.Item, item, res.Item)
	if err != nil {
		return nil, err
	}
	return &rigging.RestoreItemActionExecuteOutput{UpdatedItem: u, AdditionalItems: wire.FromIdentifiers(res.AdditionalItems), SkipRestore: res.SkipRestore}, nil
}

type restoreItemActionV2Client struct{ base }

func (c *restoreItemActionV2Client) AppliesTo(ctx context.Context) (rigging.ResourceSelector, error) {
	res, err := rpc(ctx, c.base, "AppliesTo", true, func(ctx context.Context, cc grpc.ClientConnInterface) (*riav2.RestoreItemActionAppliesToResponse, error) {
		return riav2.NewRestoreItemActionClient(cc).AppliesTo(ctx, &riav2.RestoreItemActionAppliesToRequest{Plugin: c.name})
	})
	return wire.FromSelector(res.GetResourceSelector()), err
}

func (c *restoreItemActionV2Client) Execute(ctx context.Context, in *rigging.RestoreItemActionExecuteInput) (*rigging.RestoreItemActionExecuteOutput, error) {
	item, fb, r, err := encodeRestoreInput(in)
	if err != nil {
		return nil, err
	}
	res, err := rpc(ctx, c.base, "Execute", false, func(ctx context.Context, cc grpc.ClientConnInterface) (*riav2.RestoreItemActionExecuteResponse, error) {
		return riav2.NewRestoreItemActionClient(cc).Execute(ctx, &riav2.RestoreItemActionExecuteRequest{Plugin: c.name, Item: item, ItemFromBackup: fb, Restore: r})
	})
	if err != nil {
		return nil, err
	}
	u, err := resultItem(in.Item, item, res.Item)
	if err != nil {
		return nil, err
	}
	return &rigging.RestoreItemActionExecuteOutput{
		UpdatedItem: u, AdditionalItems: wire.FromIdentifiers(res.AdditionalItems), SkipRestore: res.SkipRestore,
		OperationID: res.OperationID, WaitForAdditionalItems: res.WaitForAdditionalItems,
		AdditionalItemsReadyTimeout: res.GetAdditionalItemsReadyTimeout().AsDuration(),
	}, nil
}

func (c *restoreItemActionV2Client) Progress(ctx context.Context, operationID string, restore *rigging.Restore) (rigging.OperationProgress, error) {
	r, err := wire.EncodeObject(restore)
	if err != nil {
		return rigging.OperationProgress{}, err
	}
	res, err := rpc(ctx, c.base, "Progress "+operationID, true, func(ctx context.Context, cc grpc.ClientConnInterface) (*riav2.RestoreItemActionProgressResponse, error) {
		return riav2.NewRestoreItemActionClient(cc).Progress(ctx, &riav2.RestoreItemActionProgressRequest{Plugin: c.name, OperationID: operationID, Restore: r})
	})
	return wire.FromProgress(res.GetProgress()), err
}

func (c *restoreItemActionV2Client) Cancel(ctx context.Context, operationID string, restore *rigging.Restore) error {
	r, err := wire.EncodeObject(restore)
	if err != nil {
		return err
	}
	_, err = rpc(ctx, c.base, "Cancel "+operationID, false, func(ctx context.Context, cc grpc.ClientConnInterface) (*emptypb.Empty, error) {
		return riav2.NewRestoreItemActionClient(cc).Cancel(ctx, &riav2.RestoreItemActionCancelRequest{Plugin: c.name, OperationID: operationID, Restore: r})
	})
	return err
}

func (c *restoreItemActionV2Client) AreAdditionalItemsReady(ctx context.Context, items []rigging.ResourceIdentifier, restore *rigging.Restore) (bool, error) {
	r, err := wire.EncodeObject(restore)
	if err != nil {
		return false, err
	}
	res, err := rpc(ctx, c.base, "AreAdditionalItemsReady", true, func(ctx context.Context, cc grpc.ClientConnInterface) (*riav2.RestoreItemActionItemsReadyResponse, error) {
		return riav2.NewRestoreItemActionClient(cc).AreAdditionalItemsReady(ctx, &riav2.RestoreItemActionItemsReadyRequest{Plugin: c.name, Restore: r, AdditionalItems: wire.Identifiers(items)})
	})
	return res.GetReady(), err
}

type deleteItemActionClient struct{ base }

func (c *deleteItemActionClient) AppliesTo(ctx context.Context) (rigging.ResourceSelector, error) {
	res, err := rpc(ctx, c.base, "AppliesTo", true, func(ctx context.Context, cc grpc.ClientConnInterface) (*generated.DeleteItemActionAppliesToResponse, error) {
		return generated.NewDeleteItemActionClient(cc).AppliesTo(ctx, &generated.DeleteItemActionAppliesToRequest{Plugin: c.name})
	})
	return wire.FromSelector(res.GetResourceSelector()), err
}

func (c *deleteItemActionClient) Execute(ctx context.Context, in *rigging.DeleteItemActionExecuteInput) error {
	if in == nil {
		return errors.New("nil DeleteItemActionExecuteInput")
	}
	i, b, err := encodeItemBackup(in.Item, in.Backup)
	if err != nil {
		return err
	}
	_, err = rpc(ctx, c.base, "Execute", false, func(ctx context.Context, cc grpc.ClientConnInterface) (*generated.Empty, error) {
		return generated.NewDeleteItemActionClient(cc).Execute(ctx, &generated.DeleteItemActionExecuteRequest{Plugin: c.name, Item: i, Backup: b})
	})
	return err
}

type itemBlockActionClient struct{ base }

func (c *itemBlockActionClient) AppliesTo(ctx context.Context) (rigging.ResourceSelector, error) {
	res, err := rpc(ctx, c.base, "AppliesTo", true, func(ctx context.Context, cc grpc.ClientConnInterface) (*ibav1.ItemBlockActionAppliesToResponse, error) {
		return ibav1.NewItemBlockActionClient(cc).AppliesTo(ctx, &ibav1.ItemBlockActionAppliesToRequest{Plugin: c.name})
	})
	return wire.FromSelector(res.GetResourceSelector()), err
}

func (c *itemBlockActionClient) GetRelatedItems(ctx context.Context, item *unstructured.Unstructured, backup *rigging.Backup) ([]rigging.ResourceIdentifier, error) {
	i, b, err := encodeItemBackup(item, backup)
	if err != nil {
		return nil, err
	}
	res, err := rpc(ctx, c.base, "GetRelatedItems", true, func(ctx context.Context, cc grpc.ClientConnInterface) (*ibav1.ItemBlockActionGetRelatedItemsResponse, error) {
		return ibav1.NewItemBlockActionClient(cc).GetRelatedItems(ctx, &ibav1.ItemBlockActionGetRelatedItemsRequest{Plugin: c.name, Item: i, Backup: b})
	})
	return wire.FromIdentifiers(res.GetRelatedItems()), err
}

// Interface guards.
var (
	_ rigging.ObjectStore         = (*objectStoreClient)(nil)
	_ rigging.VolumeSnapshotter   = (*volumeSnapshotterClient)(nil)
	_ rigging.BackupItemAction    = (*backupItemActionClient)(nil)
	_ rigging.BackupItemActionV2  = (*backupItemActionV2Client)(nil)
	_ rigging.RestoreItemAction   = (*restoreItemActionClient)(nil)
	_ rigging.RestoreItemActionV2 = (*restoreItemActionV2Client)(nil)
	_ rigging.DeleteItemAction    = (*deleteItemActionClient)(nil)
	_ rigging.ItemBlockAction     = (*itemBlockActionClient)(nil)
)
