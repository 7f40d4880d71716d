package csi

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	"github.com/kubernetes-csi/external-snapshotter/client/v8/clientset/versioned"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/builtin/internal/kube"
)

// DefaultSnapshotTimeout bounds the wait for a VolumeSnapshot's handle when
// the Backup sets no spec.csiSnapshotTimeout (Velero's server default).
const DefaultSnapshotTimeout = 10 * time.Minute

// defaultPollInterval is how often the PVC backupper looks at a new
// VolumeSnapshot (Velero's interval).
const defaultPollInterval = 5 * time.Second

// pvcBackupper is velero.io/csi-pvc-backupper. On a bound claim whose
// volume is a CSI volume it creates a VolumeSnapshot in the claim's
// namespace (named by generateName "velero-<claim>-", of the class Velero
// would pick), waits until the snapshot's content has a snapshot handle
// (up to the Backup's spec.csiSnapshotTimeout), and returns the claim
// labelled and annotated with the snapshot's name, its storage request
// raised to the snapshot's restore size if that is larger, and the
// VolumeSnapshot as an additional item. The snapshot's readiness is then
// tracked by the VolumeSnapshot backupper's operation. It starts no
// operation itself (Velero's only start DataUploads).
type pvcBackupper struct {
	base
	// pollInterval is the wait between looks at a new snapshot; zero means
	// defaultPollInterval.
	pollInterval time.Duration
}

func (a *pvcBackupper) AppliesTo(context.Context) (rigging.ResourceSelector, error) {
	return rigging.ResourceSelector{IncludedResources: []string{"persistentvolumeclaims"}}, nil
}

func (a *pvcBackupper) Execute(ctx context.Context, item *unstructured.Unstructured, backup *rigging.Backup) (*unstructured.Unstructured, []rigging.ResourceIdentifier, string, []rigging.ResourceIdentifier, error) {
	if backup == nil {
		backup = &rigging.Backup{}
	}
	if finalizing(backup) {
		return item, nil, "", nil, nil
	}
	what := describe(item)
	var pvc corev1.PersistentVolumeClaim
	if err := kube.Decode(a.name, item, &pvc); err != nil {
		return nil, nil, "", nil, err
	}
	if pvc.Spec.StorageClassName == nil {
		return nil, nil, "", nil, a.errorf(what, "cannot snapshot a claim without a storage class")
	}
	pv, err := a.volume(ctx, &pvc)
	if err != nil {
		return nil, nil, "", nil, a.errorf(what, "%w", err)
	}
	if pv.Spec.CSI == nil {
		a.log.Info("skipping claim: its volume is not a CSI volume", "pvc", what, "pv", pv.Name)
		addTo(&pvc.Annotations, map[string]string{AnnotationSkippedNoCSIPV: "true"})
		out, err := a.encode(item, &pvc)
		if err != nil {
			return nil, nil, "", nil, err
		}
		return out, nil, "", nil, nil
	}
	ok, err := a.shouldSnapshot(ctx, pv, backup)
	if err != nil {
		return nil, nil, "", nil, a.errorf(what, "%w", err)
	}
	if !ok {
		return item, nil, "", nil, nil
	}
	if backup.Spec.SnapshotMoveData != nil && *backup.Spec.SnapshotMoveData {
		return nil, nil, "", nil, a.errorf(what, "backup %s asks for snapshotMoveData: %w", backup.Name, ErrDataMoverUnsupported)
	}
	if key := backup.Spec.VolumeGroupSnapshotLabelKey; key != "" && pvc.Labels[key] != "" {
		return nil, nil, "", nil, a.errorf(what, "its label %s=%s puts it in a volume group: %w", key, pvc.Labels[key], ErrVolumeGroupSnapshotUnsupported)
	}

	c, err := a.client(ctx, what)
	if err != nil {
		return nil, nil, "", nil, err
	}
	vs, err := a.createSnapshot(ctx, c, &pvc, backup)
	if err != nil {
		return nil, nil, "", nil, a.errorf(what, "%w", err)
	}
	timeout := backup.Spec.CSISnapshotTimeout.Duration
	if timeout <= 0 {
		timeout = DefaultSnapshotTimeout
	}
	vsc, err := a.waitForHandle(ctx, c, vs, timeout)
	if err != nil {
		deleteSnapshot(ctx, c, vs.Namespace, vs.Name, a.log)
		return nil, nil, "", nil, a.errorf(what, "VolumeSnapshot %s/%s: %w", vs.Namespace, vs.Name, err)
	}

	if vsc.Status != nil && vsc.Status.RestoreSize != nil {
		raiseRequest(&pvc, *vsc.Status.RestoreSize)
	}
	addTo(&pvc.Annotations, map[string]string{
		AnnotationVolumeSnapshotName:                       vs.Name,
		rigging.AnnotationBackupMustIncludeAdditionalItems: "true",
	})
	addTo(&pvc.Labels, map[string]string{
		LabelVolumeSnapshotName: validLabelValue(vs.Name),
		LabelBackupName:         validLabelValue(backup.Name),
	})
	out, err := a.encode(item, &pvc)
	if err != nil {
		return nil, nil, "", nil, err
	}
	a.log.Info("snapshotted claim", "pvc", what, "volumesnapshot", vs.Namespace+"/"+vs.Name, "content", vsc.Name)
	return out, []rigging.ResourceIdentifier{{GroupResource: grVolumeSnapshots, Namespace: vs.Namespace, Name: vs.Name}}, "", nil, nil
}

// Progress always fails: without the data mover the action starts no
// operations, so every ID is unknown.
func (a *pvcBackupper) Progress(_ context.Context, id string, _ *rigging.Backup) (rigging.OperationProgress, error) {
	return rigging.OperationProgress{}, a.errorf(fmt.Sprintf("operation %q", id), "%w", rigging.ErrInvalidOperationID)
}

// Cancel always fails, as Progress does.
func (a *pvcBackupper) Cancel(_ context.Context, id string, _ *rigging.Backup) error {
	return a.errorf(fmt.Sprintf("operation %q", id), "%w", rigging.ErrInvalidOperationID)
}

// volume returns the PersistentVolume bound to pvc, from the Lookup.
func (a *pvcBackupper) volume(ctx context.Context, pvc *corev1.PersistentVolumeClaim) (*corev1.PersistentVolume, error) {
	if pvc.Spec.VolumeName == "" {
		return nil, errors.New("no volume backs this claim")
	}
	if pvc.Status.Phase != corev1.ClaimBound {
		return nil, fmt.Errorf("claim is %q, not bound to a volume", pvc.Status.Phase)
	}
	obj, err := rigging.LookupFrom(ctx).Get(ctx, grPersistentVolumes, "", pvc.Spec.VolumeName)
	if err != nil {
		return nil, fmt.Errorf("get its PersistentVolume %s: %w", pvc.Spec.VolumeName, err)
	}
	var pv corev1.PersistentVolume
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, &pv); err != nil {
		return nil, fmt.Errorf("decode PersistentVolume %s: %w", pvc.Spec.VolumeName, err)
	}
	return &pv, nil
}

// shouldSnapshot applies the part of Velero's volume helper that needs no
// resource-policy ConfigMap: no snapshot when a pod using the claim selects
// the volume for file-system backup, or when spec.snapshotVolumes is false.
func (a *pvcBackupper) shouldSnapshot(ctx context.Context, pv *corev1.PersistentVolume, backup *rigging.Backup) (bool, error) {
	if len(backup.Spec.ResourcePolicy) > 0 && string(backup.Spec.ResourcePolicy) != "null" {
		a.log.Warn("backup has a resource policy; its volume policies are not evaluated by rigging", "backup", backup.Name, "pv", pv.Name)
	}
	if ref := pv.Spec.ClaimRef; ref != nil {
		pods, err := rigging.LookupFrom(ctx).List(ctx, grPods, ref.Namespace)
		if err != nil {
			return false, fmt.Errorf("list pods of namespace %s: %w", ref.Namespace, err)
		}
		optOut := backup.Spec.DefaultVolumesToFsBackup != nil && *backup.Spec.DefaultVolumesToFsBackup
		for _, obj := range pods {
			var pod corev1.Pod
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, &pod); err != nil {
				return false, fmt.Errorf("decode pod %s/%s: %w", obj.GetNamespace(), obj.GetName(), err)
			}
			for _, v := range pod.Spec.Volumes {
				if v.PersistentVolumeClaim != nil && v.PersistentVolumeClaim.ClaimName == ref.Name && fsBackupSelects(&pod, v.Name, optOut) {
					a.log.Info("not snapshotting: the volume is backed up by file-system backup", "pv", pv.Name, "pod", pod.Namespace+"/"+pod.Name, "volume", v.Name)
					return false, nil
				}
			}
		}
	}
	if backup.Spec.SnapshotVolumes != nil && !*backup.Spec.SnapshotVolumes {
		a.log.Info("not snapshotting: the backup sets snapshotVolumes=false", "pv", pv.Name)
		return false, nil
	}
	return true, nil
}

// fsBackupSelects reports whether pod's volume is backed up by file-system
// backup: listed in backup.velero.io/backup-volumes (opt-in), or, with
// defaultVolumesToFsBackup (opt-out), not listed in
// backup.velero.io/backup-volumes-excludes.
func fsBackupSelects(pod *corev1.Pod, volume string, optOut bool) bool {
	if !optOut {
		v := pod.Annotations[AnnotationVolumesToBackup]
		return v != "" && slices.Contains(strings.Split(v, ","), volume)
	}
	return !slices.Contains(strings.Split(pod.Annotations[AnnotationVolumesToExclude], ","), volume)
}

// createSnapshot creates the VolumeSnapshot of pvc.
func (a *pvcBackupper) createSnapshot(ctx context.Context, c versioned.Interface, pvc *corev1.PersistentVolumeClaim, backup *rigging.Backup) (*snapshotv1.VolumeSnapshot, error) {
	obj, err := rigging.LookupFrom(ctx).Get(ctx, grStorageClasses, "", *pvc.Spec.StorageClassName)
	if err != nil {
		return nil, fmt.Errorf("get its StorageClass %s: %w", *pvc.Spec.StorageClassName, err)
	}
	var sc storagev1.StorageClass
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, &sc); err != nil {
		return nil, fmt.Errorf("decode StorageClass %s: %w", *pvc.Spec.StorageClassName, err)
	}
	classes, err := c.SnapshotV1().VolumeSnapshotClasses().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list VolumeSnapshotClasses: %w", err)
	}
	class, err := a.pickClass(sc.Provisioner, pvc, backup, classes.Items)
	if err != nil {
		return nil, fmt.Errorf("StorageClass %s: %w", sc.Name, err)
	}
	labels := map[string]string{}
	for k, v := range pvc.Labels {
		labels[k] = v
	}
	labels[LabelBackupName] = validLabelValue(backup.Name)
	vs := &snapshotv1.VolumeSnapshot{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "velero-" + pvc.Name + "-", Namespace: pvc.Namespace, Labels: labels},
		Spec: snapshotv1.VolumeSnapshotSpec{
			Source:                  snapshotv1.VolumeSnapshotSource{PersistentVolumeClaimName: &pvc.Name},
			VolumeSnapshotClassName: &class,
		},
	}
	created, err := c.SnapshotV1().VolumeSnapshots(pvc.Namespace).Create(ctx, vs, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("create VolumeSnapshot: %w", err)
	}
	a.log.Info("created VolumeSnapshot", "volumesnapshot", created.Namespace+"/"+created.Name, "class", class)
	return created, nil
}

// pickClass chooses the VolumeSnapshotClass for a claim of driver as Velero
// does: the class the claim's velero.io/csi-volumesnapshot-class annotation
// names, else the one the backup's velero.io/csi-volumesnapshot-class_<driver>
// annotation names (names match case-insensitively; a named class of another
// driver is passed over), else the first class of the driver labelled
// velero.io/csi-volumesnapshot-class, else the first annotated as the
// Kubernetes default, else the driver's only class.
func (a *pvcBackupper) pickClass(driver string, pvc *corev1.PersistentVolumeClaim, backup *rigging.Backup, classes []snapshotv1.VolumeSnapshotClass) (string, error) {
	named := func(source, name string) string {
		for _, c := range classes {
			if strings.EqualFold(c.Name, name) {
				if strings.EqualFold(c.Driver, driver) {
					return c.Name
				}
				a.log.Debug("named VolumeSnapshotClass is for another driver", "source", source, "class", c.Name, "driver", driver)
				return ""
			}
		}
		a.log.Debug("named VolumeSnapshotClass not found", "source", source, "class", name, "driver", driver)
		return ""
	}
	if n, ok := pvc.Annotations[AnnotationVolumeSnapshotClassForPVC]; ok {
		if c := named("claim annotation", n); c != "" {
			return c, nil
		}
	}
	if n, ok := backup.Annotations[AnnotationVolumeSnapshotClassPrefix+strings.ToLower(driver)]; ok {
		if c := named("backup annotation", n); c != "" {
			return c, nil
		}
	}
	var ofDriver []string
	for _, c := range classes {
		if c.Driver != driver {
			continue
		}
		ofDriver = append(ofDriver, c.Name)
		if _, ok := c.Labels[LabelVolumeSnapshotClassSelector]; ok {
			return c.Name, nil
		}
	}
	for _, c := range classes {
		if _, ok := c.Annotations[AnnotationDefaultSnapshotClass]; ok && c.Driver == driver {
			return c.Name, nil
		}
	}
	if len(ofDriver) == 1 {
		return ofDriver[0], nil
	}
	return "", fmt.Errorf("no VolumeSnapshotClass for driver %s (%d candidates): label the one to use %s or annotate it %s",
		driver, len(ofDriver), LabelVolumeSnapshotClassSelector, AnnotationDefaultSnapshotClass)
}

// waitForHandle polls vs until its content has a snapshot handle, for at
// most timeout.
func (a *pvcBackupper) waitForHandle(ctx context.Context, c versioned.Interface, vs *snapshotv1.VolumeSnapshot, timeout time.Duration) (*snapshotv1.VolumeSnapshotContent, error) {
	interval := a.pollInterval
	if interval <= 0 {
		interval = defaultPollInterval
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var lastErr string
	for {
		cur, err := c.SnapshotV1().VolumeSnapshots(vs.Namespace).Get(ctx, vs.Name, metav1.GetOptions{})
		if err != nil && ctx.Err() == nil {
			return nil, fmt.Errorf("get: %w", err)
		}
		if err == nil && cur.Status != nil && cur.Status.BoundVolumeSnapshotContentName != nil {
			name := *cur.Status.BoundVolumeSnapshotContentName
			vsc, err := c.SnapshotV1().VolumeSnapshotContents().Get(ctx, name, metav1.GetOptions{})
			if err != nil && ctx.Err() == nil {
				return nil, fmt.Errorf("get its VolumeSnapshotContent %s: %w", name, err)
			}
			if err == nil && vsc.Status != nil {
				if vsc.Status.SnapshotHandle != nil {
					return vsc, nil
				}
				if vsc.Status.Error != nil && vsc.Status.Error.Message != nil {
					lastErr = *vsc.Status.Error.Message
					a.log.Warn("VolumeSnapshotContent has an error", "content", name, "error", lastErr)
				}
			}
		}
		t := time.NewTimer(interval)
		select {
		case <-ctx.Done():
			t.Stop()
			if lastErr != "" {
				return nil, fmt.Errorf("no snapshot handle after %v: content error: %s: %w", timeout, lastErr, ctx.Err())
			}
			return nil, fmt.Errorf("no snapshot handle after %v: %w", timeout, ctx.Err())
		case <-t.C:
		}
	}
}

// raiseRequest sets pvc's storage request to size bytes when it has none or
// a smaller one, as Velero does so a restore from the snapshot fits.
func raiseRequest(pvc *corev1.PersistentVolumeClaim, size int64) {
	want := resource.NewQuantity(size, resource.BinarySI)
	if cur, ok := pvc.Spec.Resources.Requests[corev1.ResourceStorage]; ok && cur.Cmp(*want) >= 0 {
		return
	}
	if pvc.Spec.Resources.Requests == nil {
		pvc.Spec.Resources.Requests = corev1.ResourceList{}
	}
	pvc.Spec.Resources.Requests[corev1.ResourceStorage] = *want
}

var _ rigging.BackupItemActionV2 = (*pvcBackupper)(nil)
