package external

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/external/plugin"
)

// dpOpen starts a catalog over the dpStore plugin (env added to the
// plugin's) and returns its store and the client behind it.
func dpOpen(t testing.TB, opts Options, env ...string) (rigging.ObjectStore, *objectStoreClient) {
	t.Helper()
	opts.Dir = dpPluginDir(t, env...)
	if opts.Logger == nil {
		if tt, ok := t.(*testing.T); ok {
			opts.Logger = testLogger(tt)
		}
	}
	c, err := Discover(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	v, err := c.Open(context.Background(), rigging.KindObjectStore, dpStoreName)
	if err != nil {
		t.Fatal(err)
	}
	s := v.(*objectStoreClient)
	return s, s
}

// usesDataPath reports what negotiation found for c's current process.
func usesDataPath(t *testing.T, c *objectStoreClient) bool {
	t.Helper()
	st := c.inv.(*supervisedInvoker).p.dp.Load()
	if st == nil {
		t.Fatal("no process")
	}
	st.mu.Lock()
	if !st.done {
		t.Fatal("not negotiated")
	}
	st.mu.Unlock()
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.addr != ""
}

// baseline is this process's goroutines and open descriptors.
type baseline struct{ goroutines, fds int }

func measureBaseline(t *testing.T) baseline {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	return baseline{runtime.NumGoroutine(), len(ents)}
}

// settle waits up to 10s for the process to return to b, and fails the
// test naming what leaked otherwise.
func settle(t *testing.T, b baseline) {
	t.Helper()
	var now baseline
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		runtime.GC()
		if now = measureBaseline(t); now.goroutines <= b.goroutines && now.fds <= b.fds {
			return
		}
	}
	buf := make([]byte, 1<<20)
	t.Errorf("leak: %d goroutines (was %d), %d fds (was %d)\n%s", now.goroutines, b.goroutines, now.fds, b.fds, buf[:runtime.Stack(buf, true)])
}

// checkPattern reads r to its end and checks it holds size pattern bytes.
func checkPattern(r io.Reader, size int64) error {
	buf := make([]byte, 300<<10)
	var off int64
	for {
		n, err := r.Read(buf)
		for i := range n {
			if buf[i] != pattern(off+int64(i)) {
				return fmt.Errorf("byte %d = %d, want %d", off+int64(i), buf[i], pattern(off+int64(i)))
			}
		}
		off += int64(n)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("after %d bytes: %w", off, err)
		}
	}
	if off != size {
		return fmt.Errorf("%d bytes, want %d", off, size)
	}
	return nil
}

// TestDataPathRoundTrip puts and gets objects of every interesting size,
// over the data path and over Velero's chunked streaming (a plugin with
// the data path switched off), and checks which one was used.
func TestDataPathRoundTrip(t *testing.T) {
	ctx := context.Background()
	// Up to 64 KiB the data path sends bodies inside the RPC; beyond, over
	// its socket.
	sizes := []int64{0, 1, 64 << 10, 64<<10 + 1, 1<<20 + 1, 64 << 20}
	for _, mode := range []struct {
		name string
		env  []string
		data bool
	}{{"datapath", nil, true}, {"chunked", []string{plugin.DataPathEnv + "=off"}, false}} {
		t.Run(mode.name, func(t *testing.T) {
			s, c := dpOpen(t, Options{}, mode.env...)
			if err := s.PutObject(ctx, "b", "warm", &patternReader{size: 1}); err != nil { // start, negotiate
				t.Fatal(err)
			}
			base := measureBaseline(t)
			for _, size := range sizes {
				key := fmt.Sprintf("obj/%d", size)
				if err := s.PutObject(ctx, "b", key, &patternReader{size: size}); err != nil {
					t.Fatalf("put %d bytes: %v", size, err)
				}
				rc, err := s.GetObject(ctx, "b", key)
				if err != nil {
					t.Fatalf("get %d bytes: %v", size, err)
				}
				if err := checkPattern(rc, size); err != nil {
					t.Errorf("get %d bytes: %v", size, err)
				}
				rc.Close()
				// The plugin's own generated body.
				rc, err = s.GetObject(ctx, "b", fmt.Sprintf("size/%d", size))
				if err != nil {
					t.Fatal(err)
				}
				if err := checkPattern(rc, size); err != nil {
					t.Errorf("get size/%d: %v", size, err)
				}
				rc.Close()
			}
			if got := usesDataPath(t, c); got != mode.data {
				t.Errorf("data path used = %v, want %v", got, mode.data)
			}
			settle(t, base)
		})
	}
}

// failingReader returns n pattern bytes, then err.
type failingReader struct {
	patternReader
	err error
}

func (r *failingReader) Read(p []byte) (int, error) {
	n, err := r.patternReader.Read(p)
	if err == io.EOF {
		return 0, r.err
	}
	return n, err
}

// TestDataPathPutErrors: what a put reports when the plugin fails, the
// caller's body fails, the process dies, or the context ends; each on the
// data path and on chunked streaming, which must agree.
func TestDataPathPutErrors(t *testing.T) {
	errBody := errors.New("body source broke")
	tests := []struct {
		name        string
		key         string
		body        func() io.Reader
		timeout     time.Duration
		cancelAfter time.Duration
		want        func(error) bool
		says        string
	}{
		{"plugin error", "fail/1048576/k", func() io.Reader { return &patternReader{size: 4 << 20} }, 0, 0,
			func(err error) bool { var re *RemoteError; return errors.As(err, &re) }, "disk full"},
		{"plugin returns early", "early/k", func() io.Reader { return &patternReader{size: 4 << 20} }, 0, 0,
			func(err error) bool { return err == nil }, ""},
		{"body read error", "careless/k", func() io.Reader { return &failingReader{patternReader{size: 3 << 20}, errBody} }, 0, 0,
			func(err error) bool { return errors.Is(err, errBody) }, "read body: body source broke"},
		{"body read error at once", "careless/k", func() io.Reader { return &failingReader{patternReader{size: 100}, errBody} }, 0, 0,
			func(err error) bool { return errors.Is(err, errBody) }, "read body: body source broke"},
		{"process dies", "crash/1048576/k", func() io.Reader { return &patternReader{size: 16 << 20} }, 0, 0,
			func(err error) bool { return errors.Is(err, rigging.ErrPluginUnavailable) }, "the plugin process died"},
		{"deadline", "block/k", func() io.Reader { return &patternReader{size: 64 << 20} }, 500 * time.Millisecond, 0,
			func(err error) bool { return errors.Is(err, context.DeadlineExceeded) }, ""},
		{"cancel", "block/k", func() io.Reader { return &patternReader{size: 64 << 20} }, 0, 300 * time.Millisecond,
			func(err error) bool { return errors.Is(err, context.Canceled) }, ""},
	}
	for _, mode := range []struct {
		name string
		env  []string
	}{{"datapath", nil}, {"chunked", []string{plugin.DataPathEnv + "=off"}}} {
		t.Run(mode.name, func(t *testing.T) {
			s, _ := dpOpen(t, Options{MaxCrashes: 100}, mode.env...)
			if err := s.PutObject(context.Background(), "b", "warm", &patternReader{size: 1}); err != nil { // start, negotiate
				t.Fatal(err)
			}
			base := measureBaseline(t)
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					ctx, cancel := context.WithCancel(context.Background())
					defer cancel()
					if tt.timeout > 0 {
						ctx, cancel = context.WithTimeout(ctx, tt.timeout)
						defer cancel()
					}
					if tt.cancelAfter > 0 {
						time.AfterFunc(tt.cancelAfter, cancel)
					}
					start := time.Now()
					err := s.PutObject(ctx, "b", tt.key, tt.body())
					if !tt.want(err) {
						t.Errorf("PutObject = %v (%#v)", err, err)
					}
					if err != nil && !strings.Contains(err.Error(), tt.says) {
						t.Errorf("PutObject = %v, want it to say %q", err, tt.says)
					}
					if d := time.Since(start); d > 5*time.Second {
						t.Errorf("took %v", d)
					}
					// The store works afterwards (restarted if need be).
					if err := s.PutObject(context.Background(), "b", "after", &patternReader{size: 1 << 20}); err != nil {
						t.Errorf("put afterwards: %v", err)
					}
				})
			}
			settle(t, base) // the same number of processes runs: one
		})
	}
}

// TestDataPathGetErrors: an open error comes from GetObject, a failure
// mid-body from Read (never an early io.EOF), on both paths.
func TestDataPathGetErrors(t *testing.T) {
	// The chunked path reads whole 16 KiB chunks, the data path up to 64
	// KiB before its first frame: a source that blocks after a multiple
	// of both has sent all it produced; one that fails sends what it read,
	// then the error.
	tests := []struct {
		name        string
		mode        string
		n           int           // bytes the source produces before it misbehaves
		cancelAfter time.Duration // cancel GetObject's context after reading n bytes
		openErr     func(error) bool
		readErr     func(error) bool
		says        string
	}{
		{"missing", "missing", 0, 0, func(err error) bool { return errors.Is(err, rigging.ErrNotFound) }, nil, "get missing"},
		{"read error", "fail", 3<<20 + 5, 0, nil,
			func(err error) bool { var re *RemoteError; return errors.As(err, &re) }, "disk read error"},
		{"read error in the first bytes", "fail", 100, 0, nil,
			func(err error) bool { var re *RemoteError; return errors.As(err, &re) }, "disk read error"},
		{"process dies", "crash", 3 << 20, 0, nil,
			func(err error) bool { return err != nil && !errors.Is(err, io.EOF) }, "plugin " + dpStoreName + ": get crash/"},
		{"cancel", "block", 3 << 20, time.Millisecond, nil,
			func(err error) bool { return errors.Is(err, context.Canceled) }, ""},
	}
	for _, mode := range []struct {
		name string
		env  []string
	}{{"datapath", nil}, {"chunked", []string{plugin.DataPathEnv + "=off"}}} {
		t.Run(mode.name, func(t *testing.T) {
			s, _ := dpOpen(t, Options{MaxCrashes: 100}, mode.env...)
			if err := s.PutObject(context.Background(), "b", "warm", &patternReader{size: 1}); err != nil { // start, negotiate
				t.Fatal(err)
			}
			base := measureBaseline(t)
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					ctx, cancel := context.WithCancel(context.Background())
					defer cancel()
					key, n := tt.mode, tt.n
					if n > 0 {
						key = fmt.Sprintf("%s/%d", tt.mode, n)
					}
					rc, err := s.GetObject(ctx, "b", key)
					if tt.openErr != nil {
						if !tt.openErr(err) || !strings.Contains(fmt.Sprint(err), tt.says) {
							t.Errorf("GetObject = %v, want an error saying %q", err, tt.says)
						}
						return
					}
					if err != nil {
						t.Fatal(err)
					}
					defer rc.Close()
					start := time.Now()
					if tt.mode == "crash" {
						// What was in flight when the process died may be
						// lost; what counts is that the body ends in an error.
						_, err = io.ReadAll(rc)
					} else {
						got, rerr := io.ReadAll(io.LimitReader(rc, int64(n)))
						if rerr != nil || len(got) != n {
							t.Fatalf("first %d bytes: %d, %v", n, len(got), rerr)
						}
						if tt.cancelAfter > 0 {
							time.AfterFunc(tt.cancelAfter, cancel)
						}
						_, err = rc.Read(make([]byte, 10))
					}
					if !tt.readErr(err) || !strings.Contains(fmt.Sprint(err), tt.says) {
						t.Errorf("Read = %v, want an error saying %q", err, tt.says)
					}
					if d := time.Since(start); d > 5*time.Second {
						t.Errorf("took %v", d)
					}
					// The store works afterwards (restarted if need be).
					rc2, err := s.GetObject(context.Background(), "b", "size/100")
					if err == nil {
						err = checkPattern(rc2, 100)
						rc2.Close()
					}
					if err != nil {
						t.Errorf("get afterwards: %v", err)
					}
				})
			}
			settle(t, base) // the same number of processes runs: one
		})
	}
}

// TestDataPathCloseEarlyAndLeaks closes readers early, reads to the end,
// and fails a few transfers, then checks that no goroutine or descriptor
// outlives them.
func TestDataPathCloseEarlyAndLeaks(t *testing.T) {
	ctx := context.Background()
	s, c := dpOpen(t, Options{})
	if err := s.PutObject(ctx, "b", "warm", &patternReader{size: 1}); err != nil { // negotiate, start
		t.Fatal(err)
	}
	base := measureBaseline(t)
	for range 5 {
		rc, err := s.GetObject(ctx, "b", "size/67108864")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(rc, make([]byte, 10)); err != nil {
			t.Fatal(err)
		}
		rc.Close()
		if _, err := rc.Read(make([]byte, 1)); err == nil {
			t.Error("read after Close succeeded")
		}
		if err := s.PutObject(ctx, "b", "fail/10/k", &patternReader{size: 1 << 20}); err == nil {
			t.Error("failing put succeeded")
		}
		if _, err := s.GetObject(ctx, "b", "missing"); err == nil {
			t.Error("missing object opened")
		}
	}
	if !usesDataPath(t, c) {
		t.Error("data path not used")
	}
	settle(t, base)
}

// TestDataPathConcurrent runs puts and gets in parallel on one process.
func TestDataPathConcurrent(t *testing.T) {
	ctx := context.Background()
	s, c := dpOpen(t, Options{})
	const size = 1<<20 + 1
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 8 {
		wg.Go(func() {
			key := fmt.Sprintf("c/%d", i)
			if err := s.PutObject(ctx, "b", key, &patternReader{size: size}); err != nil {
				errs <- err
				return
			}
			rc, err := s.GetObject(ctx, "b", key)
			if err != nil {
				errs <- err
				return
			}
			defer rc.Close()
			if err := checkPattern(rc, size); err != nil {
				errs <- fmt.Errorf("%s: %w", key, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if !usesDataPath(t, c) {
		t.Error("data path not used")
	}
}

// TestDataPathRenegotiatesAfterRestart: a restarted process negotiates
// again, on its new connection.
func TestDataPathRenegotiatesAfterRestart(t *testing.T) {
	ctx := context.Background()
	s, c := dpOpen(t, Options{})
	if err := s.PutObject(ctx, "b", "k", &patternReader{size: 10}); err != nil {
		t.Fatal(err)
	}
	p := c.inv.(*supervisedInvoker).p
	p.mu.Lock()
	old := p.cc
	p.mu.Unlock()
	if err := s.PutObject(ctx, "b", "crash/1/k", &patternReader{size: 1 << 20}); !errors.Is(err, rigging.ErrPluginUnavailable) {
		t.Fatalf("crash: %v", err)
	}
	if err := s.PutObject(ctx, "b", "k", &patternReader{size: 10}); err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	now := p.cc
	p.mu.Unlock()
	if now == old {
		t.Fatal("no restart")
	}
	if !usesDataPath(t, c) {
		t.Error("restarted process does not use the data path")
	}
	var _ grpc.ClientConnInterface = now
}

// TestDataPathMTLS: with AutoMTLS on the control connection, the data path
// still negotiates (its tokens travel over the TLS connection) and works.
func TestDataPathMTLS(t *testing.T) {
	ctx := context.Background()
	s, c := dpOpen(t, Options{AutoMTLS: true, RequireMTLS: true})
	body := bytes.Repeat([]byte("rigging"), 300000)
	if err := s.PutObject(ctx, "b", "k", bytes.NewReader(body)); err != nil {
		t.Fatal(err)
	}
	rc, err := s.GetObject(ctx, "b", "k")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	if err != nil || !bytes.Equal(got, body) {
		t.Errorf("got %d bytes, %v", len(got), err)
	}
	if !usesDataPath(t, c) {
		t.Error("data path not used")
	}
}
