package archive

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	"github.com/rigging-dev/rigging"
)

// Velero's group version and the Backup kind, required in velero-backup.json.
const (
	VeleroAPIVersion = "velero.io/v1"
	BackupKind       = "Backup"
	RestoreKind      = "Restore"
)

// maxMetadataSize bounds what DecodeBackup reads.
const maxMetadataSize = 16 << 20

// EncodeBackup writes b as velero-backup.json, the way Velero's encode.To
// does: indented JSON (two spaces), kind and apiVersion first (filled in
// when empty), no trailing newline.
func EncodeBackup(w io.Writer, b *rigging.Backup) error {
	c := *b
	if c.Kind == "" {
		c.Kind = BackupKind
	}
	if c.APIVersion == "" {
		c.APIVersion = VeleroAPIVersion
	}
	data, err := json.MarshalIndent(&c, "", "  ")
	if err != nil {
		return fmt.Errorf("encode backup %s: %w", b.Name, err)
	}
	if _, err := w.Write(data); err != nil {
		return fmt.Errorf("write backup %s: %w", b.Name, err)
	}
	return nil
}

// DecodeBackup reads velero-backup.json as Velero's sync does: it must be a
// velero.io/v1 Backup (both apiVersion and kind present), with RFC 3339
// timestamps and Go durations; unknown members are kept. When name is not
// "", metadata.name must equal it (the folder's name). Errors wrap
// ErrInvalidMetadata.
func DecodeBackup(r io.Reader, name string) (*rigging.Backup, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxMetadataSize+1))
	if err != nil {
		return nil, fmt.Errorf("read velero-backup.json of %s: %w", name, err)
	}
	if len(data) > maxMetadataSize {
		return nil, fmt.Errorf("%w: velero-backup.json of %s is larger than %d bytes", ErrInvalidMetadata, name, maxMetadataSize)
	}
	var tm struct {
		APIVersion *string `json:"apiVersion"`
		Kind       *string `json:"kind"`
	}
	if err := json.Unmarshal(data, &tm); err != nil {
		return nil, fmt.Errorf("%w: velero-backup.json of %s: %v", ErrInvalidMetadata, name, err)
	}
	switch {
	case tm.Kind == nil || *tm.Kind == "":
		return nil, fmt.Errorf("%w: velero-backup.json of %s: Object 'Kind' is missing", ErrInvalidMetadata, name)
	case tm.APIVersion == nil || *tm.APIVersion == "":
		return nil, fmt.Errorf("%w: velero-backup.json of %s: Object 'apiVersion' is missing", ErrInvalidMetadata, name)
	case *tm.APIVersion != VeleroAPIVersion || *tm.Kind != BackupKind:
		return nil, fmt.Errorf("%w: velero-backup.json of %s is a %s %s, want %s %s", ErrInvalidMetadata, name, *tm.APIVersion, *tm.Kind, VeleroAPIVersion, BackupKind)
	}
	var b rigging.Backup
	if err := json.Unmarshal(data, &b); err != nil {
		return nil, fmt.Errorf("%w: velero-backup.json of %s: %v", ErrInvalidMetadata, name, err)
	}
	if name != "" && b.Name != name {
		return nil, fmt.Errorf("%w: velero-backup.json in folder %s names backup %q", ErrInvalidMetadata, name, b.Name)
	}
	return &b, nil
}

// encodeBackupBytes is EncodeBackup into memory.
func encodeBackupBytes(b *rigging.Backup) ([]byte, error) {
	var buf bytes.Buffer
	if err := EncodeBackup(&buf, b); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
