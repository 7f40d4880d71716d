package resources

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// ErrSpoolClosed is returned by a Spool's writes and reads after Close.
var ErrSpoolClosed = errors.New("spool: closed")

// Spool is an append-only temporary file that holds objects' JSON outside
// the process's memory: a JSONIndex given objects encoded by Spool.Encode
// keeps, per object, only where its JSON is in the file, and reads it back
// (one pread) when it decodes the object or is asked for its JSON.
//
// The file is removed from its directory as soon as it is created (on
// Linux and every system that lets an open file be unlinked): it has no
// name to leave behind whatever way the process ends, Ctrl-C and SIGKILL
// included; its blocks are freed when Close runs or the process exits.
// Where an open file cannot be removed, Close removes it.
//
// A Spool made with a memory allowance (SetMemory) keeps the first objects
// in memory, up to that many bytes of JSON, and writes only the rest to
// the file: a small input stays as fast as one held in memory, a large
// one costs that allowance and no more.
//
// A Spool is safe for concurrent use: Encode, reads and Close may run at
// once from any goroutines.
type Spool struct {
	f *os.File
	// path is the file's name while it still has one (a system that could
	// not unlink it open), "" once removed.
	path string

	mu sync.Mutex
	w  *bufio.Writer
	// size is the bytes written (buffered or not), flushed the bytes the
	// file holds.
	size, flushed int64
	closed        bool
	err           error // the first write error: every later write fails with it
	// memLeft is the memory allowance not used yet, inMemory the bytes of
	// JSON kept in memory.
	memLeft, inMemory int64
}

// spoolBuffer is the write buffer of a Spool: objects are written to the
// file in runs of this size.
const spoolBuffer = 1 << 20

// NewSpool creates an empty Spool in dir ("": os.TempDir()).
func NewSpool(dir string) (*Spool, error) {
	f, err := os.CreateTemp(dir, "rigging-spool-*")
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	s := &Spool{f: f, w: bufio.NewWriterSize(f, spoolBuffer)}
	if err := os.Remove(f.Name()); err != nil {
		if runtime.GOOS != "windows" {
			f.Close()
			return nil, fmt.Errorf("spool: remove %s once open: %w", f.Name(), err)
		}
		s.path = f.Name() // removed by Close
	}
	return s, nil
}

// Encode returns obj as an Encoded whose JSON is in the spool (its JSON
// field nil): index it in a JSONIndex with AddEncoded, as Encode's. obj is
// not retained. Its signature is manifest.LoadWith's conversion's.
func (s *Spool) Encode(obj *unstructured.Unstructured) (Encoded, error) {
	e, err := Encode(obj)
	if err != nil {
		return Encoded{}, err
	}
	b, err := s.put(e.JSON)
	if err != nil {
		return Encoded{}, fmt.Errorf("encode %s %s: %w", e.Kind, objectName(obj), err)
	}
	e.JSON, e.spooled, e.spool = nil, b, s
	return e, nil
}

// SetMemory lets the spool keep objects in memory, up to n bytes of JSON
// in all, before it writes any to its file; objects are kept in memory
// while they fit in what is left of n. Call it before the first Encode.
func (s *Spool) SetMemory(n int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.memLeft = n
}

// InMemory returns the bytes of JSON the spool keeps in memory (at most
// its SetMemory allowance).
func (s *Spool) InMemory() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inMemory
}

// Spilled reports whether the spool has written any object to its file:
// the objects did not all fit in its memory allowance.
func (s *Spool) Spilled() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.size > 0
}

// Size returns the bytes written to the spool's file so far.
func (s *Spool) Size() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.size
}

// put appends data and returns where it is: in memory while the
// allowance lasts (data itself, which the caller gives up: every caller
// passes a slice it has just encoded), else in the file.
func (s *Spool) put(data []byte) (blob, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return blob{}, ErrSpoolClosed
	}
	if s.err != nil {
		return blob{}, s.err
	}
	if n := int64(len(data)); n > 0 && n <= s.memLeft && s.size == 0 {
		s.memLeft -= n
		s.inMemory += n
		return blob{data: data}, nil
	}
	if _, err := s.w.Write(data); err != nil {
		s.err = fmt.Errorf("spool: write: %w", err)
		return blob{}, s.err
	}
	b := blob{off: s.size, n: len(data)}
	s.size += int64(len(data))
	return b, nil
}

// read returns a new copy of b's bytes.
func (s *Spool) read(b blob) ([]byte, error) {
	end := b.off + int64(b.n)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, ErrSpoolClosed
	}
	if b.data != nil {
		s.mu.Unlock()
		return bytes.Clone(b.data), nil
	}
	if end > s.flushed {
		if err := s.w.Flush(); err != nil {
			s.mu.Unlock()
			return nil, fmt.Errorf("spool: write: %w", err)
		}
		s.flushed = s.size
	}
	flushed := s.flushed
	s.mu.Unlock()
	if end > flushed {
		return nil, fmt.Errorf("spool: read of %d bytes at %d past its end %d", b.n, b.off, flushed)
	}
	data := make([]byte, b.n)
	if _, err := s.f.ReadAt(data, b.off); err != nil {
		if errors.Is(err, os.ErrClosed) {
			return nil, ErrSpoolClosed
		}
		return nil, fmt.Errorf("spool: read of %d bytes at %d: %w", b.n, b.off, err)
	}
	return data, nil
}

// Close releases the spool's file (and removes it where it still has a
// name). Reads and writes after Close fail with ErrSpoolClosed; Close
// after Close returns nil.
func (s *Spool) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	err := s.f.Close()
	if s.path != "" {
		err = errors.Join(err, os.Remove(s.path))
	}
	if err != nil {
		return fmt.Errorf("spool: close: %w", err)
	}
	return nil
}

// blob is where an object's JSON is: data in memory, or n bytes at off in
// the spool of the index holding it (data nil).
type blob struct {
	data []byte
	off  int64
	n    int
}

// size returns the length of the JSON.
func (b blob) size() int {
	if b.data != nil {
		return len(b.data)
	}
	return b.n
}

// key identifies b in a cache of decoded objects.
func (b blob) key() blobKey {
	if b.data != nil {
		return blobKey{p: &b.data[0]}
	}
	return blobKey{off: b.off}
}

// blobKey is a blob's identity: its memory, or its place in the spool.
type blobKey struct {
	p   *byte
	off int64
}

// bytes returns b's JSON, read from sp when spooled (a new copy); in memory
// the bytes themselves, which must not be modified.
func (b blob) bytes(sp *Spool) ([]byte, error) {
	if b.data != nil {
		return b.data, nil
	}
	if sp == nil {
		return nil, errors.New("index: a spooled object without its spool")
	}
	return sp.read(b)
}
