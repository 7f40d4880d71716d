// Package hostile builds malicious or broken inputs for rigging's fault,
// fuzz and hostile-input tests: backup tarballs that climb out of their
// root, carry links, explode when decompressed or lie about their sizes.
// It depends on the standard library only, so any package's tests may use
// it.
package hostile

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
)

// Entry is one tar entry. A zero Typeflag means a regular file.
type Entry struct {
	Name     string
	Typeflag byte
	Linkname string
	Body     []byte
	// Size overrides the header's size when non-zero (a header that lies
	// about its body); Body is written as it is.
	Size int64
}

// Tarball returns a gzip'd tar of entries, written in order. Headers are
// written raw: names are not cleaned, so "../x" and "/etc/x" reach the
// reader as they are.
func Tarball(entries ...Entry) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, e := range entries {
		hdr := &tar.Header{Name: e.Name, Typeflag: e.Typeflag, Linkname: e.Linkname, Mode: 0o755, Size: int64(len(e.Body)), Format: tar.FormatPAX}
		if hdr.Typeflag == 0 {
			hdr.Typeflag = tar.TypeReg
		}
		if hdr.Typeflag != tar.TypeReg {
			hdr.Size = 0
		}
		if e.Size != 0 {
			hdr.Size = e.Size
		}
		if err := tw.WriteHeader(hdr); err != nil {
			panic(fmt.Sprintf("hostile: header %q: %v", e.Name, err))
		}
		if hdr.Typeflag == tar.TypeReg {
			// A lying size: write what fits and let the reader discover it.
			body := e.Body
			if int64(len(body)) > hdr.Size {
				body = body[:hdr.Size]
			}
			_, _ = tw.Write(body)
		}
	}
	// Close fails when a header promised more than was written; the
	// truncated archive is exactly what is wanted then.
	_ = tw.Close()
	_ = zw.Close()
	return buf.Bytes()
}

// Item returns a regular entry at the classic path of an item holding a
// small valid object of the given kind and name.
func Item(gr, namespace, name string) Entry {
	scope := "cluster"
	if namespace != "" {
		scope = "namespaces/" + namespace
	}
	body := fmt.Sprintf(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":%q,"namespace":%q}}`, name, namespace)
	return Entry{Name: "resources/" + gr + "/" + scope + "/" + name + ".json", Body: []byte(body)}
}

// Version is the metadata/version entry of format 1.1.0.
func Version() Entry { return Entry{Name: "metadata/version", Body: []byte("1.1.0\n")} }

// GzipBomb returns a gzip'd tar holding one regular entry at name whose
// body is size zero bytes: a few kilobytes that inflate to size bytes. The
// header states the true size.
func GzipBomb(name string, size int64) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	tw := tar.NewWriter(zw)
	if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: size}); err != nil {
		panic(err)
	}
	if _, err := io.CopyN(tw, zeros{}, size); err != nil {
		panic(err)
	}
	_ = tw.Close()
	_ = zw.Close()
	return buf.Bytes()
}

// ManyEntriesBomb returns a gzip'd tar of n empty regular entries under
// resources/configmaps/namespaces/ns/: small compressed, costly to index.
func ManyEntriesBomb(n int) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	tw := tar.NewWriter(zw)
	for i := range n {
		if err := tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("resources/configmaps/namespaces/ns/c%d.json", i), Typeflag: tar.TypeReg, Mode: 0o644}); err != nil {
			panic(err)
		}
	}
	_ = tw.Close()
	_ = zw.Close()
	return buf.Bytes()
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
