package bench

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/rigging-dev/rigging/bench/fixture"
	"github.com/rigging-dev/rigging/bench/measure"
)

// The stream floors: the same bytes as a PutObject or GetObject moved as
// cheaply as each transport allows, to another process. gRPC: a client
// stream and a server stream of 16 KiB BytesValue messages (Velero's chunk
// size, the standard path); unix socket: the bytes as they are.
const (
	floorStreamSocket = "stream.sock"
	floorChunk        = 16 << 10
	floorPutMethod    = "/rigging.bench.Floor/Put"
	floorGetMethod    = "/rigging.bench.Floor/Get"
)

var floorStreams = []grpc.StreamDesc{
	{StreamName: "Put", ClientStreams: true, Handler: func(_ any, st grpc.ServerStream) error {
		var n int64
		for {
			m := new(wrapperspb.BytesValue)
			if err := st.RecvMsg(m); errors.Is(err, io.EOF) {
				return st.SendMsg(wrapperspb.Int64(n))
			} else if err != nil {
				return err
			}
			n += int64(len(m.Value))
		}
	}},
	{StreamName: "Get", ServerStreams: true, Handler: func(_ any, st grpc.ServerStream) error {
		req := new(wrapperspb.Int64Value)
		if err := st.RecvMsg(req); err != nil {
			return err
		}
		r := fixture.Zeros(req.Value)
		buf := make([]byte, floorChunk)
		for {
			n, err := io.ReadFull(r, buf)
			if n > 0 {
				if err := st.SendMsg(wrapperspb.Bytes(buf[:n])); err != nil {
					return err
				}
			}
			if err != nil {
				return nil
			}
		}
	}},
}

// serveRawStreams answers on l: an 'P' + size frame is followed by size
// bytes, acknowledged with one byte; a 'G' + size frame is answered with
// size bytes.
func serveRawStreams(l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			var hdr [9]byte
			for {
				if _, err := io.ReadFull(c, hdr[:]); err != nil {
					return
				}
				size := int64(binary.BigEndian.Uint64(hdr[1:]))
				switch hdr[0] {
				case 'P':
					if _, err := io.CopyN(io.Discard, c, size); err != nil {
						return
					}
					if _, err := c.Write([]byte{1}); err != nil {
						return
					}
				case 'G':
					if _, err := io.Copy(c, fixture.Zeros(size)); err != nil {
						return
					}
				default:
					return
				}
			}
		}()
	}
}

// streamCases returns the put and get floor cases of f, each moving size
// bytes per operation.
func (f *floor) streamCases(ctx context.Context, size int64) ([]measure.Case, error) {
	conn, err := net.DialTimeout("unix", filepath.Join(f.dir, floorStreamSocket), 10*time.Second)
	if err != nil {
		return nil, err
	}
	f.extra = append(f.extra, conn)
	grpcPut := func() (int64, error) {
		st, err := f.cc.NewStream(ctx, &grpc.StreamDesc{ClientStreams: true}, floorPutMethod)
		if err != nil {
			return 0, err
		}
		r := fixture.Zeros(size)
		buf := make([]byte, floorChunk)
		for {
			n, rerr := io.ReadFull(r, buf)
			if n > 0 {
				if err := st.SendMsg(wrapperspb.Bytes(buf[:n])); err != nil {
					return 0, err
				}
			}
			if rerr != nil {
				break
			}
		}
		if err := st.CloseSend(); err != nil {
			return 0, err
		}
		got := new(wrapperspb.Int64Value)
		if err := st.RecvMsg(got); err != nil {
			return 0, err
		}
		if got.Value != size {
			return got.Value, fmt.Errorf("floor received %d bytes, want %d", got.Value, size)
		}
		return size, nil
	}
	grpcGet := func() (int64, error) {
		st, err := f.cc.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true}, floorGetMethod)
		if err != nil {
			return 0, err
		}
		if err := st.SendMsg(wrapperspb.Int64(size)); err != nil {
			return 0, err
		}
		if err := st.CloseSend(); err != nil {
			return 0, err
		}
		var n int64
		for {
			m := new(wrapperspb.BytesValue)
			if err := st.RecvMsg(m); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				return n, err
			}
			n += int64(len(m.Value))
		}
		if n != size {
			return n, fmt.Errorf("floor sent %d bytes, want %d", n, size)
		}
		return n, nil
	}
	frame := func(op byte) []byte {
		return binary.BigEndian.AppendUint64([]byte{op}, uint64(size))
	}
	rawPut := func() (int64, error) {
		if _, err := conn.Write(frame('P')); err != nil {
			return 0, err
		}
		if _, err := io.Copy(conn, fixture.Zeros(size)); err != nil {
			return 0, err
		}
		var ack [1]byte
		_, err := io.ReadFull(conn, ack[:])
		return size, err
	}
	rawGet := func() (int64, error) {
		if _, err := conn.Write(frame('G')); err != nil {
			return 0, err
		}
		return io.CopyN(io.Discard, conn, size)
	}
	return []measure.Case{
		{Name: Put(FloorGRPC), Run: onceEach(grpcPut)}, {Name: Get(FloorGRPC), Run: onceEach(grpcGet)},
		{Name: Put(FloorUnix), Run: onceEach(rawPut)}, {Name: Get(FloorUnix), Run: onceEach(rawGet)},
	}, nil
}

// onceEach runs fn n times, each timed on its own, and adds the samples.
func onceEach(fn func() (int64, error)) func(int) (measure.Sample, error) {
	return func(n int) (measure.Sample, error) {
		var all measure.Sample
		for range n {
			smp, err := measure.Once(fn)
			if err != nil {
				return all, err
			}
			all = merge(all, smp)
		}
		return all, nil
	}
}
