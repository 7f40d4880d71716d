package external

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"sync"
	"weak"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	riggingv1 "github.com/rigging-dev/rigging/external/generated/rigging/v1"
	"github.com/rigging-dev/rigging/external/internal/wire"
)

// The host half of rigging's data path (rigging.v1.DataPath; framing in
// package wire): object bodies between a rigging host and a rigging-built
// plugin process travel over a unix socket the plugin offers, one
// connection per transfer, each authorised by a one-time token learned over
// the plugin's gRPC connection. It is negotiated once per plugin process
// (per *grpc.ClientConn: a restarted process has a new one, and negotiates
// again); a plugin that answers Unimplemented (any Velero-framework plugin)
// or offers no socket gets Velero's chunked streaming for that process's
// lifetime.

// dataPathState is what negotiation found for one connection.
type dataPathState struct {
	mu   sync.Mutex
	done bool
	addr string // "": chunked streaming
}

// dataPaths maps a connection (weakly, so a dead process's entry goes with
// its connection) to its dataPathState.
var dataPaths sync.Map // weak.Pointer[grpc.ClientConn] -> *dataPathState

// errUseChunks reports that a transfer must use Velero's chunked streaming;
// nothing of it has reached the plugin's implementation.
var errUseChunks = errors.New("data path unavailable")

// dataPathFor returns the data socket of the process behind cc, negotiating
// at the first transfer, or errUseChunks. Only the catalog's supervised
// processes (local children) use the data path; a Hello that fails other
// than with Unimplemented is returned and tried again at the next transfer.
func (c *objectStoreClient) dataPathFor(ctx context.Context, cc grpc.ClientConnInterface) (string, error) {
	conn, ok := cc.(*grpc.ClientConn)
	if _, sup := c.inv.(*instance); !ok || !sup {
		return "", errUseChunks
	}
	key := weak.Make(conn)
	v, loaded := dataPaths.Load(key)
	if !loaded {
		v, loaded = dataPaths.LoadOrStore(key, &dataPathState{})
		if !loaded {
			runtime.AddCleanup(conn, func(k weak.Pointer[grpc.ClientConn]) { dataPaths.Delete(k) }, key)
		}
	}
	st := v.(*dataPathState)
	st.mu.Lock()
	defer st.mu.Unlock()
	if !st.done {
		res, err := riggingv1.NewDataPathClient(cc).Hello(ctx, &riggingv1.DataPathHelloRequest{Versions: []uint32{wire.DataPathVersion}})
		switch {
		case status.Code(err) == codes.Unimplemented:
			c.logDataPath("plugin has no data path; object bodies stream in gRPC chunks")
		case err != nil:
			return "", err
		case res.GetVersion() == wire.DataPathVersion && res.GetNetwork() == "unix" && res.GetAddress() != "":
			st.addr = res.GetAddress()
			c.logDataPath("object bodies use the plugin's data socket", "address", st.addr)
		default:
			c.logDataPath("plugin offers no data path; object bodies stream in gRPC chunks", "version", res.GetVersion(), "network", res.GetNetwork())
		}
		st.done = true
	}
	if st.addr == "" {
		return "", errUseChunks
	}
	return st.addr, nil
}

// noDataPath makes the process behind cc use chunked streaming from now
// on, after its socket could not be reached.
func noDataPath(cc grpc.ClientConnInterface, why error, c *objectStoreClient) {
	if conn, ok := cc.(*grpc.ClientConn); ok {
		if v, ok := dataPaths.Load(weak.Make(conn)); ok {
			st := v.(*dataPathState)
			st.mu.Lock()
			st.addr = ""
			st.mu.Unlock()
		}
	}
	if in, ok := c.inv.(*instance); ok {
		in.p.log.Warn("plugin data socket unreachable; object bodies stream in gRPC chunks", "path", in.p.path, "error", why)
	}
}

func (c *objectStoreClient) logDataPath(msg string, args ...any) {
	if in, ok := c.inv.(*instance); ok {
		in.p.log.Debug(msg, append([]any{"path", in.p.path}, args...)...)
	}
}

// dialData connects to the data socket and presents the ticket's token.
func dialData(ctx context.Context, addr string, ticket *riggingv1.DataPathTicket) (net.Conn, error) {
	if len(ticket.GetToken()) != wire.TokenLen {
		return nil, fmt.Errorf("data path: token of %d bytes, want %d", len(ticket.GetToken()), wire.TokenLen)
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", addr)
	if err != nil {
		return nil, err
	}
	if _, err := conn.Write(ticket.Token); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// recvTicket receives a transfer's ticket: the RPC's first (only) message.
func recvTicket(stream grpc.ServerStreamingClient[riggingv1.DataPathTicket]) (*riggingv1.DataPathTicket, error) {
	t, err := stream.Recv()
	if errors.Is(err, io.EOF) {
		return nil, errors.New("data path: the plugin ended the transfer without a ticket")
	}
	return t, err
}

// finish waits for the end of a transfer's RPC: nil when it ended well
// (io.EOF), its status otherwise.
func finish(stream grpc.ServerStreamingClient[riggingv1.DataPathTicket]) error {
	_, err := stream.Recv()
	if errors.Is(err, io.EOF) {
		return nil
	}
	if err == nil {
		return errors.New("data path: unexpected second ticket")
	}
	return err
}

// putData uploads body over the data socket at addr. It returns
// errUseChunks, having read nothing of body, when the socket cannot be
// reached.
func (c *objectStoreClient) putData(ctx context.Context, cc grpc.ClientConnInterface, addr, bucket, key string, body io.Reader) error {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := riggingv1.NewDataPathClient(cc).PutObject(sctx, &riggingv1.DataPathObjectRequest{Plugin: c.name, Bucket: bucket, Key: key})
	if err != nil {
		return err
	}
	ticket, err := recvTicket(stream)
	if err != nil {
		return err
	}
	conn, err := dialData(sctx, addr, ticket)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		cancel()
		noDataPath(cc, err, c)
		return errUseChunks
	}
	defer conn.Close()
	stop := context.AfterFunc(sctx, func() { conn.Close() })
	defer stop()
	rerr, werr := wire.SendBody(conn, body)
	if rerr != nil {
		// Tell the plugin, and end the RPC: its PutObject fails whatever
		// its implementation makes of the broken body.
		_ = wire.WriteAbort(conn, rerr.Error())
		cancel()
		return &bodyError{rerr}
	}
	// After a failed write (the plugin returned early, died, or ctx
	// ended), the RPC's status says why; after the end frame it carries
	// the implementation's result.
	_ = werr
	return finish(stream)
}

// getData opens the object over the data socket at addr: the RPC's
// deadline is ctx's until the body starts, and the reader is bound by
// ctx's cancellation only (as getChunks). It returns errUseChunks when the
// socket cannot be reached.
func (c *objectStoreClient) getData(ctx context.Context, cc grpc.ClientConnInterface, addr, bucket, key string) (io.ReadCloser, error) {
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, cancel)
	abandon := func() { stop(); cancel() }
	stream, err := riggingv1.NewDataPathClient(cc).GetObject(sctx, &riggingv1.DataPathObjectRequest{Plugin: c.name, Bucket: bucket, Key: key})
	if err != nil {
		abandon()
		return nil, err
	}
	ticket, err := recvTicket(stream)
	if err == nil {
		var conn net.Conn
		if conn, err = dialData(ctx, addr, ticket); err == nil {
			closeConn := context.AfterFunc(sctx, func() { conn.Close() })
			return &dataReader{body: wire.NewFrameReader(conn), conn: conn, stream: stream,
				cancel: func() { closeConn(); abandon(); conn.Close() }, name: c.name, key: key}, nil
		}
		abandon()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		noDataPath(cc, err, c)
		return nil, errUseChunks
	}
	abandon()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return nil, err
}

// dataReader reads a GetObject body from the data socket. It ends with
// io.EOF only after the plugin's end frame and a successful RPC; a body
// that breaks off ends with the plugin's error (or the transport's), never
// a short io.EOF.
type dataReader struct {
	body      *wire.FrameReader
	conn      net.Conn
	stream    grpc.ServerStreamingClient[riggingv1.DataPathTicket]
	cancel    func()
	err       error
	name, key string
}

func (r *dataReader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	n, err := r.body.Read(p)
	if err == nil {
		return n, nil
	}
	if errors.Is(err, io.EOF) {
		if ferr := finish(r.stream); ferr != nil {
			r.err = fmt.Errorf("plugin %s: get %s: %w", r.name, r.key, wire.FromStatus(ferr))
		} else {
			r.err = io.EOF
		}
		r.cancel()
		return n, r.err
	}
	// An abort frame or a broken connection: the RPC's status says why
	// (the plugin's read error, its death, a cancellation).
	cause := err
	if ferr := finish(r.stream); ferr != nil {
		cause = wire.FromStatus(ferr)
		if errors.Is(err, wire.ErrTruncated) {
			cause = fmt.Errorf("%w (%w)", cause, io.ErrUnexpectedEOF)
		}
	}
	r.err = fmt.Errorf("plugin %s: get %s: %w", r.name, r.key, cause)
	r.cancel()
	return n, r.err
}

// Close ends the transfer (the plugin stops writing); reading after Close
// fails.
func (r *dataReader) Close() error {
	r.cancel()
	if r.err == nil {
		r.err = errors.New("read after close")
	}
	return nil
}
