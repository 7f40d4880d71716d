package archive

import (
	"errors"

	"github.com/rigging-dev/rigging"
)

// Sentinel errors. Errors returned by this package wrap them with the key,
// entry or backup they concern.
var (
	// ErrInvalidName reports a backup or restore name that is not a valid
	// Kubernetes object name.
	ErrInvalidName = errors.New("invalid name")
	// ErrBackupExists reports a backup whose velero-backup.json is already in
	// the location.
	ErrBackupExists = errors.New("backup already exists in object storage")
	// ErrBackupNotFound reports a backup with no velero-backup.json. It
	// matches rigging.ErrNotFound too.
	ErrBackupNotFound = &notFound{"backup not found"}
	// ErrInvalidMetadata reports a velero-backup.json that Velero's sync would
	// refuse: not JSON, not a velero.io/v1 Backup, wrongly typed fields, or a
	// metadata.name other than its folder's.
	ErrInvalidMetadata = errors.New("invalid backup metadata")
	// ErrUnsafePath reports a tarball entry whose name is absolute or climbs
	// out of the archive ("..").
	ErrUnsafePath = errors.New("unsafe path in tarball")
	// ErrUnsupportedEntry reports a tarball entry that is neither a regular
	// file nor a directory (a symlink, a hard link, a device).
	ErrUnsupportedEntry = errors.New("unsupported tarball entry")
	// ErrTooLarge reports a tarball (or one of its entries) that exceeds the
	// reader's Limits: an oversized entry, or a gzip bomb.
	ErrTooLarge = errors.New("tarball exceeds limit")
	// ErrInvalidItem reports an item the tarball writer cannot place: an
	// empty or unsafe resource, namespace or name.
	ErrInvalidItem = errors.New("invalid item")
)

// notFound is an error that matches rigging.ErrNotFound as well as itself.
type notFound struct{ msg string }

func (e *notFound) Error() string { return e.msg }

func (e *notFound) Is(target error) bool { return target == rigging.ErrNotFound }
