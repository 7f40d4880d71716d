package bench

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/rigging-dev/rigging/bench/fixture"
)

// The floors: a process that answers the same bytes an Execute call moves
// (item and Backup JSON in, item JSON out) as cheaply as its transport
// allows, once over a bare gRPC unary method and once over a bare unix
// socket with length-prefixed frames. No plugin code, no JSON decoding.
const (
	floorGRPCSocket = "grpc.sock"
	floorRawSocket  = "raw.sock"
	floorMethod     = "/rigging.bench.Floor/Echo"
	floorReady      = "floor ready"
)

// podLen is the size of the answer: the pod's JSON, as an action returns
// it.
var podLen = len(fixture.Compact(fixture.PodJSON))

var floorService = grpc.ServiceDesc{
	ServiceName: "rigging.bench.Floor",
	HandlerType: (*any)(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "Echo",
		Handler: func(_ any, _ context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
			in := new(wrapperspb.BytesValue)
			if err := dec(in); err != nil {
				return nil, err
			}
			return wrapperspb.Bytes(in.Value[:min(podLen, len(in.Value))]), nil
		},
	}},
	Streams: floorStreams,
}

// ServeFloor serves both floors on unix sockets in dir, writes a ready
// line to out, and serves until in (the parent's end of a pipe) closes.
// `rigging bench floor` and the test binary run it in a child process.
func ServeFloor(dir string, in io.Reader, out io.Writer) error {
	gl, err := net.Listen("unix", filepath.Join(dir, floorGRPCSocket))
	if err != nil {
		return fmt.Errorf("floor: %w", err)
	}
	rl, err := net.Listen("unix", filepath.Join(dir, floorRawSocket))
	if err != nil {
		gl.Close()
		return fmt.Errorf("floor: %w", err)
	}
	sl, err := net.Listen("unix", filepath.Join(dir, floorStreamSocket))
	if err != nil {
		gl.Close()
		rl.Close()
		return fmt.Errorf("floor: %w", err)
	}
	srv := grpc.NewServer()
	srv.RegisterService(&floorService, nil)
	go srv.Serve(gl)
	go serveRaw(rl)
	go serveRawStreams(sl)
	fmt.Fprintln(out, floorReady)
	_, _ = io.Copy(io.Discard, in)
	srv.Stop()
	rl.Close()
	sl.Close()
	return nil
}

func serveRaw(l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			r := bufio.NewReader(c)
			var hdr [4]byte
			buf := make([]byte, 64<<10)
			for {
				if _, err := io.ReadFull(r, hdr[:]); err != nil {
					return
				}
				n := int(binary.BigEndian.Uint32(hdr[:]))
				if n > len(buf) {
					buf = make([]byte, n)
				}
				if _, err := io.ReadFull(r, buf[:n]); err != nil {
					return
				}
				m := min(podLen, n)
				binary.BigEndian.PutUint32(hdr[:], uint32(m))
				if _, err := c.Write(append(hdr[:], buf[:m]...)); err != nil {
					return
				}
			}
		}()
	}
}

// floor is the client side of a running floor process.
type floor struct {
	cmd   *exec.Cmd
	in    io.WriteCloser
	cc    *grpc.ClientConn
	dir   string
	req   []byte // item and Backup JSON, as one payload
	conn  net.Conn
	extra []net.Conn
}

// startFloor starts the floor command in a new temporary directory and
// connects to both sockets.
func startFloor(command func(dir string) *exec.Cmd) (*floor, error) {
	dir, err := os.MkdirTemp("", "rigging-floor-")
	if err != nil {
		return nil, err
	}
	f := &floor{dir: dir, req: append(fixture.Compact(fixture.PodJSON), fixture.Compact(fixture.BackupJSON)...)}
	f.cmd = command(dir)
	f.cmd.Stderr = os.Stderr
	if f.in, err = f.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	out, err := f.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := f.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("floor: start %s: %w", f.cmd.Path, err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if strings.TrimSpace(line) != floorReady {
		f.close()
		return nil, fmt.Errorf("floor: %s did not start (%q, %v)", f.cmd.Path, line, err)
	}
	f.cc, err = grpc.NewClient("unix://"+filepath.Join(dir, floorGRPCSocket), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		f.close()
		return nil, err
	}
	if f.conn, err = net.DialTimeout("unix", filepath.Join(dir, floorRawSocket), 10*time.Second); err != nil {
		f.close()
		return nil, err
	}
	return f, nil
}

// grpcCall is one unary round trip of the Execute payload.
func (f *floor) grpcCall(ctx context.Context) error {
	out := new(wrapperspb.BytesValue)
	if err := f.cc.Invoke(ctx, floorMethod, wrapperspb.Bytes(f.req), out); err != nil {
		return err
	}
	if len(out.Value) != podLen {
		return fmt.Errorf("floor answered %d bytes, want %d", len(out.Value), podLen)
	}
	return nil
}

// rawCall is one round trip over the bare socket (one goroutine only).
func (f *floor) rawCall(buf []byte) error {
	msg := binary.BigEndian.AppendUint32(buf[:0], uint32(len(f.req)))
	msg = append(msg, f.req...)
	if _, err := f.conn.Write(msg); err != nil {
		return err
	}
	if _, err := io.ReadFull(f.conn, buf[:4]); err != nil {
		return err
	}
	n := int(binary.BigEndian.Uint32(buf[:4]))
	if n != podLen {
		return errors.New("floor: short answer")
	}
	_, err := io.ReadFull(f.conn, buf[:n])
	return err
}

func (f *floor) close() {
	if f.cc != nil {
		f.cc.Close()
	}
	if f.conn != nil {
		f.conn.Close()
	}
	for _, c := range f.extra {
		c.Close()
	}
	if f.in != nil {
		f.in.Close()
	}
	if f.cmd.Process != nil {
		_ = f.cmd.Wait()
	}
	os.RemoveAll(f.dir)
}
