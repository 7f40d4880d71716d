package plugin

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	riggingv1 "github.com/rigging-dev/rigging/external/generated/rigging/v1"
	"github.com/rigging-dev/rigging/external/internal/wire"
)

// TestDataPathSocket: the socket lives in a private directory, a
// connection is admitted only with its ticket's exact token and only
// once, and close removes the directory.
func TestDataPathSocket(t *testing.T) {
	ctx := context.Background()
	d := newDataPath()
	d.parent = t.TempDir()
	if res, err := d.Hello(ctx, &riggingv1.DataPathHelloRequest{Versions: []uint32{99}}); err != nil || res.Address != "" {
		t.Fatalf("Hello without a shared version = %v, %v; want no address", res, err)
	}
	res, err := d.Hello(ctx, &riggingv1.DataPathHelloRequest{Versions: []uint32{wire.DataPathVersion}})
	if err != nil || res.Network != "unix" || res.Version != wire.DataPathVersion {
		t.Fatalf("Hello = %v, %v", res, err)
	}
	fi, err := os.Stat(filepath.Dir(res.Address))
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("socket directory: %v, %v; want mode 0700", fi.Mode(), err)
	}

	tk, tok, err := d.issue()
	if err != nil {
		t.Fatal(err)
	}
	present := func(token []byte) net.Conn {
		t.Helper()
		c, err := net.Dial("unix", res.Address)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		if _, err := c.Write(token); err != nil {
			t.Fatal(err)
		}
		return c
	}
	refused := func(c net.Conn) bool {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err := c.Read(make([]byte, 1))
		return errors.Is(err, io.EOF)
	}

	forged := append([]byte(nil), tok...)
	forged[len(forged)-1] ^= 1
	if c := present(forged); !refused(c) {
		t.Error("a token with a wrong secret was admitted")
	}
	unknown, _ := wire.NewToken()
	if c := present(unknown); !refused(c) {
		t.Error("an unknown token was admitted")
	}

	want := present(tok)
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	got, err := d.wait(wctx, tk)
	if err != nil {
		t.Fatalf("the ticket's connection was not admitted: %v", err)
	}
	defer got.Close()
	if _, err := want.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(got, make([]byte, 1)); err != nil {
		t.Errorf("admitted connection: %v", err)
	}
	if c := present(tok); !refused(c) {
		t.Error("a used token was admitted again")
	}

	// A ticket nobody presents ends with its RPC's context.
	tk2, _, _ := d.issue()
	cctx, cancel2 := context.WithCancel(ctx)
	cancel2()
	if _, err := d.wait(cctx, tk2); status.Code(err) != codes.Canceled {
		t.Errorf("wait after cancel = %v, want Canceled", err)
	}
	d.mu.Lock()
	left := len(d.pending)
	d.mu.Unlock()
	if left != 0 {
		t.Errorf("%d tickets left pending", left)
	}

	d.close()
	if _, err := os.Stat(filepath.Dir(res.Address)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket directory after close: %v", err)
	}
}

// TestFrames: bodies of every shape survive the framing; an abort frame
// and a cut connection end the body with an error, never io.EOF.
func TestFrames(t *testing.T) {
	for _, size := range []int{0, 1, wire.MaxFrame - 1, wire.MaxFrame, wire.MaxFrame + 1, 3*wire.MaxFrame + 7} {
		body := make([]byte, size)
		for i := range body {
			body[i] = byte(i * 31)
		}
		a, b := net.Pipe()
		go func() {
			wire.SendBody(a, bytes.NewReader(body))
			a.Close()
		}()
		got, err := io.ReadAll(wire.NewFrameReader(b))
		if err != nil || !bytes.Equal(got, body) {
			t.Errorf("%d bytes: got %d, %v", size, len(got), err)
		}
	}

	a2, b2 := net.Pipe()
	go func(a net.Conn) {
		wire.SendBody(a, io.MultiReader(bytes.NewReader(make([]byte, 10)), errReader{errors.New("source broke")}))
		wire.WriteAbort(a, "source broke")
		a.Close()
	}(a2)
	got, err := io.ReadAll(wire.NewFrameReader(b2))
	var ae *wire.AbortError
	if len(got) != 10 || !errors.As(err, &ae) || ae.Message != "source broke" {
		t.Errorf("aborted body: %d bytes, %v", len(got), err)
	}

	a3, b3 := net.Pipe()
	go func(a net.Conn) {
		a.Write([]byte{wire.FrameData, 0, 0, 0, 100})
		a.Write(make([]byte, 50))
		a.Close()
	}(a3)
	got, err = io.ReadAll(wire.NewFrameReader(b3))
	if len(got) != 50 || !errors.Is(err, wire.ErrTruncated) || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("cut body: %d bytes, %v", len(got), err)
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }
