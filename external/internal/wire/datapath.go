package wire

import (
	"bufio"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
)

// The data path (service rigging.v1.DataPath, framing version 1) moves
// object bodies between a rigging host and a rigging-built plugin over a
// unix-domain socket instead of 16 KiB gRPC messages. A connection starts
// with the TokenLen-byte token of its RPC (host to plugin), then carries
// one body as frames, each a FrameHeaderLen-byte header (a type byte, then
// the payload length as a big-endian uint32) and its payload:
//
//	'd' data, 1..MaxFrame bytes of the body
//	'e' end of the body, no payload: everything before it arrived
//	'x' abort, payload = a message: the sender could not produce the rest
//
// A body is complete only after its end frame; a connection that ends
// before it is a truncated body, never a short one.
const (
	DataPathVersion = 1
	TokenIDLen      = 16
	TokenSecretLen  = 32
	TokenLen        = TokenIDLen + TokenSecretLen
	FrameHeaderLen  = 5
	MaxFrame        = 1 << 20
	// InlineMax is the largest body that travels inside the RPC instead of
	// over the socket (the socket's set-up costs more than it saves).
	InlineMax = 64 << 10

	FrameData  byte = 'd'
	FrameEnd   byte = 'e'
	FrameAbort byte = 'x'
)

// ErrTruncated reports a data connection that ended before the body's end
// frame. It wraps io.ErrUnexpectedEOF.
var ErrTruncated = fmt.Errorf("data connection closed before the end of the body: %w", io.ErrUnexpectedEOF)

// AbortError is the message of an abort frame: the sender failed to produce
// the rest of the body.
type AbortError struct{ Message string }

func (e *AbortError) Error() string { return "the sender aborted the body: " + e.Message }

// NewToken returns a fresh random token: TokenIDLen bytes naming the
// transfer, then TokenSecretLen secret bytes (256 bits) authorising it.
func NewToken() ([]byte, error) {
	t := make([]byte, TokenLen)
	if _, err := rand.Read(t); err != nil {
		return nil, fmt.Errorf("data path token: %w", err)
	}
	return t, nil
}

// sendBufs holds SendBody's buffers: a header, MaxFrame bytes, and room for
// the end frame's header, so the last data frame and the end frame go out
// in one write.
var sendBufs = sync.Pool{New: func() any {
	b := make([]byte, FrameHeaderLen+MaxFrame+FrameHeaderLen)
	return &b
}}

// heads holds InlineMax-byte buffers for the start of bodies.
var heads = sync.Pool{New: func() any {
	b := make([]byte, InlineMax)
	return &b
}}

// GetHead returns an InlineMax-byte buffer; PutHead takes it back once
// nothing refers to it any more.
func GetHead() *[]byte { return heads.Get().(*[]byte) }

// PutHead returns a buffer from GetHead.
func PutHead(b *[]byte) { heads.Put(b) }

func putHeader(b []byte, typ byte, n int) {
	b[0] = typ
	binary.BigEndian.PutUint32(b[1:FrameHeaderLen], uint32(n))
}

// SendBody copies r to w as data frames followed by an end frame, one
// frame per Read (as io.Copy does: a source that pauses has sent all it
// produced so far). It returns r's error (the body could not be read: what
// was read before it was sent, no end frame was) or w's (the peer stopped
// reading) separately; at most one is non-nil.
func SendBody(w io.Writer, r io.Reader) (readErr, writeErr error) {
	bp := sendBufs.Get().(*[]byte)
	defer sendBufs.Put(bp)
	buf := *bp
	for {
		n, err := r.Read(buf[FrameHeaderLen : FrameHeaderLen+MaxFrame])
		end := errors.Is(err, io.EOF)
		out := buf[:0]
		if n > 0 {
			putHeader(buf, FrameData, n)
			out = buf[:FrameHeaderLen+n]
		}
		if end {
			putHeader(buf[len(out):], FrameEnd, 0)
			out = buf[:len(out)+FrameHeaderLen]
		}
		if len(out) > 0 {
			if _, werr := w.Write(out); werr != nil {
				return nil, werr
			}
		}
		switch {
		case end:
			return nil, nil
		case err != nil:
			return err, nil
		}
	}
}

// WriteAbort writes an abort frame carrying msg (truncated to MaxFrame).
func WriteAbort(w io.Writer, msg string) error {
	if len(msg) > MaxFrame {
		msg = msg[:MaxFrame]
	}
	b := make([]byte, FrameHeaderLen+len(msg))
	putHeader(b, FrameAbort, len(msg))
	copy(b[FrameHeaderLen:], msg)
	_, err := w.Write(b)
	return err
}

// FrameReader reads a framed body: io.EOF after the end frame, an
// *AbortError after an abort frame, ErrTruncated when the connection ends
// before either, and a protocol error for anything else. Errors are
// sticky.
type FrameReader struct {
	r    *bufio.Reader
	left int
	err  error
}

// NewFrameReader returns a FrameReader reading r.
func NewFrameReader(r io.Reader) *FrameReader {
	return &FrameReader{r: bufio.NewReaderSize(r, 64<<10)}
}

// Err returns the error that ended the body (io.EOF after a complete one),
// or nil while it is still being read.
func (f *FrameReader) Err() error { return f.err }

// Read implements io.Reader.
func (f *FrameReader) Read(p []byte) (int, error) {
	for f.left == 0 {
		if f.err != nil {
			return 0, f.err
		}
		f.err = f.next()
	}
	if len(p) == 0 {
		return 0, nil
	}
	if len(p) > f.left {
		p = p[:f.left]
	}
	n, err := f.r.Read(p)
	f.left -= n
	if err != nil {
		f.err, f.left = truncated(err), 0
		if n == 0 {
			return 0, f.err
		}
	}
	return n, nil
}

// next reads a frame header; it returns nil at a data frame (f.left set).
func (f *FrameReader) next() error {
	var h [FrameHeaderLen]byte
	if _, err := io.ReadFull(f.r, h[:]); err != nil {
		return truncated(err)
	}
	n := int(binary.BigEndian.Uint32(h[1:]))
	switch {
	case h[0] == FrameData && n > 0 && n <= MaxFrame:
		f.left = n
		return nil
	case h[0] == FrameEnd && n == 0:
		return io.EOF
	case h[0] == FrameAbort && n <= MaxFrame:
		msg := make([]byte, n)
		if _, err := io.ReadFull(f.r, msg); err != nil {
			return truncated(err)
		}
		return &AbortError{Message: string(msg)}
	}
	return fmt.Errorf("data path: invalid frame %q of %d bytes", h[0], n)
}

func truncated(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return ErrTruncated
	}
	return fmt.Errorf("%w: %w", ErrTruncated, err)
}
