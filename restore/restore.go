// Package restore is rigging's restore pipeline: it reads a backup in
// Velero's layout (written by rigging or by Velero), selects and orders its
// items as Velero v1.18's restore does, runs the RestoreItemActions on them,
// and writes the objects Velero would create to an Output: into a live
// cluster (NewClusterOutput), or as YAML ready for `kubectl apply` (a dry
// run). Its logs and results go to restores/NAME/ in the storage location,
// as Velero writes them, whatever the Output.
package restore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/archive"
	"github.com/rigging-dev/rigging/resources"
)

// VeleroNamespace is the namespace of the Restore object the actions see.
const VeleroNamespace = "velero"

// DefaultItemOperationTimeout is Velero's default for
// spec.itemOperationTimeout.
const DefaultItemOperationTimeout = 4 * time.Hour

// DefaultAdditionalItemsReadyTimeout bounds the wait for additional items
// when an action asks for it without a timeout (Velero's default resource
// timeout).
const DefaultAdditionalItemsReadyTimeout = 10 * time.Minute

// restoreFinalizer is the finalizer Velero's restore controller adds.
const restoreFinalizer = "restores.velero.io/external-resources-finalizer"

// ErrRestoreExists reports a restore name already used in the location.
var ErrRestoreExists = errors.New("restore already exists in object storage")

// Plugins is what the pipeline needs from a plugin Manager;
// *manager.Manager implements it. v1 actions appear among the v2 ones,
// adapted, sorted by name.
type Plugins interface {
	RestoreItemActionsV2(ctx context.Context) ([]rigging.RestoreItemActionV2, error)
}

// Options configure Run.
type Options struct {
	// Name is the restore's name. Required.
	Name string
	// BackupName is the backup to restore. Required.
	BackupName string
	// Store is the location holding the backup, where the restore's logs
	// and results go too. Required.
	Store *archive.Store
	// Spec holds the filters (included/excluded namespaces and resources,
	// label selectors, includeClusterResources), namespaceMapping,
	// restoreStatus and itemOperationTimeout, as a Velero Restore's spec.
	// backupName is set from BackupName.
	Spec rigging.RestoreSpec
	// Output receives the restored objects (manifests or a cluster).
	// Required. Run closes it.
	Output Output
	// Plugins gives the actions to run; nil runs none.
	Plugins Plugins
	// Mapper maps kinds; nil uses resources.NewMapper(). The backup's CRDs
	// are added to it.
	Mapper *resources.Mapper
	// Priorities is the restore order; the zero value means
	// DefaultPriorities.
	Priorities Priorities
	// Limits bound the tarball read (archive.DefaultLimits for zero fields).
	Limits archive.Limits
	// Logger receives progress and a copy of every warning and error; nil
	// discards.
	Logger *slog.Logger
	// Progress, if set, is called after each item.
	Progress func(Progress)
	// OperationPollInterval is how often asynchronous operations and
	// additional-item readiness are polled (default 1s).
	OperationPollInterval time.Duration
	// Now returns the current time (default time.Now).
	Now func() time.Time
	// TempDir holds the log file while the restore runs.
	TempDir string
	// Lookup is what the actions see of the cluster (rigging.WithLookup);
	// nil: the backup's items. A restore into a cluster gives the
	// cluster's (a *cluster.Lookup).
	Lookup rigging.Lookup
	// Workers is the number of objects of one tier (one resource) written
	// at once; 0 means GOMAXPROCS. Writes into a cluster wait on the
	// network, not on a CPU: cluster.DefaultWorkers gives a number for a
	// client's QPS (the CLI's default). A tier is written before the next one
	// starts, and the log, results and resource list are the same
	// whatever the number. A SequentialOutput is written by one.
	Workers int
	// Features are Velero feature flags; without "EnableCSI" the
	// velero.io/csi-* actions are skipped, as Velero skips them.
	Features []string
}

// Progress reports how far a restore has got.
type Progress struct {
	ItemsRestored int
	TotalItems    int
	Resource      string
}

// Summary is what Run reports about a finished restore.
type Summary struct {
	Restore  *rigging.Restore
	Results  archive.Results
	Duration time.Duration
	// BackupItems is the number of items in the backup.
	BackupItems int
	// NotRestored counts, by resource and reason, the items of the backup
	// the restore did not write, in restore order; empty when every item
	// was restored.
	NotRestored []NotRestored
}

// Run restores backup opts.BackupName into opts.Output. A failure of an
// action on one item is recorded in the results (the item is not
// restored) and the restore ends PartiallyFailed; a backup that cannot be
// read, or a failure to write the output or upload the logs, is an error.
func Run(ctx context.Context, opts Options) (*Summary, error) {
	if opts.Store == nil || opts.Output == nil {
		return nil, errors.New("restore: store and output are required")
	}
	defer opts.Output.Close()
	if err := archive.ValidateName(opts.Name); err != nil {
		return nil, fmt.Errorf("restore: %w", err)
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
	keys, err := opts.Store.Objects.ListObjects(ctx, opts.Store.Bucket, opts.Store.Layout.RestoreDir(opts.Name))
	if err != nil {
		return nil, fmt.Errorf("restore %s: list existing restore: %w", opts.Name, err)
	}
	if len(keys) > 0 {
		return nil, fmt.Errorf("restore %s: %w", opts.Name, ErrRestoreExists)
	}
	b, err := opts.Store.GetBackup(ctx, opts.BackupName)
	if err != nil {
		return nil, fmt.Errorf("restore %s: %w", opts.Name, err)
	}
	contents, err := opts.Store.ReadContents(ctx, opts.BackupName, opts.Limits)
	if err != nil {
		return nil, fmt.Errorf("restore %s: backup %s: %w", opts.Name, opts.BackupName, err)
	}
	rlog, err := archive.NewLog(opts.TempDir, slog.LevelInfo)
	if err != nil {
		return nil, fmt.Errorf("restore %s: %w", opts.Name, err)
	}
	defer rlog.Close()

	r := newRestoreObject(opts, b, start)
	rs, err := newRestorer(ctx, opts, r, b, contents, rlog.Logger().With("restore", VeleroNamespace+"/"+opts.Name), logger)
	if err != nil {
		return nil, fmt.Errorf("restore %s: %w", opts.Name, err)
	}
	if err := rs.run(ctx); err != nil {
		// Keep what happened where Velero keeps it, as far as possible.
		rs.log.Error("restore failed", "error", err)
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if uerr := upload(uctx, opts, rs, rlog.Results(), rlog); uerr != nil {
			logger.Warn("could not upload the failed restore's log and results", "restore", opts.Name, "error", uerr)
		}
		return nil, fmt.Errorf("restore %s: %w", opts.Name, err)
	}
	if err := opts.Output.Close(); err != nil {
		return nil, fmt.Errorf("restore %s: write output: %w", opts.Name, err)
	}
	res := rlog.Results()
	finish(r, rs, res, now())
	if err := upload(ctx, opts, rs, res, rlog); err != nil {
		return nil, fmt.Errorf("restore %s: %w", opts.Name, err)
	}
	sum := &Summary{Restore: r, Results: res, Duration: now().Sub(start), BackupItems: contents.Len(), NotRestored: rs.notRestored()}
	logger.Info("restore done", "restore", opts.Name, "backup", opts.BackupName, "phase", r.Status.Phase,
		"items", rs.restored, "warnings", r.Status.Warnings, "errors", r.Status.Errors, "duration", sum.Duration.Round(time.Millisecond))
	return sum, nil
}

// newRestoreObject builds the Restore the actions receive, as Velero's
// restore controller prepares it.
func newRestoreObject(opts Options, b *rigging.Backup, start time.Time) *rigging.Restore {
	spec := opts.Spec
	spec.BackupName = opts.BackupName
	if spec.ScheduleName == "" {
		spec.ScheduleName = b.Labels[rigging.LabelScheduleName]
	}
	if spec.ItemOperationTimeout.Duration == 0 {
		spec.ItemOperationTimeout.Duration = DefaultItemOperationTimeout
	}
	excl := slices.Clone(spec.ExcludedResources)
	for _, nr := range NonRestorable {
		if !slices.Contains(excl, nr) {
			excl = append(excl, nr)
		}
	}
	spec.ExcludedResources = excl
	st := metav1.NewTime(start.UTC().Truncate(time.Second))
	return &rigging.Restore{
		TypeMeta: metav1.TypeMeta{Kind: archive.RestoreKind, APIVersion: archive.VeleroAPIVersion},
		ObjectMeta: metav1.ObjectMeta{
			Name: opts.Name, Namespace: VeleroNamespace, UID: types.UID(archive.NewUID()),
			Finalizers: []string{restoreFinalizer},
		},
		Spec:   spec,
		Status: rigging.RestoreStatus{Phase: rigging.RestorePhaseInProgress, StartTimestamp: &st},
	}
}

func finish(r *rigging.Restore, rs *restorer, res archive.Results, end time.Time) {
	r.Status.Errors = res.Errors.Count()
	r.Status.Warnings = res.Warnings.Count()
	r.Status.Progress = &rigging.RestoreProgress{TotalItems: rs.restored, ItemsRestored: rs.restored}
	r.Status.RestoreItemOperationsAttempted = len(rs.ops)
	for _, o := range rs.ops {
		switch o.op.Status.Phase {
		case archive.OperationPhaseCompleted:
			r.Status.RestoreItemOperationsCompleted++
		case archive.OperationPhaseFailed:
			r.Status.RestoreItemOperationsFailed++
		}
	}
	r.Status.Phase = rigging.RestorePhaseCompleted
	if r.Status.Errors > 0 {
		r.Status.Phase = rigging.RestorePhasePartiallyFailed
	}
	ct := metav1.NewTime(end.UTC().Truncate(time.Second))
	r.Status.CompletionTimestamp = &ct
}

// upload writes restores/NAME/: resource list, item operations, results,
// volume info, then the log.
func upload(ctx context.Context, opts Options, rs *restorer, res archive.Results, rlog *archive.Log) error {
	l, s := opts.Store.Layout, opts.Store
	ops := make([]*archive.RestoreOperation, 0, len(rs.ops))
	for _, o := range rs.ops {
		ops = append(ops, o.op)
	}
	rs.resourceList.Sort()
	steps := []struct {
		key string
		v   any
	}{
		{l.RestoreKey(opts.Name, archive.RestoreResourceList), rs.resourceList},
		{l.RestoreKey(opts.Name, archive.RestoreItemOperations), ops},
		{l.RestoreKey(opts.Name, archive.RestoreResults), res},
		{l.RestoreKey(opts.Name, archive.RestoreVolumeInfo), []struct{}(nil)},
	}
	for _, st := range steps {
		v := st.v
		if err := s.Put(ctx, st.key, func(w io.Writer) error { return archive.WriteJSONGzip(w, v) }); err != nil {
			return err
		}
	}
	r, err := rlog.Reader()
	if err != nil {
		return err
	}
	return s.Put(ctx, l.RestoreKey(opts.Name, archive.RestoreLog), func(w io.Writer) error { return archive.WriteGzipText(w, r) })
}
