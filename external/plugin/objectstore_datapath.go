package plugin

import (
	"bytes"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/rigging-dev/rigging"
	riggingv1 "github.com/rigging-dev/rigging/external/generated/rigging/v1"
	"github.com/rigging-dev/rigging/external/internal/wire"
)

// DataPathEnv, set to "off" in a plugin's environment, makes Serve leave
// rigging's data path unregistered: a rigging host then streams object
// bodies in Velero's 16 KiB chunks, as it does with any Velero-framework
// plugin.
const DataPathEnv = "RIGGING_PLUGIN_DATAPATH"

// tokenTimeout bounds how long an accepted data connection may take to
// present its token.
const tokenTimeout = 10 * time.Second

// dataPath serves rigging.v1.DataPath: object bodies over a unix socket in
// a private directory, created at the first Hello (a Velero host never
// sends one, so it never exists for Velero) and removed by close. Each
// transfer's connection must present the one-time token its RPC issued.
type dataPath struct {
	riggingv1.UnimplementedDataPathServer
	m *mux
	// parent is where the private directory is created: the host's
	// PLUGIN_UNIX_SOCKET_DIR when set (removed by the host even if this
	// process is killed), else the system's temporary directory.
	parent string

	mu      sync.Mutex
	ln      net.Listener
	dir     string
	lnErr   error
	closed  bool
	pending map[[wire.TokenIDLen]byte]*ticket
}

// ticket is one issued, not yet used token.
type ticket struct {
	id     [wire.TokenIDLen]byte
	secret []byte
	conn   chan net.Conn // receives the connection that presented it
}

func newDataPath() *dataPath {
	return &dataPath{parent: os.Getenv("PLUGIN_UNIX_SOCKET_DIR"), pending: map[[wire.TokenIDLen]byte]*ticket{}}
}

// registerDataPath registers the data path of a server Serve builds
// (opts.dataPath set) on s; NewGRPCServer alone serves only Velero's
// protocol.
func registerDataPath(s *grpc.Server, m *mux) {
	if dp := m.opts.dataPath; dp != nil {
		dp.m = m
		riggingv1.RegisterDataPathServer(s, dp)
	}
}

func (d *dataPath) logger() *slog.Logger {
	if d.m != nil {
		return d.m.log
	}
	return slog.Default()
}

// Hello offers the socket, listening at the first call.
func (d *dataPath) Hello(_ context.Context, req *riggingv1.DataPathHelloRequest) (*riggingv1.DataPathHelloResponse, error) {
	shared := false
	for _, v := range req.Versions {
		shared = shared || v == wire.DataPathVersion
	}
	if !shared {
		return &riggingv1.DataPathHelloResponse{}, nil
	}
	addr, err := d.listen()
	if err != nil {
		d.logger().Warn("data path unavailable; object bodies stream in gRPC chunks", "error", err)
		return &riggingv1.DataPathHelloResponse{}, nil
	}
	return &riggingv1.DataPathHelloResponse{Version: wire.DataPathVersion, Network: "unix", Address: addr}, nil
}

func (d *dataPath) listen() (string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return "", errors.New("data path closed")
	}
	if d.ln != nil || d.lnErr != nil {
		return d.addr(), d.lnErr
	}
	dir, err := os.MkdirTemp(d.parent, "rigging-data-") // 0700
	if err != nil {
		d.lnErr = fmt.Errorf("data path directory: %w", err)
		return "", d.lnErr
	}
	ln, err := net.Listen("unix", filepath.Join(dir, "data.sock"))
	if err != nil {
		os.RemoveAll(dir)
		d.lnErr = fmt.Errorf("data path socket: %w", err)
		return "", d.lnErr
	}
	d.ln, d.dir = ln, dir
	go d.accept(ln)
	return d.addr(), nil
}

func (d *dataPath) addr() string {
	if d.ln == nil {
		return ""
	}
	return d.ln.Addr().String()
}

// close stops listening and removes the directory.
func (d *dataPath) close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.closed = true
	if d.ln != nil {
		d.ln.Close()
		os.RemoveAll(d.dir)
		d.ln = nil
	}
}

func (d *dataPath) accept(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return // closed
		}
		go d.admit(c)
	}
}

// admit hands a connection to the transfer whose token it presents, or
// closes it.
func (d *dataPath) admit(c net.Conn) {
	tok := make([]byte, wire.TokenLen)
	c.SetReadDeadline(time.Now().Add(tokenTimeout))
	if _, err := io.ReadFull(c, tok); err != nil {
		c.Close()
		return
	}
	c.SetReadDeadline(time.Time{})
	id := [wire.TokenIDLen]byte(tok[:wire.TokenIDLen])
	d.mu.Lock()
	t := d.pending[id]
	ok := t != nil && subtle.ConstantTimeCompare(t.secret, tok[wire.TokenIDLen:]) == 1
	if ok {
		delete(d.pending, id) // a token admits one connection
	}
	d.mu.Unlock()
	if !ok {
		d.logger().Warn("data path: connection with an unknown token refused")
		c.Close()
		return
	}
	t.conn <- c // buffered; the only send
}

// issue creates a ticket and returns its token.
func (d *dataPath) issue() (*ticket, []byte, error) {
	tok, err := wire.NewToken()
	if err != nil {
		return nil, nil, err
	}
	t := &ticket{id: [wire.TokenIDLen]byte(tok[:wire.TokenIDLen]), secret: tok[wire.TokenIDLen:], conn: make(chan net.Conn, 1)}
	d.mu.Lock()
	d.pending[t.id] = t
	d.mu.Unlock()
	return t, tok, nil
}

// wait returns the connection that presented t's token, or ctx's error
// (the ticket is then withdrawn, and a connection that raced it closed).
func (d *dataPath) wait(ctx context.Context, t *ticket) (net.Conn, error) {
	select {
	case c := <-t.conn:
		return c, nil
	case <-ctx.Done():
	}
	d.mu.Lock()
	delete(d.pending, t.id)
	d.mu.Unlock()
	select {
	case c := <-t.conn:
		c.Close()
	default:
	}
	return nil, status.FromContextError(ctx.Err()).Err()
}

// open issues a ticket on stream (carrying head, the start of a body) and
// returns the connection that presents it, closed when ctx ends (so a
// blocked read or write returns) and by the returned function.
func (d *dataPath) open(ctx context.Context, stream grpc.ServerStreamingServer[riggingv1.DataPathTicket], head []byte) (net.Conn, func(), error) {
	t, tok, err := d.issue()
	if err != nil {
		return nil, nil, err
	}
	if err := stream.Send(&riggingv1.DataPathTicket{Token: tok, Body: head}); err != nil {
		d.mu.Lock()
		delete(d.pending, t.id)
		d.mu.Unlock()
		return nil, nil, err
	}
	c, err := d.wait(ctx, t)
	if err != nil {
		return nil, nil, err
	}
	stop := context.AfterFunc(ctx, func() { c.Close() })
	return c, func() { stop(); c.Close() }, nil
}

// PutObject runs the implementation's PutObject on the body: the
// request's when it is whole (small objects), else the one read from the
// ticket's connection. The implementation's result is the RPC's, as on
// Velero's path; a body the host aborted (or whose connection broke) is
// never reported as stored, even by an implementation that ignored the
// read error.
func (d *dataPath) PutObject(req *riggingv1.DataPathObjectRequest, stream grpc.ServerStreamingServer[riggingv1.DataPathTicket]) error {
	impl, err := handlerFor[rigging.ObjectStore](d.m, rigging.KindObjectStore, req.Plugin)
	if err != nil {
		return err
	}
	ctx := stream.Context()
	if req.Whole {
		return ctxStatus(ctx, impl.PutObject(ctx, req.Bucket, req.Key, bytes.NewReader(req.Body)))
	}
	c, done, err := d.open(ctx, stream, nil)
	if err != nil {
		return err
	}
	defer done()
	body := wire.NewFrameReader(c)
	err = impl.PutObject(ctx, req.Bucket, req.Key, body)
	if berr := body.Err(); err == nil && berr != nil && !errors.Is(berr, io.EOF) {
		return status.Errorf(codes.Aborted, "put %s: %v", req.Key, berr)
	}
	return ctxStatus(ctx, err)
}

// ctxStatus returns err, or the status of ctx's end when the RPC's context
// ended (an implementation failing with ctx.Err() or with what a closed
// connection made of it), so the host sees DeadlineExceeded or Canceled
// whichever side noticed first.
func ctxStatus(ctx context.Context, err error) error {
	if err != nil && ctx.Err() != nil {
		return status.FromContextError(ctx.Err()).Err()
	}
	return err
}

// GetObject opens the object (its error ends the RPC before any ticket)
// and reads up to wire.InlineMax bytes of it. A body that ends there goes
// whole in the ticket; a longer one continues on the ticket's connection.
// A read error sends what was read (in the ticket, or then an abort frame)
// and ends the RPC with that error.
func (d *dataPath) GetObject(req *riggingv1.DataPathObjectRequest, stream grpc.ServerStreamingServer[riggingv1.DataPathTicket]) error {
	impl, err := handlerFor[rigging.ObjectStore](d.m, rigging.KindObjectStore, req.Plugin)
	if err != nil {
		return err
	}
	ctx := stream.Context()
	rc, err := impl.GetObject(ctx, req.Bucket, req.Key)
	if err != nil {
		return err
	}
	defer rc.Close()
	hp := wire.GetHead()
	defer wire.PutHead(hp) // Send has encoded the ticket when it returns
	head := *hp
	n, err := io.ReadFull(rc, head)
	switch {
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return stream.Send(&riggingv1.DataPathTicket{Body: head[:n], Whole: true})
	case err != nil:
		if serr := stream.Send(&riggingv1.DataPathTicket{Body: head[:n]}); serr != nil {
			return serr
		}
		return ctxStatus(ctx, err)
	}
	c, done, err := d.open(ctx, stream, head)
	if err != nil {
		return err
	}
	defer done()
	rerr, werr := wire.SendBody(c, rc)
	switch {
	case rerr != nil:
		_ = wire.WriteAbort(c, rerr.Error())
		return ctxStatus(ctx, rerr)
	case werr != nil && ctx.Err() != nil:
		return status.FromContextError(ctx.Err()).Err()
	case werr != nil:
		return status.Errorf(codes.Canceled, "get %s: the host stopped reading: %v", req.Key, werr)
	}
	return nil
}
