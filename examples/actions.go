package main

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/rigging-dev/rigging"
)

// timedOperation is a BackupItemAction v2 that starts an asynchronous
// operation on each ConfigMap: the operation "finishes" five seconds after
// it started. Its state lives in the operation ID itself
// (<namespace>/<name>/<start unix-ms>), because Progress may be called from
// a later process than Execute.
type timedOperation struct{ log *slog.Logger }

func newTimedOperation(log *slog.Logger) (rigging.BackupItemActionV2, error) {
	return timedOperation{log}, nil
}

const operationLength = 5 * time.Second

func (timedOperation) Name() string { return "example.com/timed-operation" }

func (timedOperation) AppliesTo(context.Context) (rigging.ResourceSelector, error) {
	return rigging.ResourceSelector{IncludedResources: []string{"configmaps"}}, nil
}

func (a timedOperation) Execute(_ context.Context, item *unstructured.Unstructured, backup *rigging.Backup) (*unstructured.Unstructured, []rigging.ResourceIdentifier, string, []rigging.ResourceIdentifier, error) {
	id := fmt.Sprintf("%s/%s/%d", item.GetNamespace(), item.GetName(), time.Now().UnixMilli())
	a.log.Info("operation started", "operation", id, "backup", backup.GetName())
	post := []rigging.ResourceIdentifier{{GroupResource: schema.GroupResource{Resource: "configmaps"}, Namespace: item.GetNamespace(), Name: item.GetName()}}
	return nil, nil, id, post, nil
}

func started(id string) (time.Time, error) {
	i := strings.LastIndex(id, "/")
	ms, err := strconv.ParseInt(id[i+1:], 10, 64)
	if i < 0 || err != nil {
		return time.Time{}, fmt.Errorf("operation %q: %w", id, rigging.ErrInvalidOperationID)
	}
	return time.UnixMilli(ms), nil
}

func (timedOperation) Progress(_ context.Context, id string, _ *rigging.Backup) (rigging.OperationProgress, error) {
	t0, err := started(id)
	if err != nil {
		return rigging.OperationProgress{}, err
	}
	done := min(time.Since(t0), operationLength)
	return rigging.OperationProgress{
		Completed: done == operationLength, NCompleted: int64(done / time.Second), NTotal: int64(operationLength / time.Second),
		OperationUnits: "seconds", Description: "waiting", Started: t0, Updated: time.Now(),
	}, nil
}

func (timedOperation) Cancel(_ context.Context, id string, _ *rigging.Backup) error {
	_, err := started(id)
	return err
}

// restoreLabeler is a RestoreItemAction (v1) that labels every restored
// item with the restore's name.
type restoreLabeler struct{}

func newRestoreLabeler(*slog.Logger) (rigging.RestoreItemAction, error) { return restoreLabeler{}, nil }

func (restoreLabeler) AppliesTo(context.Context) (rigging.ResourceSelector, error) {
	return rigging.ResourceSelector{ExcludedResources: []string{"events"}}, nil
}

func (restoreLabeler) Execute(_ context.Context, in *rigging.RestoreItemActionExecuteInput) (*rigging.RestoreItemActionExecuteOutput, error) {
	out := in.Item.DeepCopy()
	labels := out.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	labels["example.com/restored-by"] = in.Restore.GetName()
	out.SetLabels(labels)
	return &rigging.RestoreItemActionExecuteOutput{UpdatedItem: out}, nil
}

// deleteLogger is a DeleteItemAction that only logs what a deleted backup
// held; a real one would release snapshots or external records.
type deleteLogger struct{ log *slog.Logger }

func newDeleteLogger(log *slog.Logger) (rigging.DeleteItemAction, error) {
	return deleteLogger{log}, nil
}

func (deleteLogger) AppliesTo(context.Context) (rigging.ResourceSelector, error) {
	return rigging.ResourceSelector{IncludedResources: []string{"persistentvolumeclaims"}}, nil
}

func (a deleteLogger) Execute(_ context.Context, in *rigging.DeleteItemActionExecuteInput) error {
	a.log.Info("backup deleted", "backup", in.Backup.GetName(), "claim", in.Item.GetNamespace()+"/"+in.Item.GetName())
	return nil
}

// configMapBlock is an ItemBlockAction: a pod is backed up in one block with
// the ConfigMaps it mounts.
type configMapBlock struct{}

func newConfigMapBlock(*slog.Logger) (rigging.ItemBlockAction, error) { return configMapBlock{}, nil }

func (configMapBlock) Name() string { return "example.com/configmap-block" }

func (configMapBlock) AppliesTo(context.Context) (rigging.ResourceSelector, error) {
	return rigging.ResourceSelector{IncludedResources: []string{"pods"}}, nil
}

func (configMapBlock) GetRelatedItems(_ context.Context, pod *unstructured.Unstructured, _ *rigging.Backup) ([]rigging.ResourceIdentifier, error) {
	vols, _, err := unstructured.NestedSlice(pod.Object, "spec", "volumes")
	if err != nil {
		return nil, fmt.Errorf("pod %s/%s: spec.volumes: %w", pod.GetNamespace(), pod.GetName(), err)
	}
	var out []rigging.ResourceIdentifier
	for _, v := range vols {
		if name, ok, _ := unstructured.NestedString(v.(map[string]any), "configMap", "name"); ok {
			out = append(out, rigging.ResourceIdentifier{GroupResource: schema.GroupResource{Resource: "configmaps"}, Namespace: pod.GetNamespace(), Name: name})
		}
	}
	return out, nil
}
