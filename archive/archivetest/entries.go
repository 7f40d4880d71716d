package archivetest

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"fmt"
	"io"

	"github.com/rigging-dev/rigging/archive"
)

// Entry is one entry of a backup tarball.
type Entry struct {
	Name string
	Data []byte
}

// TarEntries reads the tarball of backup name in s, every entry in the
// order it was written.
func TarEntries(ctx context.Context, s *archive.Store, name string) ([]Entry, error) {
	rc, err := s.OpenBackupFile(ctx, name, archive.BackupContents)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	zr, err := gzip.NewReader(rc)
	if err != nil {
		return nil, fmt.Errorf("tarball of %s: %w", name, err)
	}
	tr := tar.NewReader(zr)
	var out []Entry
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("tarball of %s: %w", name, err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			return nil, fmt.Errorf("tarball of %s: entry %s: %w", name, hdr.Name, err)
		}
		out = append(out, Entry{Name: hdr.Name, Data: data})
	}
}
