// Package archive is Velero v1.18's backup format on both sides: the object
// store layout (backups/NAME/…, restores/NAME/…), the gzip'd tarball of items
// (a streaming writer and a hardened reader), the gzip'd JSON sidecar files,
// and velero-backup.json. The backup and restore pipelines and the CLI's
// list, describe, download, logs and delete commands all go through it, so a
// bucket rigging writes is one Velero syncs, and a bucket Velero wrote is one
// rigging reads (velero-backup-format.md).
package archive

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
)

// Reserved top-level folders of a storage location. Velero marks a location
// unavailable when its root holds any other folder (velero-backup-format.md
// §1.1), so nothing rigging writes goes anywhere else.
var ReservedDirs = []string{"backups", "restores", "restic", "metadata", "plugins", "kopia"}

// BackupFile names one of the objects under backups/NAME/.
type BackupFile int

// The objects of a backup (velero-backup-format.md §1.2).
const (
	BackupMetadata                  BackupFile = iota // velero-backup.json
	BackupContents                                    // NAME.tar.gz
	BackupLog                                         // NAME-logs.gz
	BackupPodVolumeBackups                            // NAME-podvolumebackups.json.gz
	BackupVolumeSnapshots                             // NAME-volumesnapshots.json.gz
	BackupItemOperations                              // NAME-itemoperations.json.gz
	BackupResourceList                                // NAME-resource-list.json.gz
	BackupResults                                     // NAME-results.gz
	BackupVolumeInfo                                  // NAME-volumeinfo.json.gz
	BackupCSIVolumeSnapshots                          // NAME-csi-volumesnapshots.json.gz (legacy, read only)
	BackupCSIVolumeSnapshotContents                   // NAME-csi-volumesnapshotcontents.json.gz (legacy, read only)
	BackupCSIVolumeSnapshotClasses                    // NAME-csi-volumesnapshotclasses.json.gz (legacy, read only)
)

var backupFileSuffix = map[BackupFile]string{
	BackupContents:                  ".tar.gz",
	BackupLog:                       "-logs.gz",
	BackupPodVolumeBackups:          "-podvolumebackups.json.gz",
	BackupVolumeSnapshots:           "-volumesnapshots.json.gz",
	BackupItemOperations:            "-itemoperations.json.gz",
	BackupResourceList:              "-resource-list.json.gz",
	BackupResults:                   "-results.gz",
	BackupVolumeInfo:                "-volumeinfo.json.gz",
	BackupCSIVolumeSnapshots:        "-csi-volumesnapshots.json.gz",
	BackupCSIVolumeSnapshotContents: "-csi-volumesnapshotcontents.json.gz",
	BackupCSIVolumeSnapshotClasses:  "-csi-volumesnapshotclasses.json.gz",
}

// RestoreFile names one of the objects under restores/NAME/.
type RestoreFile int

// The objects of a restore (velero-backup-format.md §1.3).
const (
	RestoreLog            RestoreFile = iota // restore-NAME-logs.gz
	RestoreResults                           // restore-NAME-results.gz
	RestoreResourceList                      // restore-NAME-resource-list.json.gz
	RestoreItemOperations                    // restore-NAME-itemoperations.json.gz
	RestoreVolumeInfo                        // NAME-volumeinfo.json.gz (no "restore-" prefix, as Velero writes it)
)

// Layout builds the object keys of a storage location, as Velero's
// ObjectStoreLayout does. The zero Layout is a location without prefix.
type Layout struct {
	root string // "" or "prefix/"
}

// NewLayout returns the layout of a location whose prefix is prefix; leading
// and trailing "/" are trimmed, as Velero trims them.
func NewLayout(prefix string) Layout {
	p := strings.Trim(prefix, "/")
	if p == "" {
		return Layout{}
	}
	return Layout{root: p + "/"}
}

// Root returns "" or "prefix/": what every key starts with.
func (l Layout) Root() string { return l.root }

// BackupsDir returns "<root>backups/", the prefix Velero's sync lists.
func (l Layout) BackupsDir() string { return l.root + "backups/" }

// BackupDir returns "<root>backups/NAME/".
func (l Layout) BackupDir(name string) string { return l.BackupsDir() + name + "/" }

// BackupKey returns the key of one object of backup name.
func (l Layout) BackupKey(name string, f BackupFile) string {
	if f == BackupMetadata {
		return l.BackupDir(name) + "velero-backup.json"
	}
	return l.BackupDir(name) + name + backupFileSuffix[f]
}

// RestoresDir returns "<root>restores/".
func (l Layout) RestoresDir() string { return l.root + "restores/" }

// RestoreDir returns "<root>restores/NAME/".
func (l Layout) RestoreDir(name string) string { return l.RestoresDir() + name + "/" }

// RestoreKey returns the key of one object of restore name.
func (l Layout) RestoreKey(name string, f RestoreFile) string {
	d := l.RestoreDir(name)
	switch f {
	case RestoreLog:
		return d + "restore-" + name + "-logs.gz"
	case RestoreResults:
		return d + "restore-" + name + "-results.gz"
	case RestoreResourceList:
		return d + "restore-" + name + "-resource-list.json.gz"
	case RestoreItemOperations:
		return d + "restore-" + name + "-itemoperations.json.gz"
	case RestoreVolumeInfo:
		return d + name + "-volumeinfo.json.gz"
	}
	panic(fmt.Sprintf("archive: unknown RestoreFile %d", f))
}

var dns1123Subdomain = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)

// ValidateName checks that name can name a backup or restore: a Kubernetes
// object name (a DNS-1123 subdomain of at most 253 characters), which also
// keeps it a single, safe object-key segment. The error wraps ErrInvalidName.
func ValidateName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: the name is empty", ErrInvalidName)
	case len(name) > 253:
		return fmt.Errorf("%w: %q is %d characters long, more than 253", ErrInvalidName, name, len(name))
	case !dns1123Subdomain.MatchString(name):
		return fmt.Errorf("%w: %q must consist of lower-case letters, digits, '-' and '.', and start and end with a letter or digit", ErrInvalidName, name)
	}
	return nil
}

// ValidLabelValue returns s made fit for a label value as Velero's
// label.GetValidName does: unchanged up to 63 characters, else its first 57
// characters followed by the first 6 hex digits of its SHA-256.
func ValidLabelValue(s string) string {
	const maxLen = 63
	if len(s) <= maxLen {
		return s
	}
	sum := sha256.Sum256([]byte(s))
	return s[:maxLen-6] + hex.EncodeToString(sum[:])[:6]
}

// NewUID returns a random (version 4) UUID, the uid given to the Backup and
// Restore objects rigging writes.
func NewUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
