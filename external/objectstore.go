package external

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"google.golang.org/grpc"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/external/generated"
	"github.com/rigging-dev/rigging/external/internal/wire"
)

type objectStoreClient struct{ base }

func (c *objectStoreClient) Init(ctx context.Context, config map[string]string) error {
	return c.inv.callInit(ctx, func(ctx context.Context, cc grpc.ClientConnInterface) error {
		_, err := generated.NewObjectStoreClient(cc).Init(ctx, &generated.ObjectStoreInitRequest{Plugin: c.name, Config: config})
		return err
	})
}

// PutObject uploads body. With a rigging-built plugin process it goes over
// the plugin's data socket (objectstore_datapath.go); otherwise it streams in 16 KiB
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
// (objectstore_datapath.go), otherwise in 16 KiB chunks. Either way a body that breaks
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

var _ rigging.ObjectStore = (*objectStoreClient)(nil)
