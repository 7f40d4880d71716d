// Package backup is rigging's backup pipeline: Kubernetes objects in (the
// manifests a user hands over), Velero's filters, ItemBlockActions and
// BackupItemActions run on them as Velero v1.18 runs them, and a backup out,
// streamed into any object store in exactly the layout a Velero server syncs
// and restores from (velero-backup-format.md).
//
// A plugin call made for an item (BackupItemAction Execute, ItemBlockAction
// GetRelatedItems, an action's AppliesTo) that fails with
// rigging.ErrPluginUnavailable (the plugin process died or its connection
// was lost during the call) is made once more, to the restarted process:
// an action may therefore see the same item twice, as Velero's contract for
// item actions allows. If it fails that way again the backup fails and is
// not listed; other plugin errors are recorded against the item and the
// backup ends PartiallyFailed.
package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/archive"
	"github.com/rigging-dev/rigging/resources"
)

// Velero's defaults for a backup's durations.
const (
	DefaultTTL                  = 720 * time.Hour
	DefaultItemOperationTimeout = 4 * time.Hour
	DefaultCSISnapshotTimeout   = 10 * time.Minute
)

// VeleroNamespace is the namespace written into velero-backup.json (Velero's
// sync overwrites it with its own).
const VeleroNamespace = "velero"

// Plugins is what the pipeline needs from a plugin Manager;
// *manager.Manager implements it. The lists are sorted by name, and v1
// BackupItemActions appear among the v2 ones, adapted.
type Plugins interface {
	BackupItemActionsV2(ctx context.Context) ([]rigging.BackupItemActionV2, error)
	ItemBlockActions(ctx context.Context) ([]rigging.ItemBlockAction, error)
}

// Options configure Run.
type Options struct {
	// Name is the backup's name (a Kubernetes object name). Required.
	Name string
	// Items are the objects to back up (manifest.Load's result). The
	// pipeline does not modify them, and holds them only as their JSON.
	Items []*unstructured.Unstructured
	// Input, when not nil, holds the objects to back up instead of Items,
	// already encoded (NewInput; manifest.LoadWith with resources.Encode
	// decodes manifests into that form without holding their decoded
	// trees): a backup of many objects then never holds them all decoded.
	// Its mapper maps kinds (Mapper is then ignored); Run adds the bare
	// Namespace objects it makes up to it.
	Input *resources.JSONIndex
	// InputErrors are the objects the Input could not hold (NewInput's
	// errors), recorded as errors of the backup as Items' are.
	InputErrors []error
	// Spec holds the filters and settings, as a Velero Backup's spec: the
	// include/exclude lists, label selectors, TTL (zero: 720h),
	// itemOperationTimeout (zero: 4h), orderedResources, and so on. It is
	// written into velero-backup.json with storageLocation set.
	Spec rigging.BackupSpec
	// Labels are put on the Backup object, besides velero.io/storage-location.
	Labels map[string]string
	// Store is where the backup goes. Required.
	Store *archive.Store
	// LocationName is the storage location's name (default "default").
	LocationName string
	// Plugins gives the actions to run; nil runs none.
	Plugins Plugins
	// Lookup is what the plugins find with rigging.LookupFrom; nil: an
	// index of Items (a backup of manifests). A backup of a live cluster
	// passes the cluster's Lookup, so that actions see the objects the
	// filters leave out as well; additional and related items that are not
	// among Items are got from it too (a failure to get one is a warning).
	Lookup rigging.Lookup
	// Warnings are recorded as warnings of the backup (in its log and
	// results) before the items: what reading the items went on without,
	// such as a resource the credentials may not list.
	Warnings []error
	// Mapper maps kinds to resources; nil uses resources.NewMapper(). CRDs
	// among Items are added to it.
	Mapper *resources.Mapper
	// Logger receives progress and a copy of every warning and error; nil
	// discards. The per-item log goes into the backup's log file.
	Logger *slog.Logger
	// Progress, if set, is called after each item with the counts so far.
	Progress func(Progress)
	// OperationPollInterval is how often asynchronous operations are polled
	// (default 1s).
	OperationPollInterval time.Duration
	// Now returns the current time (default time.Now).
	Now func() time.Time
	// TempDir is where the log file is kept while the backup runs ("" for
	// the system default).
	TempDir string
	// Features are Velero feature flags (its server's --features). Only
	// FeatureCSI matters here: without it the velero.io/csi-* actions are
	// skipped, as Velero skips them.
	Features []string
	// Workers is how many item blocks are processed at once (their
	// BackupItemActions run, their items encoded); zero means
	// runtime.GOMAXPROCS(0). Velero's --item-block-worker-count. Whatever
	// the count, the backup's files are byte for byte those of a run with
	// one worker, its log's lines (but their times) too: the items of a
	// block stay together and in order, and blocks are written in order.
	// Blocks are formed (ItemBlockActions called) one at a time, in order.
	// With more than one worker, the actions must allow concurrent calls
	// (Velero runs them so too). An item's actions run once whatever the
	// count: when two blocks reach the same item (as an additional item),
	// the answers the first calls gave are replayed, not asked again, and
	// an asynchronous operation is started once and tracked.
	Workers int
}

// FeatureCSI is Velero's EnableCSI feature flag.
const FeatureCSI = "EnableCSI"

// csiActionPrefix marks the actions Velero runs only with FeatureCSI.
const csiActionPrefix = "velero.io/csi-"

// SkipsAction reports whether Velero would skip the action named name given
// the feature flags: the CSI actions need FeatureCSI.
func SkipsAction(name string, features []string) bool {
	return strings.Contains(name, csiActionPrefix) && !slices.Contains(features, FeatureCSI)
}

// Progress reports how far a backup has got.
type Progress struct {
	ItemsBackedUp int
	TotalItems    int
	// Resource is the group-resource of the item just processed.
	Resource string
}

// Summary is what Run reports about a finished backup.
type Summary struct {
	// Backup is the object written as velero-backup.json.
	Backup *rigging.Backup
	// Results are the warnings and errors recorded.
	Results archive.Results
	// Bytes counts what was uploaded (compressed).
	Bytes int64
	// Duration is the wall time of the run.
	Duration time.Duration
}

// Errors of Run, besides those of archive (ErrBackupExists, ErrInvalidName).
var (
	// ErrNoItems reports a backup whose filters selected nothing.
	ErrNoItems = errors.New("no items to back up")
)

// Run backs up opts.Items into opts.Store under opts.Name.
//
// The tarball is produced while it uploads (never held whole in memory),
// or, when opts.Store has a Spool (a store served by a plugin process),
// into a temporary file first, so that an upload ended by the process
// dying is made again (archive.Store.Spool); then the sidecar files and
// the log; velero-backup.json goes last, with a
// terminal phase, so a location never lists a backup whose upload did not
// finish. Any failure to upload deletes what was uploaded and returns the
// error. A failure of a plugin on one item is not fatal: it is recorded in
// the results, the item is left out, and the backup ends PartiallyFailed.
// A plugin that is unavailable (rigging.ErrPluginUnavailable) is called
// once more; unavailable again, it fails the whole backup: Run returns an
// error matching rigging.ErrPluginUnavailable and nothing is listed.
// A name whose velero-backup.json already exists is refused with
// archive.ErrBackupExists.
func Run(ctx context.Context, opts Options) (*Summary, error) {
	if opts.Store == nil {
		return nil, errors.New("backup: no store")
	}
	if err := archive.ValidateName(opts.Name); err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	start := now()
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := opts.Store.IsValid(ctx); err != nil {
		return nil, fmt.Errorf("backup %s: %w", opts.Name, err)
	}
	exists, err := opts.Store.BackupExists(ctx, opts.Name)
	if err != nil {
		return nil, fmt.Errorf("backup %s: %w", opts.Name, err)
	}
	if exists {
		return nil, fmt.Errorf("backup %s: %w", opts.Name, archive.ErrBackupExists)
	}

	blog, err := archive.NewLog(opts.TempDir, slog.LevelInfo)
	if err != nil {
		return nil, fmt.Errorf("backup %s: %w", opts.Name, err)
	}
	defer blog.Close()

	b := newBackupObject(opts, start)
	bk, err := newBackupper(ctx, opts, b, blog.Logger().With("backup", VeleroNamespace+"/"+opts.Name), logger)
	if err != nil {
		return nil, fmt.Errorf("backup %s: %w", opts.Name, err)
	}

	up := &uploader{store: opts.Store, name: opts.Name}
	ok := false
	defer func() {
		if !ok {
			// Clean up even when ctx was cancelled: the backup must not stay
			// half-uploaded.
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
			defer cancel()
			if err := up.cleanup(cctx); err != nil {
				logger.Error("could not delete a failed backup's objects", "backup", opts.Name, "error", err)
			}
		}
	}()

	if err := up.put(ctx, archive.BackupContents, func(w io.Writer) error { return bk.run(ctx, w) }); err != nil {
		return nil, fmt.Errorf("backup %s: %w", opts.Name, err)
	}

	res := blog.Results()
	finish(b, bk, res, now())
	if err := up.sidecars(ctx, bk, res, blog); err != nil {
		return nil, fmt.Errorf("backup %s: %w", opts.Name, err)
	}
	if err := up.metadata(ctx, b); err != nil {
		return nil, fmt.Errorf("backup %s: %w", opts.Name, err)
	}
	ok = true
	sum := &Summary{Backup: b, Results: res, Bytes: up.bytes, Duration: now().Sub(start)}
	logger.Info("backup done", "backup", opts.Name, "phase", b.Status.Phase, "items", b.Status.Progress.ItemsBackedUp,
		"warnings", b.Status.Warnings, "errors", b.Status.Errors, "bytes", up.bytes, "duration", sum.Duration.Round(time.Millisecond))
	return sum, nil
}

func newBackupObject(opts Options, start time.Time) *rigging.Backup {
	loc := opts.LocationName
	if loc == "" {
		loc = "default"
	}
	spec := withExcludedNamespaces(opts.Spec, opts.Items)
	if spec.TTL.Duration == 0 {
		spec.TTL.Duration = DefaultTTL
	}
	if spec.ItemOperationTimeout.Duration == 0 {
		spec.ItemOperationTimeout.Duration = DefaultItemOperationTimeout
	}
	if spec.CSISnapshotTimeout.Duration == 0 {
		spec.CSISnapshotTimeout.Duration = DefaultCSISnapshotTimeout
	}
	spec.StorageLocation = loc
	lbls := map[string]string{}
	for k, v := range opts.Labels {
		lbls[k] = v
	}
	lbls[rigging.LabelStorageLocation] = archive.ValidLabelValue(loc)
	st := metav1.NewTime(start.UTC().Truncate(time.Second))
	b := &rigging.Backup{
		TypeMeta: metav1.TypeMeta{Kind: archive.BackupKind, APIVersion: archive.VeleroAPIVersion},
		ObjectMeta: metav1.ObjectMeta{
			Name:      opts.Name,
			Namespace: VeleroNamespace,
			UID:       types.UID(archive.NewUID()),
			Labels:    lbls,
		},
		Spec: spec,
		Status: rigging.BackupStatus{
			Version:        1,
			FormatVersion:  archive.FormatVersion,
			Phase:          rigging.BackupPhaseInProgress,
			StartTimestamp: &st,
		},
	}
	return b
}

// finish sets the terminal status: counts, phase, timestamps, expiration.
func finish(b *rigging.Backup, bk *backupper, res archive.Results, end time.Time) {
	n := bk.itemsWritten
	b.Status.Progress = &rigging.BackupProgress{TotalItems: n, ItemsBackedUp: n}
	b.Status.Errors = res.Errors.Count()
	b.Status.Warnings = res.Warnings.Count()
	b.Status.BackupItemOperationsAttempted = len(bk.ops)
	for _, op := range bk.ops {
		switch op.op.Status.Phase {
		case archive.OperationPhaseCompleted:
			b.Status.BackupItemOperationsCompleted++
		case archive.OperationPhaseFailed:
			b.Status.BackupItemOperationsFailed++
		}
	}
	b.Status.Phase = rigging.BackupPhaseCompleted
	if b.Status.Errors > 0 {
		b.Status.Phase = rigging.BackupPhasePartiallyFailed
	}
	ct := metav1.NewTime(end.UTC().Truncate(time.Second))
	b.Status.CompletionTimestamp = &ct
	exp := metav1.NewTime(b.Status.StartTimestamp.Add(b.Spec.TTL.Duration))
	b.Status.Expiration = &exp
}

// uploader puts the backup's objects and remembers them, to delete them all
// if a later step fails.
type uploader struct {
	store    *archive.Store
	name     string
	uploaded []string
	bytes    int64
}

func (u *uploader) put(ctx context.Context, f archive.BackupFile, write func(io.Writer) error) error {
	key := u.store.Layout.BackupKey(u.name, f)
	// Record the key first: a failed put may still have left something.
	u.uploaded = append(u.uploaded, key)
	return u.store.Put(ctx, key, func(w io.Writer) error {
		cw := &countingWriter{w: w}
		err := write(cw)
		u.bytes += cw.n
		return err
	})
}

func (u *uploader) putJSON(ctx context.Context, f archive.BackupFile, v any) error {
	return u.put(ctx, f, func(w io.Writer) error { return archive.WriteJSONGzip(w, v) })
}

// sidecars uploads, after the tarball: resource list, item operations,
// results, volume info, volume snapshots, pod volume backups, then the log.
func (u *uploader) sidecars(ctx context.Context, bk *backupper, res archive.Results, blog *archive.Log) error {
	ops := make([]*archive.BackupOperation, 0, len(bk.ops))
	for _, o := range bk.ops {
		ops = append(ops, o.op)
	}
	bk.resourceList.Sort()
	steps := []struct {
		f archive.BackupFile
		v any
	}{
		{archive.BackupResourceList, bk.resourceList},
		{archive.BackupItemOperations, ops},
		{archive.BackupResults, res},
		{archive.BackupVolumeInfo, []struct{}(nil)},
		{archive.BackupVolumeSnapshots, []struct{}(nil)},
		{archive.BackupPodVolumeBackups, []struct{}(nil)},
	}
	for _, s := range steps {
		if err := u.putJSON(ctx, s.f, s.v); err != nil {
			return err
		}
	}
	r, err := blog.Reader()
	if err != nil {
		return err
	}
	return u.put(ctx, archive.BackupLog, func(w io.Writer) error { return archive.WriteGzipText(w, r) })
}

func (u *uploader) metadata(ctx context.Context, b *rigging.Backup) error {
	return u.put(ctx, archive.BackupMetadata, func(w io.Writer) error { return archive.EncodeBackup(w, b) })
}

// cleanup deletes, metadata first, whatever was uploaded.
func (u *uploader) cleanup(ctx context.Context) error {
	keys := make([]string, 0, len(u.uploaded))
	for i := len(u.uploaded) - 1; i >= 0; i-- {
		keys = append(keys, u.uploaded[i])
	}
	return u.store.Delete(ctx, keys...)
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
