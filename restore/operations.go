package restore

import (
	"context"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/archive"
)

func (rs *restorer) addOperation(a resolvedAction, id, gr, ns, name string) {
	now := metav1.NewTime(rs.now())
	rs.ops = append(rs.ops, &operation{action: a.action, op: &archive.RestoreOperation{
		Spec: archive.RestoreOperationSpec{
			RestoreName:        rs.restore.Name,
			RestoreUID:         string(rs.restore.UID),
			RestoreItemAction:  a.name,
			ResourceIdentifier: rigging.ResourceIdentifier{GroupResource: schema.ParseGroupResource(gr), Namespace: ns, Name: name},
			OperationID:        id,
		},
		Status: archive.OperationStatus{Phase: archive.OperationPhaseNew, Created: &now},
	}})
}

func opDone(o *operation) bool {
	p := o.op.Status.Phase
	return p == archive.OperationPhaseCompleted || p == archive.OperationPhaseFailed
}

// waitOperations polls the asynchronous operations until each ends or
// spec.itemOperationTimeout passes (then it is cancelled and failed).
func (rs *restorer) waitOperations(ctx context.Context) error {
	if len(rs.ops) == 0 {
		return nil
	}
	timeout := rs.restore.Spec.ItemOperationTimeout.Duration
	deadline := rs.now().Add(timeout)
	ticker := time.NewTicker(rs.pollInterval())
	defer ticker.Stop()
	for {
		pending := 0
		for _, o := range rs.ops {
			if opDone(o) {
				continue
			}
			rs.poll(ctx, o)
			if !opDone(o) {
				pending++
			}
		}
		if pending == 0 {
			return nil
		}
		if !rs.now().Before(deadline) {
			for _, o := range rs.ops {
				if opDone(o) {
					continue
				}
				spec := o.op.Spec
				if err := o.action.Cancel(ctx, spec.OperationID, rs.restore); err != nil {
					rs.log.Warn("could not cancel operation", "namespace", spec.ResourceIdentifier.Namespace, "operation", spec.OperationID, "error", err)
				}
				o.op.Status.Phase = archive.OperationPhaseFailed
				o.op.Status.Error = fmt.Sprintf("operation timed out after %s", timeout)
				rs.errorf(spec.ResourceIdentifier.Namespace, "asynchronous operation timed out", "plugin", spec.RestoreItemAction,
					"operation", spec.OperationID, "item", spec.ResourceIdentifier.String())
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for asynchronous operations: %w", ctx.Err())
		case <-ticker.C:
		}
	}
}

func (rs *restorer) poll(ctx context.Context, o *operation) {
	spec := o.op.Spec
	p, err := o.action.Progress(ctx, spec.OperationID, rs.restore)
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		o.op.Status.Phase = archive.OperationPhaseFailed
		o.op.Status.Error = err.Error()
		rs.errorf(spec.ResourceIdentifier.Namespace, "error getting operation progress", "plugin", spec.RestoreItemAction,
			"operation", spec.OperationID, "item", spec.ResourceIdentifier.String(), "error", err)
		return
	}
	o.op.Status.Apply(p)
	if o.op.Status.Phase == archive.OperationPhaseFailed {
		rs.errorf(spec.ResourceIdentifier.Namespace, "asynchronous operation failed", "plugin", spec.RestoreItemAction,
			"operation", spec.OperationID, "item", spec.ResourceIdentifier.String(), "error", p.Err)
	}
}
