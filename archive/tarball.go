package archive

import (
	"archive/tar"
	"compress/gzip"
	"fmt"
	"io"
	"path"
	"strings"
	"time"

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
// <version>-preferredversion. It never holds more than one item. A Writer is
// not safe for concurrent use.
type Writer struct {
	zw      *gzip.Writer
	tw      *tar.Writer
	modTime time.Time
	// preferred holds, per group-resource, the version folder its items go
	// to: the version of the first item seen. Later items of the same
	// resource in another version go to the same folder (their JSON keeps
	// its own apiVersion, which is what readers trust), so that every item
	// is in the one folder a restore with EnableAPIGroupVersions reads.
	preferred map[string]string
	items     int
	closed    bool
}

// NewWriter starts a tarball on w and writes metadata/version. Entries carry
// modTime (the backup's start; Velero uses the time of writing).
func NewWriter(w io.Writer, modTime time.Time) (*Writer, error) {
	zw := gzip.NewWriter(w)
	tw := &Writer{zw: zw, tw: tar.NewWriter(zw), modTime: modTime, preferred: map[string]string{}}
	if err := tw.writeEntry(metadataDir+"/version", []byte(FormatVersion+"\n")); err != nil {
		return nil, err
	}
	return tw, nil
}

// WriteItem writes one item's JSON (data) at the classic path
// resources/<gr>/{cluster|namespaces/<ns>}/<name>.json and at
// resources/<gr>/<version>-preferredversion/…; namespace is "" for a
// cluster-scoped item. gr must be the canonical group-resource (plural,
// lower-case). An unsafe or empty segment gives an error wrapping
// ErrInvalidItem, and nothing is written.
func (w *Writer) WriteItem(gr schema.GroupResource, version, namespace, name string, data []byte) error {
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
	verDir, ok := w.preferred[grs]
	if !ok {
		verDir = version + preferredVersionDir
		w.preferred[grs] = verDir
	}
	if err := w.writeEntry(ItemPath(grs, "", namespace, name), data); err != nil {
		return err
	}
	if err := w.writeEntry(ItemPath(grs, verDir, namespace, name), data); err != nil {
		return err
	}
	w.items++
	return nil
}

// Items returns how many items WriteItem has written.
func (w *Writer) Items() int { return w.items }

// Close finishes the tar and the gzip stream. It does not close the
// underlying writer.
func (w *Writer) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	if err := w.tw.Close(); err != nil {
		return fmt.Errorf("close tarball: %w", err)
	}
	if err := w.zw.Close(); err != nil {
		return fmt.Errorf("close tarball gzip stream: %w", err)
	}
	return nil
}

func (w *Writer) writeEntry(name string, data []byte) error {
	hdr := &tar.Header{
		Name:     name,
		Typeflag: tar.TypeReg,
		Mode:     entryMode,
		Size:     int64(len(data)),
		ModTime:  w.modTime,
	}
	if err := w.tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("write tarball entry %s: %w", name, err)
	}
	if _, err := w.tw.Write(data); err != nil {
		return fmt.Errorf("write tarball entry %s: %w", name, err)
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
