package archive

import (
	"archive/tar"
	"bufio"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/gzip"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// FormatVersion is the backup format rigging writes: status.formatVersion of
// velero-backup.json and the content of metadata/version (without its
// newline). 1.1.0 promises a <version>-preferredversion copy of every item.
const FormatVersion = "1.1.0"

// Directory names inside the tarball (Velero's constants).
const (
	resourcesDir        = "resources"
	metadataDir         = "metadata"
	namespaceScopedDir  = "namespaces"
	clusterScopedDir    = "cluster"
	preferredVersionDir = "-preferredversion"
)

// entryMode is the mode of every entry. Velero's extractor creates missing
// parent directories with the file's mode, so anything without the x bits
// breaks extraction as a non-root user (velero-backup-format.md §2.1).
const entryMode = 0o755

// Writer streams a backup tarball: gzip around tar, metadata/version first,
// then every item at its classic path and again under
// <version>-preferredversion.
//
// The tar and gzip work runs in a goroutine of the Writer's own, a batch of
// items at a time, so that compressing some items overlaps with producing
// the next ones; entries keep the order of the WriteItem calls. It holds at
// most a few hundred KiB of items not yet written. A Writer is not safe for
// concurrent use; Close or Abort must be called once it is no longer
// needed, to end its goroutine.
type Writer struct {
	modTime time.Time
	// preferred holds, per group-resource, the version folder its items go
	// to: the version of the first item seen. Later items of the same
	// resource in another version go to the same folder (their JSON keeps
	// its own apiVersion, which is what readers trust), so that every item
	// is in the one folder a restore with EnableAPIGroupVersions reads.
	preferred map[string]string
	items     int
	closed    bool

	batch      []entry // entries not yet handed to the goroutine
	batchBytes int     // their data's size
	batches    chan []entry
	free       chan []entry // emptied batches, for reuse
	done       chan struct{}
	aborted    atomic.Bool
	mu         sync.Mutex
	err        error // the goroutine's first error

	// Used by the goroutine only (and by Close after it ended).
	bw  *bufio.Writer
	zw  *gzip.Writer
	tw  *tar.Writer
	hdr tar.Header
}

// entry is one tar entry to write.
type entry struct {
	name string
	data []byte
}

// Batching: a batch goes to the goroutine once it holds batchEntries
// entries or batchBytes bytes of data; at most pendingBatches wait.
const (
	batchEntries   = 64
	batchBytes     = 64 << 10
	pendingBatches = 4
	// outputBuffer collects the compressed stream into writes of this size.
	outputBuffer = 64 << 10
)

// NewWriter starts a tarball on w and writes metadata/version. Entries carry
// modTime (the backup's start; Velero uses the time of writing). The
// compressed stream reaches w in writes of up to 64 KiB, from the Writer's
// goroutine.
func NewWriter(w io.Writer, modTime time.Time) (*Writer, error) {
	bw := bufio.NewWriterSize(w, outputBuffer)
	zw := newGzipWriter(bw)
	tw := &Writer{
		modTime: modTime, preferred: map[string]string{},
		batches: make(chan []entry, pendingBatches),
		free:    make(chan []entry, pendingBatches+2),
		done:    make(chan struct{}),
		bw:      bw, zw: zw, tw: tar.NewWriter(zw),
		hdr: tar.Header{Typeflag: tar.TypeReg, Mode: entryMode, ModTime: modTime},
	}
	// The first entry is written before the goroutine starts, so that an
	// error reaches the caller here.
	if err := tw.writeEntry(entry{metadataDir + "/version", []byte(FormatVersion + "\n")}); err != nil {
		return nil, err
	}
	go tw.run()
	return tw, nil
}

// WriteItem writes one item's JSON (data) at the classic path
// resources/<gr>/{cluster|namespaces/<ns>}/<name>.json and at
// resources/<gr>/<version>-preferredversion/…; namespace is "" for a
// cluster-scoped item. gr must be the canonical group-resource (plural,
// lower-case). An unsafe or empty segment gives an error wrapping
// ErrInvalidItem, and nothing is written.
//
// The entries are written later, by the Writer's goroutine: WriteItem keeps
// data, which the caller must not modify afterwards. An error writing
// earlier entries is returned by a later WriteItem (and by Close); the
// tarball is then unusable.
func (w *Writer) WriteItem(gr schema.GroupResource, version, namespace, name string, data []byte) error {
	if err := CheckItem(gr, version, namespace, name); err != nil {
		return err
	}
	grs := gr.String()
	if w.closed {
		return errWriterClosed
	}
	if err := w.failed(); err != nil {
		return err
	}
	verDir, ok := w.preferred[grs]
	if !ok {
		verDir = version + preferredVersionDir
		w.preferred[grs] = verDir
	}
	w.add(entry{ItemPath(grs, "", namespace, name), data}, entry{ItemPath(grs, verDir, namespace, name), data})
	return nil
}

// WriteVersion writes one item's JSON as the API server serves it in a
// version it does not prefer (Velero's EnableAPIGroupVersions feature), at
// resources/<gr>/<version>/{cluster|namespaces/<ns>}/<name>.json only, with
// no classic copy, as Velero writes it. The arguments and errors are those
// of WriteItem; the item is counted once more.
func (w *Writer) WriteVersion(gr schema.GroupResource, version, namespace, name string, data []byte) error {
	if err := CheckItem(gr, version, namespace, name); err != nil {
		return err
	}
	if w.closed {
		return errWriterClosed
	}
	if err := w.failed(); err != nil {
		return err
	}
	w.add(entry{ItemPath(gr.String(), version, namespace, name), data})
	return nil
}

// add queues the entries of one item.
func (w *Writer) add(entries ...entry) {
	if w.batch == nil {
		select {
		case b := <-w.free:
			w.batch = b[:0]
		default:
			w.batch = make([]entry, 0, batchEntries)
		}
	}
	w.batch = append(w.batch, entries...)
	for _, e := range entries {
		w.batchBytes += len(e.data)
	}
	w.items++
	if len(w.batch) >= batchEntries || w.batchBytes >= batchBytes {
		w.send()
	}
}

// CheckItem reports, with an error wrapping ErrInvalidItem, whether
// WriteItem would refuse an item for its path segments (unsafe or empty);
// nil means the same arguments are accepted (unless the Writer failed or
// was closed). It lets a caller that prepares items ahead of writing them
// find a bad one where the item is processed.
func CheckItem(gr schema.GroupResource, version, namespace, name string) error {
	grs := gr.String()
	for _, seg := range []struct{ what, v string }{{"resource", grs}, {"version", version}, {"name", name}} {
		if err := checkSegment(seg.v); err != nil {
			return fmt.Errorf("%w: %s of %s: %v", ErrInvalidItem, seg.what, itemRef(grs, namespace, name), err)
		}
	}
	if namespace != "" {
		if err := checkSegment(namespace); err != nil {
			return fmt.Errorf("%w: namespace of %s: %v", ErrInvalidItem, itemRef(grs, namespace, name), err)
		}
	}
	return nil
}

// errWriterClosed reports a WriteItem after Close or Abort.
var errWriterClosed = errors.New("write tarball: the writer is closed")

// send hands the pending batch to the goroutine.
func (w *Writer) send() {
	if len(w.batch) > 0 {
		w.batches <- w.batch
	}
	w.batch, w.batchBytes = nil, 0
}

// failed returns the goroutine's first error.
func (w *Writer) failed() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// run writes the batches it receives until the channel closes. After an
// error, or once aborted, it only drains them.
func (w *Writer) run() {
	defer close(w.done)
	for b := range w.batches {
		if w.aborted.Load() || w.failed() != nil {
			continue
		}
		for i, e := range b {
			if err := w.writeEntry(e); err != nil {
				w.mu.Lock()
				w.err = err
				w.mu.Unlock()
				break
			}
			b[i] = entry{} // drop the data as soon as it is written
		}
		select {
		case w.free <- b:
		default:
		}
	}
}

// Items returns how many items WriteItem and WriteVersion have accepted.
func (w *Writer) Items() int { return w.items }

// Close writes the pending items, then finishes the tar and the gzip stream
// and flushes them to the underlying writer, which it does not close. It
// returns the first error of any write. Calling Close again, or after
// Abort, does nothing.
func (w *Writer) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	w.send()
	close(w.batches)
	<-w.done
	defer releaseGzipWriter(w.zw)
	if err := w.failed(); err != nil {
		return err
	}
	if err := w.tw.Close(); err != nil {
		return fmt.Errorf("close tarball: %w", err)
	}
	if err := w.zw.Close(); err != nil {
		return fmt.Errorf("close tarball gzip stream: %w", err)
	}
	if err := w.bw.Flush(); err != nil {
		return fmt.Errorf("write tarball: %w", err)
	}
	return nil
}

// Abort ends the Writer without finishing the stream (what reached the
// underlying writer is a truncated tarball): items not written yet are
// dropped, and Abort returns once the goroutine has ended. It does nothing
// after Close.
func (w *Writer) Abort() {
	if w.closed {
		return
	}
	w.closed = true
	w.aborted.Store(true)
	close(w.batches)
	<-w.done
	releaseGzipWriter(w.zw)
}

func (w *Writer) writeEntry(e entry) error {
	w.hdr.Name = e.name
	w.hdr.Size = int64(len(e.data))
	if err := w.tw.WriteHeader(&w.hdr); err != nil {
		return fmt.Errorf("write tarball entry %s: %w", e.name, err)
	}
	if _, err := w.tw.Write(e.data); err != nil {
		return fmt.Errorf("write tarball entry %s: %w", e.name, err)
	}
	return nil
}

// ItemPath returns the tarball path of an item: resources/<gr>/[<verDir>/]
// {cluster|namespaces/<ns>}/<name>.json. verDir "" gives the classic path.
func ItemPath(gr, verDir, namespace, name string) string {
	scope := clusterScopedDir
	if namespace != "" {
		scope = namespaceScopedDir + "/" + namespace
	}
	if verDir == "" {
		return resourcesDir + "/" + gr + "/" + scope + "/" + name + ".json"
	}
	return resourcesDir + "/" + gr + "/" + verDir + "/" + scope + "/" + name + ".json"
}

func checkSegment(s string) error {
	switch {
	case s == "":
		return fmt.Errorf("empty")
	case s == "." || s == "..":
		return fmt.Errorf("%q is not a file name", s)
	case strings.ContainsAny(s, "/\\\x00"):
		return fmt.Errorf("%q contains '/', '\\' or NUL", s)
	case path.Clean(s) != s:
		return fmt.Errorf("%q is not a clean file name", s)
	}
	return nil
}

func itemRef(gr, namespace, name string) string {
	if namespace == "" {
		return gr + "/" + name
	}
	return gr + "/" + namespace + "/" + name
}
