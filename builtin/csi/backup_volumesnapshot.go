package csi

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"

	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	"github.com/kubernetes-csi/external-snapshotter/client/v8/clientset/versioned"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/builtin/internal/kube"
)

// volumeSnapshotBackupper is velero.io/csi-volumesnapshot-backupper. On a
// VolumeSnapshot being backed up it records its content's deletion policy,
// snapshot handle, driver and restore size as annotations on the cluster's
// object (a merge patch), labels the content with the backup, adds the class
// and the content as additional items, and starts an operation that
// completes when the content is ready to use. The item it returns is, as
// Velero's, the API server's answer to the annotation patch (the live object:
// its current spec, status, resourceVersion and managedFields, whatever the
// given item held) with the given item's apiVersion and kind and the
// must-include-additional-items annotation added. While the
// backup finalizes it instead deletes the snapshot and its content, keeping
// the storage snapshot (deletion policy Retain).
//
// Operation IDs are Velero's: "namespace/name/started", started in RFC 3339.
type volumeSnapshotBackupper struct {
	base
	// now returns the time; nil means time.Now.
	now func() time.Time
}

func (a *volumeSnapshotBackupper) clock() time.Time {
	if a.now != nil {
		return a.now()
	}
	return time.Now()
}

func (a *volumeSnapshotBackupper) AppliesTo(context.Context) (rigging.ResourceSelector, error) {
	return rigging.ResourceSelector{IncludedResources: []string{selVolumeSnapshots}}, nil
}

func (a *volumeSnapshotBackupper) Execute(ctx context.Context, item *unstructured.Unstructured, backup *rigging.Backup) (*unstructured.Unstructured, []rigging.ResourceIdentifier, string, []rigging.ResourceIdentifier, error) {
	what := describe(item)
	var vs snapshotv1.VolumeSnapshot
	if err := kube.Decode(a.name, item, &vs); err != nil {
		return nil, nil, "", nil, err
	}
	if finalizing(backup) {
		a.deleteKeepingSnapshot(ctx, &vs)
		return item, nil, "", nil, nil
	}

	var additional []rigging.ResourceIdentifier
	if vs.Spec.VolumeSnapshotClassName != nil {
		additional = append(additional, rigging.ResourceIdentifier{GroupResource: grVolumeSnapshotClasses, Name: *vs.Spec.VolumeSnapshotClassName})
	}
	c, err := a.client(ctx, what)
	if err != nil {
		return nil, nil, "", nil, err
	}
	if vs.Status == nil || vs.Status.BoundVolumeSnapshotContentName == nil || *vs.Status.BoundVolumeSnapshotContentName == "" {
		deleteSnapshot(ctx, c, vs.Namespace, vs.Name, a.log)
		return nil, nil, "", nil, a.errorf(what, "it is bound to no VolumeSnapshotContent")
	}
	vsc, err := c.SnapshotV1().VolumeSnapshotContents().Get(ctx, *vs.Status.BoundVolumeSnapshotContentName, metav1.GetOptions{})
	if err != nil {
		deleteSnapshot(ctx, c, vs.Namespace, vs.Name, a.log)
		return nil, nil, "", nil, a.errorf(what, "get its VolumeSnapshotContent %s: %w", *vs.Status.BoundVolumeSnapshotContentName, err)
	}
	additional = append(additional, rigging.ResourceIdentifier{GroupResource: grVolumeSnapshotContents, Name: vsc.Name})

	annotations := map[string]string{AnnotationVSCDeletionPolicy: string(vsc.Spec.DeletionPolicy)}
	if st := vsc.Status; st != nil {
		if st.SnapshotHandle != nil {
			annotations[AnnotationSnapshotHandle] = *st.SnapshotHandle
			annotations[AnnotationDriverName] = vsc.Spec.Driver
		}
		if st.RestoreSize != nil {
			annotations[AnnotationRestoreSize] = resource.NewQuantity(*st.RestoreSize, resource.BinarySI).String()
		}
		if st.VolumeGroupSnapshotHandle != nil {
			annotations[AnnotationVolumeGroupSnapshotHandle] = *st.VolumeGroupSnapshotHandle
		}
	}

	if err := patchMeta(func(p []byte) error {
		_, err := c.SnapshotV1().VolumeSnapshotContents().Patch(ctx, vsc.Name, types.MergePatchType, p, metav1.PatchOptions{})
		return err
	}, "labels", map[string]string{LabelBackupName: validLabelValue(backup.Name)}); err != nil {
		a.log.Warn("cannot label VolumeSnapshotContent with its backup", "content", vsc.Name, "error", err)
	}
	var live *snapshotv1.VolumeSnapshot
	if err := patchMeta(func(p []byte) error {
		var err error
		live, err = c.SnapshotV1().VolumeSnapshots(vs.Namespace).Patch(ctx, vs.Name, types.MergePatchType, p, metav1.PatchOptions{})
		return err
	}, "annotations", annotations); err != nil {
		return nil, nil, "", nil, a.errorf(what, "annotate it in the cluster: %w", err)
	}
	// Velero's controller-runtime client decodes the API server's reply into
	// the object it patched, then puts back that object's apiVersion and
	// kind (the reply's decoder clears them) unless they were empty.
	if gvk := vs.GroupVersionKind(); !gvk.Empty() {
		live.SetGroupVersionKind(gvk)
	}

	annotations[rigging.AnnotationBackupMustIncludeAdditionalItems] = "true"
	addTo(&live.Annotations, annotations)
	out, err := a.encode(item, live)
	if err != nil {
		return nil, nil, "", nil, err
	}

	opID := vs.Namespace + "/" + vs.Name + "/" + a.clock().UTC().Format(time.RFC3339)
	post := []rigging.ResourceIdentifier{
		{GroupResource: grVolumeSnapshots, Namespace: vs.Namespace, Name: vs.Name},
		{GroupResource: grVolumeSnapshotContents, Name: vsc.Name},
	}
	return out, additional, opID, post, nil
}

// Progress reports whether the snapshot of operation id is ready: not
// completed while the VolumeSnapshot has no status, or is not ready and
// carries an error (the snapshot controller retries those); completed when
// its VolumeSnapshotContent is ready to use, or completed with the content's
// error message when the content failed. Started is the operation's start;
// Updated is set when it completes; Description says where the snapshot
// stands, with its creation time once known.
func (a *volumeSnapshotBackupper) Progress(ctx context.Context, id string, _ *rigging.Backup) (rigging.OperationProgress, error) {
	var p rigging.OperationProgress
	parts := strings.Split(id, "/")
	if len(parts) != 3 {
		return p, a.errorf(fmt.Sprintf("operation %q", id), "%w: want namespace/name/RFC3339 start time", rigging.ErrInvalidOperationID)
	}
	started, err := time.Parse(time.RFC3339, parts[2])
	if err != nil {
		return p, a.errorf(fmt.Sprintf("operation %q", id), "%w: start time: %w", rigging.ErrInvalidOperationID, err)
	}
	p.Started = started
	what := "VolumeSnapshot " + parts[0] + "/" + parts[1]
	c, err := a.client(ctx, what)
	if err != nil {
		return p, err
	}
	vs, err := c.SnapshotV1().VolumeSnapshots(parts[0]).Get(ctx, parts[1], metav1.GetOptions{})
	if err != nil {
		return p, a.errorf(what, "get: %w", err)
	}
	if vs.Status == nil {
		p.Description = "waiting for the snapshot controller"
		return p, nil
	}
	taken := ""
	if vs.Status.CreationTime != nil {
		taken = "; snapshot taken at " + vs.Status.CreationTime.UTC().Format(time.RFC3339)
	}
	vsReady := vs.Status.ReadyToUse != nil && *vs.Status.ReadyToUse
	if !vsReady && vs.Status.Error != nil {
		msg := ""
		if vs.Status.Error.Message != nil {
			msg = *vs.Status.Error.Message
		}
		a.log.Warn("VolumeSnapshot has an error; the snapshot controller retries", "volumesnapshot", parts[0]+"/"+parts[1], "error", msg)
		p.Description = "snapshot not ready, retrying after error: " + msg + taken
		return p, nil
	}
	p.Description = "snapshot not ready" + taken
	if vs.Status.BoundVolumeSnapshotContentName == nil {
		return p, nil
	}
	vsc, err := c.SnapshotV1().VolumeSnapshotContents().Get(ctx, *vs.Status.BoundVolumeSnapshotContentName, metav1.GetOptions{})
	if err != nil {
		return p, a.errorf(what, "get VolumeSnapshotContent %s: %w", *vs.Status.BoundVolumeSnapshotContentName, err)
	}
	if vsc.Status == nil {
		return p, nil
	}
	switch {
	case vsc.Status.ReadyToUse != nil && *vsc.Status.ReadyToUse:
		p.Completed, p.Updated = true, a.clock()
		p.Description = "snapshot ready" + taken
	case vsc.Status.Error != nil:
		p.Completed, p.Updated = true, a.clock()
		if vsc.Status.Error.Message != nil {
			p.Err = *vsc.Status.Error.Message
		}
		p.Description = "snapshot failed" + taken
	}
	return p, nil
}

// Cancel does nothing, as in Velero: a snapshot cannot be cancelled.
func (a *volumeSnapshotBackupper) Cancel(context.Context, string, *rigging.Backup) error { return nil }

// deleteKeepingSnapshot removes a ready VolumeSnapshot and its content from
// the cluster after setting the content's deletion policy to Retain, so the
// storage snapshot stays (Velero's cleanup while a backup finalizes).
// Failures are logged, as in Velero.
func (a *volumeSnapshotBackupper) deleteKeepingSnapshot(ctx context.Context, vs *snapshotv1.VolumeSnapshot) {
	log := a.log.With("volumesnapshot", vs.Namespace+"/"+vs.Name)
	if vs.Status == nil || vs.Status.BoundVolumeSnapshotContentName == nil || *vs.Status.BoundVolumeSnapshotContentName == "" {
		log.Error("VolumeSnapshot is not bound to a content; not deleting it")
		return
	}
	c, err := a.client(ctx, "VolumeSnapshot "+vs.Namespace+"/"+vs.Name)
	if err != nil {
		log.Warn("cannot clean up VolumeSnapshot", "error", err)
		return
	}
	content := *vs.Status.BoundVolumeSnapshotContentName
	if err := setDeletionPolicy(ctx, c, content, snapshotv1.VolumeSnapshotContentRetain); err != nil {
		log.Warn("cannot retain the storage snapshot; not deleting", "content", content, "error", err)
		return
	}
	if err := c.SnapshotV1().VolumeSnapshotContents().Delete(ctx, content, metav1.DeleteOptions{}); err != nil {
		log.Warn("cannot delete VolumeSnapshotContent", "content", content, "error", err)
	}
	if err := c.SnapshotV1().VolumeSnapshots(vs.Namespace).Delete(ctx, vs.Name, metav1.DeleteOptions{}); err != nil {
		log.Warn("cannot delete VolumeSnapshot", "error", err)
		return
	}
	log.Info("deleted VolumeSnapshot and its content, keeping the storage snapshot", "content", content)
}

// deleteSnapshot removes a VolumeSnapshot that failed, together with the
// storage snapshot: its content's deletion policy is set to Delete first.
// Failures are logged (Velero's CleanupVolumeSnapshot). It runs even when
// ctx is done.
func deleteSnapshot(ctx context.Context, c versioned.Interface, namespace, name string, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	vs, err := c.SnapshotV1().VolumeSnapshots(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		log.Debug("cannot get VolumeSnapshot to clean it up", "volumesnapshot", namespace+"/"+name, "error", err)
		return
	}
	if vs.Status != nil && vs.Status.BoundVolumeSnapshotContentName != nil {
		if err := setDeletionPolicy(ctx, c, *vs.Status.BoundVolumeSnapshotContentName, snapshotv1.VolumeSnapshotContentDelete); err != nil {
			log.Debug("cannot set content deletion policy to Delete", "content", *vs.Status.BoundVolumeSnapshotContentName, "error", err)
		}
	}
	if err := c.SnapshotV1().VolumeSnapshots(namespace).Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
		log.Debug("cannot delete VolumeSnapshot", "volumesnapshot", namespace+"/"+name, "error", err)
		return
	}
	log.Info("deleted VolumeSnapshot", "volumesnapshot", namespace+"/"+name)
}

// cleanupTimeout bounds the clean-up after a failed snapshot.
const cleanupTimeout = 30 * time.Second

func setDeletionPolicy(ctx context.Context, c versioned.Interface, content string, policy snapshotv1.DeletionPolicy) error {
	p, err := json.Marshal(map[string]any{"spec": map[string]any{"deletionPolicy": policy}})
	if err != nil {
		return err
	}
	_, err = c.SnapshotV1().VolumeSnapshotContents().Patch(ctx, content, types.MergePatchType, p, metav1.PatchOptions{})
	return err
}

// patchMeta merge-patches metadata.<field> (labels or annotations) with
// values through apply.
func patchMeta(apply func([]byte) error, field string, values map[string]string) error {
	p, err := json.Marshal(map[string]any{"metadata": map[string]any{field: values}})
	if err != nil {
		return err
	}
	return apply(p)
}

var _ rigging.BackupItemActionV2 = (*volumeSnapshotBackupper)(nil)
