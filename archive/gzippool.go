package archive

import (
	"io"
	"sync"

	"github.com/klauspost/compress/gzip"
)

// gzipWriters keeps gzip writers (at the default level) between the
// objects a backup writes: each holds about a megabyte of compressor
// state, and a backup writes its tarball, six sidecars and its log.
var gzipWriters = sync.Pool{New: func() any { return gzip.NewWriter(io.Discard) }}

// newGzipWriter returns a gzip writer onto w; give it back with
// releaseGzipWriter once closed (or abandoned).
func newGzipWriter(w io.Writer) *gzip.Writer {
	zw := gzipWriters.Get().(*gzip.Writer)
	zw.Reset(w)
	return zw
}

// releaseGzipWriter returns zw to the pool, dropping its destination.
func releaseGzipWriter(zw *gzip.Writer) {
	zw.Reset(io.Discard)
	gzipWriters.Put(zw)
}
