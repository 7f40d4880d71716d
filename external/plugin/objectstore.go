package plugin

import (
	"context"
	"errors"
	"io"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/external/generated"
	"github.com/rigging-dev/rigging/external/internal/wire"
)

// objectStoreServer serves ObjectStore over Velero's service.
type objectStoreServer struct {
	kindServer[rigging.ObjectStore]
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
