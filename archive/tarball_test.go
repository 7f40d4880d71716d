package archive_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/rigging-dev/rigging/archive"
)

// TestWriterManyItems writes enough items of varied sizes to fill many
// batches and checks every entry, in order, with its data.
func TestWriterManyItems(t *testing.T) {
	var buf bytes.Buffer
	w, err := archive.NewWriter(&buf, t0)
	must(t, err)
	const n = 1000
	pods := schema.GroupResource{Resource: "pods"}
	want := []string{"metadata/version"}
	data := map[string]string{}
	for i := range n {
		name := fmt.Sprintf("p%04d", i)
		body := fmt.Sprintf(`{"i":%d,"pad":%q}`, i, strings.Repeat("x", i*37%5000))
		must(t, w.WriteItem(pods, "v1", "app", name, []byte(body)))
		for _, p := range []string{archive.ItemPath("pods", "", "app", name), archive.ItemPath("pods", "v1-preferredversion", "app", name)} {
			want = append(want, p)
			data[p] = body
		}
	}
	if w.Items() != n {
		t.Errorf("Items() = %d, want %d", w.Items(), n)
	}
	must(t, w.Close())
	must(t, w.Close()) // again: nothing

	zr, err := gzip.NewReader(&buf)
	must(t, err)
	tr := tar.NewReader(zr)
	var got []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		must(t, err)
		b, err := io.ReadAll(tr)
		must(t, err)
		if d, ok := data[h.Name]; ok && string(b) != d {
			t.Fatalf("%s: data %.40q…, want %.40q…", h.Name, b, d)
		}
		got = append(got, h.Name)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%d entries, want %d in WriteItem order", len(got), len(want))
	}
}

// failingWriter accepts limit bytes, then fails.
type failingWriter struct {
	limit int
	err   error
}

func (f *failingWriter) Write(p []byte) (int, error) {
	if len(p) > f.limit {
		n := f.limit
		f.limit = 0
		return n, f.err
	}
	f.limit -= len(p)
	return len(p), nil
}

// TestWriterWriteError: an error of the underlying writer reaches a later
// WriteItem or Close, wrapped, and nothing hangs.
func TestWriterWriteError(t *testing.T) {
	errFull := errors.New("disk full")
	for _, tc := range []struct {
		name  string
		items int
	}{{"during the items", 2000}, {"at close", 1}} {
		t.Run(tc.name, func(t *testing.T) {
			w, err := archive.NewWriter(&failingWriter{limit: 100, err: errFull}, t0)
			must(t, err)
			var werr error
			body := []byte(strings.Repeat(`{"k":"0123456789abcdef"}`, 200))
			for i := 0; i < tc.items && werr == nil; i++ {
				werr = w.WriteItem(schema.GroupResource{Resource: "pods"}, "v1", "app", fmt.Sprint("p", i), body)
			}
			cerr := w.Close()
			if tc.items > 1 && !errors.Is(werr, errFull) {
				t.Errorf("WriteItem error %v, want one wrapping the writer's", werr)
			}
			if !errors.Is(cerr, errFull) {
				t.Errorf("Close error %v, want one wrapping the writer's", cerr)
			}
		})
	}
}

// TestWriterAbort: Abort drops what is not written, returns, and the
// Writer accepts nothing more; Close after it does nothing.
func TestWriterAbort(t *testing.T) {
	var buf bytes.Buffer
	w, err := archive.NewWriter(&buf, t0)
	must(t, err)
	for i := range 100 {
		must(t, w.WriteItem(schema.GroupResource{Resource: "pods"}, "v1", "app", fmt.Sprint("p", i), []byte(`{}`)))
	}
	w.Abort()
	w.Abort()
	if err := w.WriteItem(schema.GroupResource{Resource: "pods"}, "v1", "app", "late", []byte(`{}`)); err == nil {
		t.Error("WriteItem after Abort succeeded")
	}
	must(t, w.Close())
	// What was written is not a complete tarball.
	if zr, err := gzip.NewReader(&buf); err == nil {
		if _, err := io.ReadAll(zr); err == nil {
			t.Error("an aborted tarball reads as a complete gzip stream")
		}
	}
}
