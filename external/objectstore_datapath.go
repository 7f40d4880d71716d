package external

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"

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

// dataPathState is what negotiation found for one plugin process (one
// connection: a restarted process has a new one and negotiates again). The
// process holds it (process.dataPathOf); a NewClient connection has none.
type dataPathState struct {
	cc   grpc.ClientConnInterface // the connection it was negotiated on
	log  *slog.Logger
	path string // the plugin binary, for logs

	mu   sync.Mutex
	done bool
	addr string // "": chunked streaming
}

// errUseChunks reports that a transfer must use Velero's chunked streaming;
// nothing of it has reached the plugin's implementation.
var errUseChunks = errors.New("data path unavailable")

// dataPathFor returns the data socket of the process behind cc, negotiating
// at the first transfer, or errUseChunks. Only the catalog's supervised
// processes (local children) use the data path; a Hello that fails other
// than with Unimplemented is returned and tried again at the next transfer.
func (c *objectStoreClient) dataPathFor(ctx context.Context, cc grpc.ClientConnInterface) (string, error) {
	st := c.inv.dataPath(cc)
	if st == nil {
		return "", errUseChunks
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if !st.done {
		res, err := riggingv1.NewDataPathClient(cc).Hello(ctx, &riggingv1.DataPathHelloRequest{Versions: []uint32{wire.DataPathVersion}})
		switch {
		case status.Code(err) == codes.Unimplemented:
			st.debug("plugin has no data path; object bodies stream in gRPC chunks")
		case err != nil:
			return "", err
		case res.GetVersion() == wire.DataPathVersion && res.GetNetwork() == "unix" && res.GetAddress() != "":
			st.addr = res.GetAddress()
			st.debug("object bodies use the plugin's data socket", "address", st.addr)
		default:
			st.debug("plugin offers no data path; object bodies stream in gRPC chunks", "version", res.GetVersion(), "network", res.GetNetwork())
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
	st := c.inv.dataPath(cc)
	if st == nil {
		return
	}
	st.mu.Lock()
	st.addr = ""
	st.mu.Unlock()
	st.log.Warn("plugin data socket unreachable; object bodies stream in gRPC chunks", "path", st.path, "error", why)
}

func (st *dataPathState) debug(msg string, args ...any) {
	st.log.Debug(msg, append([]any{"path", st.path}, args...)...)
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

// aheadBody is a PutObject body with what the data path read ahead of
// sending: kept across the invoker's attempts and handed to chunked
// streaming if the data path is given up.
type aheadBody struct {
	r     io.Reader
	head  []byte
	whole bool  // head is the whole body
	err   error // the body's read error, after head
	read  bool
	buf   *[]byte // head's pooled buffer
}

// release returns the read-ahead buffer; the body must not be read again.
func (b *aheadBody) release() {
	if b.buf != nil {
		wire.PutHead(b.buf)
		b.buf, b.head = nil, nil
	}
}

// peek reads up to wire.InlineMax bytes once.
func (b *aheadBody) peek() {
	if b.read {
		return
	}
	b.read = true
	b.buf = wire.GetHead()
	b.head = *b.buf
	n, err := io.ReadFull(b.r, b.head)
	b.head = b.head[:n]
	switch {
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		b.whole = true
	case err != nil:
		b.err = err
	}
}

// reader returns the whole body: what was read ahead, then the rest.
func (b *aheadBody) reader() io.Reader {
	switch {
	case !b.read:
		return b.r
	case b.err != nil:
		return io.MultiReader(bytes.NewReader(b.head), errorReader{b.err})
	case b.whole:
		return bytes.NewReader(b.head)
	}
	return io.MultiReader(bytes.NewReader(b.head), b.r)
}

type errorReader struct{ err error }

func (r errorReader) Read([]byte) (int, error) { return 0, r.err }

// putData uploads body: inside the RPC when it is small, over the data
// socket at addr otherwise. It returns errUseChunks, having sent nothing,
// when the socket cannot be reached.
func (c *objectStoreClient) putData(ctx context.Context, cc grpc.ClientConnInterface, addr, bucket, key string, body *aheadBody) error {
	body.peek()
	if body.err != nil {
		return &bodyError{body.err}
	}
	req := &riggingv1.DataPathObjectRequest{Plugin: c.name, Bucket: bucket, Key: key}
	if body.whole {
		req.Body, req.Whole = body.head, true
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := riggingv1.NewDataPathClient(cc).PutObject(sctx, req)
	if err != nil {
		return err
	}
	if body.whole {
		return finish(stream)
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
	rerr, werr := wire.SendBody(conn, body.reader())
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

// getData opens the object through the data path: a small body arrives
// whole in the ticket, a larger one continues over the data socket at
// addr. The RPC's deadline is ctx's until the body starts; the reader is
// bound by ctx's cancellation only (as on the chunked path). It returns
// errUseChunks when the socket cannot be reached.
func (c *objectStoreClient) getData(ctx context.Context, cc grpc.ClientConnInterface, addr, bucket, key string) (io.ReadCloser, error) {
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, cancel)
	abandon := func() { stop(); cancel() }
	fail := func(err error) (io.ReadCloser, error) {
		abandon()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	stream, err := riggingv1.NewDataPathClient(cc).GetObject(sctx, &riggingv1.DataPathObjectRequest{Plugin: c.name, Bucket: bucket, Key: key})
	if err != nil {
		return fail(err)
	}
	ticket, err := recvTicket(stream)
	if err != nil {
		return fail(err)
	}
	r := &dataReader{head: ticket.Body, whole: ticket.Whole, stream: stream, cancel: abandon, name: c.name, key: key}
	if len(ticket.Token) == 0 {
		return r, nil // whole, or cut short by an error the RPC's status carries
	}
	conn, err := dialData(ctx, addr, ticket)
	if err != nil {
		if _, ferr := fail(err); ctx.Err() != nil {
			return nil, ferr
		}
		noDataPath(cc, err, c)
		return nil, errUseChunks
	}
	closeConn := context.AfterFunc(sctx, func() { conn.Close() })
	r.body = wire.NewFrameReader(conn)
	r.cancel = func() { closeConn(); abandon(); conn.Close() }
	return r, nil
}

// dataReader reads a GetObject body: head (from the ticket), then, with a
// data connection, its frames. It ends with io.EOF only after the whole
// body (the ticket said whole, or the end frame came) and a successful
// RPC; a body that breaks off ends with the plugin's error (or the
// transport's), never a short io.EOF.
type dataReader struct {
	head      []byte
	whole     bool
	body      *wire.FrameReader // nil: no data connection
	stream    grpc.ServerStreamingClient[riggingv1.DataPathTicket]
	cancel    func()
	err       error
	name, key string
}

func (r *dataReader) Read(p []byte) (int, error) {
	if len(r.head) > 0 {
		n := copy(p, r.head)
		r.head = r.head[n:]
		return n, nil
	}
	if r.err != nil {
		return 0, r.err
	}
	var err error
	n := 0
	switch {
	case r.body != nil:
		if n, err = r.body.Read(p); err == nil {
			return n, nil
		}
	case r.whole:
		err = io.EOF
	default:
		err = wire.ErrTruncated // the RPC's status says why
	}
	r.err = r.end(err)
	r.cancel()
	return n, r.err
}

// end returns the reader's final error after the body ended with err:
// io.EOF for a complete body and a successful RPC, otherwise the RPC's
// status (the plugin's read error, its death, a cancellation) or err.
func (r *dataReader) end(err error) error {
	ferr := finish(r.stream)
	switch {
	case errors.Is(err, io.EOF) && ferr == nil:
		return io.EOF
	case ferr != nil:
		cause := wire.FromStatus(ferr)
		if errors.Is(err, wire.ErrTruncated) {
			cause = fmt.Errorf("%w (%w)", cause, io.ErrUnexpectedEOF)
		}
		return fmt.Errorf("plugin %s: get %s: %w", r.name, r.key, cause)
	}
	return fmt.Errorf("plugin %s: get %s: %w", r.name, r.key, err)
}

// Close ends the transfer (the plugin stops writing); reading after Close
// fails.
func (r *dataReader) Close() error {
	r.cancel()
	r.head = nil
	if r.err == nil {
		r.err = errors.New("read after close")
	}
	return nil
}
