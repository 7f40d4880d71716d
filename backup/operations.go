package backup

import (
	"context"
	"fmt"
	"time"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/archive"
)

// DefaultOperationPollInterval is how often asynchronous operations are
// polled unless Options says otherwise.
const DefaultOperationPollInterval = time.Second

// waitOperations polls every asynchronous operation the actions started
// until it ends or spec.itemOperationTimeout passes (then it is cancelled
// and recorded as failed). The items a completed operation names
// (postOperationItems) are then backed up again, their actions run in
// finalize mode, and their tar entries rewritten (a later entry replaces an
// earlier one on extraction).
func (bk *backupper) waitOperations(ctx context.Context) error {
	if len(bk.ops) == 0 {
		return nil
	}
	interval := bk.opts.OperationPollInterval
	if interval <= 0 {
		interval = DefaultOperationPollInterval
	}
	timeout := bk.backup.Spec.ItemOperationTimeout.Duration
	deadline := bk.now().Add(timeout)
	bk.user.Info("waiting for asynchronous operations", "backup", bk.backup.Name, "operations", len(bk.ops), "timeout", timeout)
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		pending := 0
		for _, o := range bk.ops {
			if done(o) {
				continue
			}
			bk.poll(ctx, o)
			if !done(o) {
				pending++
			}
		}
		if pending == 0 {
			break
		}
		if !bk.now().Before(deadline) {
			for _, o := range bk.ops {
				if !done(o) {
					bk.timeOut(ctx, o, timeout)
				}
			}
			break
		}
		select {
		case <-ctx.Done():
			return &fatalError{fmt.Errorf("waiting for asynchronous operations: %w", ctx.Err())}
		case <-ticker.C:
		}
	}
	// Velero's finalizer runs the actions on the post-operation items with
	// the Backup in phase Finalizing (FinalizingPartiallyFailed once an
	// operation failed; both mean the same to the actions that read them):
	// the CSI VolumeSnapshot backupper, for one, then cleans up instead of
	// starting an operation.
	bk.backup.Status.Phase = rigging.BackupPhaseFinalizing
	for _, o := range bk.ops {
		if o.op.Status.Phase == archive.OperationPhaseFailed {
			bk.backup.Status.Phase = rigging.BackupPhaseFinalizingPartiallyFailed
		}
	}
	return bk.single(ctx, func(r *blockRun) error {
		// Every post-operation item is read before the actions run on any,
		// as Velero's finalizer does: the CSI VolumeSnapshot backupper's
		// clean-up deletes the VolumeSnapshotContent listed after it.
		var found []item
		for _, o := range bk.ops {
			if o.op.Status.Phase != archive.OperationPhaseCompleted {
				continue
			}
			for _, id := range o.op.Spec.PostOperationItems {
				it, ok, getErr := bk.find(ctx, id, true)
				if getErr != nil {
					r.warnf(r.log.With("namespace", id.Namespace), "could not get the item from the cluster", "item", id.String(), "error", getErr)
				}
				if !ok {
					r.warnf(r.log.With("namespace", id.Namespace), "post-operation item was not found in "+bk.source(), "item", id.String(), "operation", o.op.Spec.OperationID)
					continue
				}
				found = append(found, it)
			}
		}
		for _, it := range found {
			if _, err := r.backupItem(ctx, it, true, true); err != nil {
				if isFatal(err) {
					return err
				}
				k := it.key()
				r.errorf(r.log, k.namespace, "error finalizing item", "resource", k.gr.String(), "name", k.name, "error", err)
			}
		}
		return nil
	})
}

func done(o *operation) bool {
	p := o.op.Status.Phase
	return p == archive.OperationPhaseCompleted || p == archive.OperationPhaseFailed
}

func (bk *backupper) poll(ctx context.Context, o *operation) {
	spec := o.op.Spec
	p, err := o.action.Progress(ctx, spec.OperationID, bk.backup)
	log := bk.log.With("namespace", spec.ResourceIdentifier.Namespace)
	if err != nil {
		if ctx.Err() == nil { // else the wait loop reports the cancellation
			o.op.Status.Phase = archive.OperationPhaseFailed
			o.op.Status.Error = err.Error()
			bk.errorf(log, spec.ResourceIdentifier.Namespace, "error getting operation progress",
				"plugin", spec.BackupItemAction, "operation", spec.OperationID, "item", spec.ResourceIdentifier.String(), "error", err)
		}
		return
	}
	o.op.Status.Apply(p)
	if o.op.Status.Phase == archive.OperationPhaseFailed {
		bk.errorf(log, spec.ResourceIdentifier.Namespace, "asynchronous operation failed",
			"plugin", spec.BackupItemAction, "operation", spec.OperationID, "item", spec.ResourceIdentifier.String(), "error", p.Err)
	}
}

func (bk *backupper) timeOut(ctx context.Context, o *operation, timeout time.Duration) {
	spec := o.op.Spec
	if err := o.action.Cancel(ctx, spec.OperationID, bk.backup); err != nil {
		bk.log.Warn("could not cancel operation", "namespace", spec.ResourceIdentifier.Namespace, "operation", spec.OperationID, "error", err)
	}
	o.op.Status.Phase = archive.OperationPhaseFailed
	o.op.Status.Error = fmt.Sprintf("operation timed out after %s", timeout)
	bk.errorf(bk.log, spec.ResourceIdentifier.Namespace, "asynchronous operation timed out",
		"plugin", spec.BackupItemAction, "operation", spec.OperationID, "item", spec.ResourceIdentifier.String(), "timeout", timeout)
}
