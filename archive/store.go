package archive

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"

	"github.com/rigging-dev/rigging"
)

// Store is a storage location seen through Velero's layout: an initialised
// ObjectStore, its bucket, and the layout of its prefix. Every method names
// the key it failed on.
type Store struct {
	Objects rigging.ObjectStore
	Bucket  string
	Layout  Layout
	// Spool, when set, makes uploads survive a restart of the plugin process
	// serving Objects: Put writes each object to a temporary file before
	// uploading it, and an upload (Put's or PutBytes') that fails with
	// rigging.ErrPluginUnavailable is made again from the start, up to
	// Spool.Replays times. Nil (NewStore's default, right for an in-process
	// store) streams every object straight into PutObject.
	Spool *Spool
}

// DefaultReplays is how many times a spooled upload is made again when
// Spool.Replays is zero.
const DefaultReplays = 2

// Spool configures Store.Spool.
type Spool struct {
	// Dir holds the temporary files ("": os.TempDir()). Each is unlinked as
	// soon as it is created, so nothing stays behind however the process
	// ends; where an open file cannot be removed, it is removed when Put
	// returns.
	Dir string
	// Replays is how many times an upload that failed with
	// rigging.ErrPluginUnavailable is made again (0: DefaultReplays).
	Replays int
	// Logger receives a warning for each replay (nil: slog.Default()).
	Logger *slog.Logger
}

// NewStore returns the Store of bucket and prefix on an initialised
// ObjectStore.
func NewStore(objects rigging.ObjectStore, bucket, prefix string) *Store {
	return &Store{Objects: objects, Bucket: strings.Trim(bucket, "/"), Layout: NewLayout(prefix)}
}

// IsValid reports an error, as Velero's IsValid does, when the location's
// root holds a folder other than the reserved ones.
func (s *Store) IsValid(ctx context.Context) error {
	prefixes, err := s.Objects.ListCommonPrefixes(ctx, s.Bucket, s.Layout.Root(), "/")
	if err != nil {
		return fmt.Errorf("list %s: %w", s.where(s.Layout.Root()), err)
	}
	var bad []string
	for _, p := range prefixes {
		dir := strings.TrimSuffix(strings.TrimPrefix(p, s.Layout.Root()), "/")
		if !slices.Contains(ReservedDirs, dir) {
			bad = append(bad, dir)
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("location %s has invalid top-level directories %v (Velero allows only %v)", s.where(s.Layout.Root()), bad, ReservedDirs)
	}
	return nil
}

// BackupNames lists the candidate backups: the folders under backups/, as
// Velero's ListBackups does, sorted. A folder without velero-backup.json is
// still listed; Backups filters those.
func (s *Store) BackupNames(ctx context.Context) ([]string, error) {
	dir := s.Layout.BackupsDir()
	prefixes, err := s.Objects.ListCommonPrefixes(ctx, s.Bucket, dir, "/")
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", s.where(dir), err)
	}
	names := make([]string, 0, len(prefixes))
	for _, p := range prefixes {
		n := strings.TrimSuffix(strings.TrimPrefix(p, dir), "/")
		if n != "" {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return names, nil
}

// Listed is one candidate of Backups: the decoded backup, or why it could not
// be decoded.
type Listed struct {
	Name   string
	Backup *rigging.Backup // nil when Err is set
	Err    error
}

// Backups reads the location as Velero's sync does: every folder under
// backups/ whose velero-backup.json exists is returned with its decoded
// metadata or its decode error; folders without the file (an interrupted
// upload, a backup being written) are skipped.
func (s *Store) Backups(ctx context.Context) ([]Listed, error) {
	names, err := s.BackupNames(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Listed, 0, len(names))
	for _, n := range names {
		b, err := s.GetBackup(ctx, n)
		if errors.Is(err, ErrBackupNotFound) {
			continue
		}
		out = append(out, Listed{Name: n, Backup: b, Err: err})
	}
	return out, nil
}

// BackupExists reports whether backups/NAME/velero-backup.json exists.
func (s *Store) BackupExists(ctx context.Context, name string) (bool, error) {
	key := s.Layout.BackupKey(name, BackupMetadata)
	ok, err := s.Objects.ObjectExists(ctx, s.Bucket, key)
	if err != nil {
		return false, fmt.Errorf("check %s: %w", s.where(key), err)
	}
	return ok, nil
}

// GetBackup reads and decodes velero-backup.json of backup name. A missing
// file gives an error wrapping ErrBackupNotFound (and rigging.ErrNotFound).
func (s *Store) GetBackup(ctx context.Context, name string) (*rigging.Backup, error) {
	if err := ValidateName(name); err != nil {
		return nil, err
	}
	rc, err := s.open(ctx, s.Layout.BackupKey(name, BackupMetadata))
	if err != nil {
		if errors.Is(err, rigging.ErrNotFound) {
			return nil, fmt.Errorf("%w: %s", ErrBackupNotFound, name)
		}
		return nil, err
	}
	defer rc.Close()
	return DecodeBackup(rc, name)
}

// OpenBackupFile opens one object of backup name; the caller closes it. A
// missing object gives an error matching rigging.ErrNotFound.
func (s *Store) OpenBackupFile(ctx context.Context, name string, f BackupFile) (io.ReadCloser, error) {
	return s.open(ctx, s.Layout.BackupKey(name, f))
}

// ReadBackupJSON decodes a gzip'd JSON sidecar of backup name into v.
func (s *Store) ReadBackupJSON(ctx context.Context, name string, f BackupFile, v any) error {
	key := s.Layout.BackupKey(name, f)
	rc, err := s.open(ctx, key)
	if err != nil {
		return err
	}
	defer rc.Close()
	if err := ReadJSONGzip(rc, v); err != nil {
		return fmt.Errorf("read %s: %w", s.where(key), err)
	}
	return nil
}

// ReadContents reads the tarball of backup name with the given limits.
func (s *Store) ReadContents(ctx context.Context, name string, lim Limits) (*Contents, error) {
	key := s.Layout.BackupKey(name, BackupContents)
	rc, err := s.open(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	c, err := Read(rc, lim)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.where(key), err)
	}
	return c, nil
}

// DeleteBackup removes every object under backups/NAME/, the metadata
// first so that an interrupted deletion is no longer listed.
func (s *Store) DeleteBackup(ctx context.Context, name string) error {
	if err := ValidateName(name); err != nil {
		return err
	}
	return s.deleteDir(ctx, s.Layout.BackupDir(name), s.Layout.BackupKey(name, BackupMetadata))
}

// DeleteRestore removes every object under restores/NAME/.
func (s *Store) DeleteRestore(ctx context.Context, name string) error {
	if err := ValidateName(name); err != nil {
		return err
	}
	return s.deleteDir(ctx, s.Layout.RestoreDir(name), "")
}

func (s *Store) deleteDir(ctx context.Context, dir, first string) error {
	keys, err := s.Objects.ListObjects(ctx, s.Bucket, dir)
	if err != nil {
		return fmt.Errorf("list %s: %w", s.where(dir), err)
	}
	slices.SortStableFunc(keys, func(a, b string) int {
		switch {
		case a == first && b != first:
			return -1
		case b == first && a != first:
			return 1
		}
		return 0
	})
	var errs []error
	for _, k := range keys {
		if err := s.Objects.DeleteObject(ctx, s.Bucket, k); err != nil {
			errs = append(errs, fmt.Errorf("delete %s: %w", s.where(k), err))
		}
	}
	return errors.Join(errs...)
}

// Put stores what write produces under key. Without s.Spool it streams:
// write runs in its own goroutine and writes into a pipe that PutObject
// reads, so the object is never held in memory. With s.Spool, write fills a
// temporary file first, which is then uploaded, and uploaded again if the
// store's plugin process dies meanwhile. Either way an error from write
// aborts the upload (the store keeps no partial object) and is returned.
func (s *Store) Put(ctx context.Context, key string, write func(w io.Writer) error) error {
	if s.Spool != nil {
		return s.putSpooled(ctx, key, write)
	}
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := write(pw)
		pw.CloseWithError(err) // nil closes cleanly: the reader sees io.EOF
		done <- err
	}()
	putErr := s.Objects.PutObject(ctx, s.Bucket, key, pr)
	// Unblock the writer if PutObject returned without reading to the end.
	pr.CloseWithError(errUploadEnded)
	writeErr := <-done
	switch {
	case putErr != nil && (writeErr == nil || errors.Is(writeErr, errUploadEnded)):
		// The store gave up first: its error is the cause.
		return fmt.Errorf("put %s: %w", s.where(key), putErr)
	case writeErr != nil:
		return fmt.Errorf("put %s: %w", s.where(key), writeErr)
	case putErr != nil:
		return fmt.Errorf("put %s: %w", s.where(key), putErr)
	}
	return nil
}

// putSpooled is Put with s.Spool set.
func (s *Store) putSpooled(ctx context.Context, key string, write func(w io.Writer) error) error {
	f, err := s.Spool.create()
	if err != nil {
		return fmt.Errorf("put %s: %w", s.where(key), err)
	}
	defer f.close()
	bw := bufio.NewWriterSize(f.File, spoolBuffer)
	if err := write(bw); err != nil {
		return fmt.Errorf("put %s: %w", s.where(key), err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("put %s: spool to %s: %w", s.where(key), f.Name(), err)
	}
	return s.upload(ctx, key, func() (io.Reader, error) {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return nil, fmt.Errorf("rewind the spool file %s: %w", f.Name(), err)
		}
		return f.File, nil
	})
}

// spoolBuffer is the write buffer in front of a spool file.
const spoolBuffer = 256 << 10

// upload puts the body open returns under key. With s.Spool, an upload that
// fails because the plugin process died is made again with a new body from
// open, up to the replay limit, each replay logged.
func (s *Store) upload(ctx context.Context, key string, open func() (io.Reader, error)) error {
	replays := 0
	for {
		body, err := open()
		if err != nil {
			return fmt.Errorf("put %s: %w", s.where(key), err)
		}
		err = s.Objects.PutObject(ctx, s.Bucket, key, body)
		switch {
		case err == nil:
			return nil
		case s.Spool == nil || !errors.Is(err, rigging.ErrPluginUnavailable) || ctx.Err() != nil:
			return fmt.Errorf("put %s: %w", s.where(key), err)
		case replays == s.Spool.replays():
			return fmt.Errorf("put %s: %w (uploaded %d times, each ended by the plugin process dying)", s.where(key), err, replays+1)
		}
		replays++
		s.Spool.logger().Warn("upload failed: the object store's plugin process died; uploading the object again",
			"bucket", s.Bucket, "key", key, "replay", replays, "of", s.Spool.replays(), "error", err)
	}
}

func (sp *Spool) replays() int {
	if sp.Replays > 0 {
		return sp.Replays
	}
	return DefaultReplays
}

func (sp *Spool) logger() *slog.Logger {
	if sp.Logger != nil {
		return sp.Logger
	}
	return slog.Default()
}

// spoolFile is an open temporary file of a Spool.
type spoolFile struct {
	*os.File
	removed bool // unlinked at creation
}

// create makes a temporary file in sp.Dir and unlinks it at once.
func (sp *Spool) create() (*spoolFile, error) {
	f, err := os.CreateTemp(sp.Dir, "rigging-upload-*")
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	return &spoolFile{File: f, removed: os.Remove(f.Name()) == nil}, nil
}

// close closes f and removes it if that was not done at creation.
func (f *spoolFile) close() {
	f.Close()
	if !f.removed {
		os.Remove(f.Name())
	}
}

// errUploadEnded is what a producer sees when PutObject returns before
// reading the whole body.
var errUploadEnded = errors.New("upload ended before the body was read")

// PutBytes stores data under key; with s.Spool, an upload ended by the
// plugin process dying is made again, as Put's is.
func (s *Store) PutBytes(ctx context.Context, key string, data []byte) error {
	return s.upload(ctx, key, func() (io.Reader, error) { return bytes.NewReader(data), nil })
}

// PutBackupMetadata uploads velero-backup.json of b.
func (s *Store) PutBackupMetadata(ctx context.Context, b *rigging.Backup) error {
	data, err := encodeBackupBytes(b)
	if err != nil {
		return err
	}
	return s.PutBytes(ctx, s.Layout.BackupKey(b.Name, BackupMetadata), data)
}

// Delete removes keys, joining the errors; missing keys are fine.
func (s *Store) Delete(ctx context.Context, keys ...string) error {
	var errs []error
	for _, k := range keys {
		if err := s.Objects.DeleteObject(ctx, s.Bucket, k); err != nil {
			errs = append(errs, fmt.Errorf("delete %s: %w", s.where(k), err))
		}
	}
	return errors.Join(errs...)
}

// open opens key of the store's bucket for reading; the caller closes it.
// A missing object gives an error matching rigging.ErrNotFound even from a
// store whose GetObject says so only in words (a Velero plugin such as
// velero-plugin-for-aws reports S3's NoSuchKey as a plain error over gRPC):
// when GetObject fails with any other error, ObjectExists decides, as
// Velero's persistence asks ObjectExists before reading an optional file.
func (s *Store) open(ctx context.Context, key string) (io.ReadCloser, error) {
	rc, err := s.Objects.GetObject(ctx, s.Bucket, key)
	if err == nil {
		return rc, nil
	}
	if !errors.Is(err, rigging.ErrNotFound) && ctx.Err() == nil {
		if ok, xerr := s.Objects.ObjectExists(ctx, s.Bucket, key); xerr == nil && !ok {
			return nil, fmt.Errorf("get %s: %w (%w)", s.where(key), &notFound{"object not found"}, err)
		}
	}
	return nil, fmt.Errorf("get %s: %w", s.where(key), err)
}

// where names a key for messages: "bucket/key".
func (s *Store) where(key string) string { return s.Bucket + "/" + key }
