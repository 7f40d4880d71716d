package external

import (
	"bytes"
	"context"
	"fmt"

	"google.golang.org/grpc"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/external/generated"
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
	// dataPath returns the data path state of the process behind cc, or
	// nil when object bodies must stream in gRPC chunks.
	dataPath(cc grpc.ClientConnInterface) *dataPathState
}

// directInvoker is the invoker over a fixed connection.
type directInvoker struct {
	cc   grpc.ClientConnInterface
	name rigging.Name
}

func (d directInvoker) call(ctx context.Context, op string, _ bool, fn func(context.Context, grpc.ClientConnInterface) error) error {
	if err := fn(ctx, d.cc); err != nil {
		return callError(op, wire.FromStatus(err), "")
	}
	return nil
}

func (d directInvoker) callInit(ctx context.Context, fn func(context.Context, grpc.ClientConnInterface) error) error {
	return d.call(ctx, "Init", false, fn)
}

// dataPath returns nil: a bare connection, possibly remote, streams object
// bodies in gRPC chunks.
func (directInvoker) dataPath(grpc.ClientConnInterface) *dataPathState { return nil }

// NewClient returns a client of plugin (kind, name) over cc, implementing
// kind's interface (kind.Interface()). It does no supervision: cc is used as
// it is. Errors the plugin returns are *RemoteError values (wrapped with the
// plugin's name and the method).
func NewClient(kind rigging.Kind, name rigging.Name, cc grpc.ClientConnInterface) (any, error) {
	return newClient(kind, name, directInvoker{cc: cc, name: name}, new(backupEncoder))
}

// newClient is the per-kind mapping from a kind to its client type. The
// client calls through inv and encodes Backups with backups.
func newClient(kind rigging.Kind, name rigging.Name, inv invoker, backups *backupEncoder) (any, error) {
	b := base{inv: inv, name: string(name), backups: backups}
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
	inv     invoker
	name    string
	backups *backupEncoder
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

// appliesTo runs the AppliesTo RPC of every action kind (idempotent) and
// returns the selector of its response.
func appliesTo[Resp interface {
	GetResourceSelector() *generated.ResourceSelector
}](ctx context.Context, b base, fn func(context.Context, grpc.ClientConnInterface) (Resp, error)) (rigging.ResourceSelector, error) {
	res, err := rpc(ctx, b, "AppliesTo", true, fn)
	return wire.FromSelector(res.GetResourceSelector()), err
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
func (b base) encodeItemBackup(item *unstructured.Unstructured, backup *rigging.Backup) ([]byte, []byte, error) {
	i, err := wire.EncodeItem(item)
	if err != nil {
		return nil, nil, err
	}
	j, err := b.backups.encode(backup)
	return i, j, err
}
