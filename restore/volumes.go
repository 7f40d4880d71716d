package restore

import (
	"context"
	"errors"
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/archive"
)

const (
	persistentVolumesGR      = "persistentvolumes"
	persistentVolumeClaimsGR = "persistentvolumeclaims"

	// annBindCompleted and annBoundByController are the annotations the
	// Kubernetes volume controllers use to track a binding.
	annBindCompleted     = "pv.kubernetes.io/bind-completed"
	annBoundByController = "pv.kubernetes.io/bound-by-controller"
	// annPVCName names, on a PodVolumeBackup, the claim of the volume.
	annPVCName = "velero.io/pvc-name"
)

// Backup methods of a volume info entry (Velero's volume.Method).
const (
	methodNativeSnapshot  = "NativeSnapshot"
	methodPodVolumeBackup = "PodVolumeBackup"
	methodCSISnapshot     = "CSISnapshot"
)

// volumePlan is how a PersistentVolume of the backup is restored.
type volumePlan int

const (
	// volumeAsIs restores the volume object itself, its binding reset and
	// its claim's namespace mapped (no snapshot, reclaim policy not Delete).
	volumeAsIs volumePlan = iota
	// volumeFromSnapshot restores a volume with a native snapshot: binding
	// reset and claim's namespace mapped, as volumeAsIs.
	volumeFromSnapshot
	// volumeProvision does not restore the volume: its claim is provisioned
	// again (the claim loses spec.volumeName).
	volumeProvision
)

// volumeData is what a backup records about its volumes' data, which
// decides each PersistentVolume's plan: the volume info file (Velero 1.13
// and later) or, without one, the native snapshots, pod volume backups and
// CSI VolumeSnapshots files.
type volumeData struct {
	infos     map[string]string // PV name -> backup method; nil without a volume info file
	snapshots map[string]bool   // PV names with a native snapshot
	podBackup map[string]bool   // "namespace/claim" with a completed pod volume backup
	csi       map[string]bool   // "namespace/claim" with a CSI VolumeSnapshot
}

// readVolumeData reads the volume sidecars of backup name; a missing file
// is empty, as in Velero.
func readVolumeData(ctx context.Context, s *archive.Store, name string) (*volumeData, error) {
	v := &volumeData{snapshots: map[string]bool{}, podBackup: map[string]bool{}, csi: map[string]bool{}}
	read := func(f archive.BackupFile, into any) error {
		err := s.ReadBackupJSON(ctx, name, f, into)
		if errors.Is(err, rigging.ErrNotFound) {
			return nil
		}
		return err
	}
	var infos []struct {
		PVName       string `json:"pvName"`
		BackupMethod string `json:"backupMethod"`
	}
	if err := read(archive.BackupVolumeInfo, &infos); err != nil {
		return nil, fmt.Errorf("volume info: %w", err)
	}
	if len(infos) > 0 {
		v.infos = make(map[string]string, len(infos))
		for _, i := range infos {
			v.infos[i.PVName] = i.BackupMethod
		}
	}
	var snaps []struct {
		Spec struct {
			PersistentVolumeName string `json:"persistentVolumeName"`
		} `json:"spec"`
	}
	if err := read(archive.BackupVolumeSnapshots, &snaps); err != nil {
		return nil, fmt.Errorf("volume snapshots: %w", err)
	}
	for _, s := range snaps {
		v.snapshots[s.Spec.PersistentVolumeName] = true
	}
	var pvbs []struct {
		Metadata struct {
			Annotations map[string]string `json:"annotations"`
		} `json:"metadata"`
		Spec struct {
			Pod struct {
				Namespace string `json:"namespace"`
			} `json:"pod"`
		} `json:"spec"`
		Status struct {
			Phase      string `json:"phase"`
			SnapshotID string `json:"snapshotID"`
		} `json:"status"`
	}
	if err := read(archive.BackupPodVolumeBackups, &pvbs); err != nil {
		return nil, fmt.Errorf("pod volume backups: %w", err)
	}
	for _, p := range pvbs {
		if p.Status.Phase == "Completed" && p.Status.SnapshotID != "" {
			v.podBackup[p.Spec.Pod.Namespace+"/"+p.Metadata.Annotations[annPVCName]] = true
		}
	}
	var vss []struct {
		Metadata struct {
			Namespace string `json:"namespace"`
		} `json:"metadata"`
		Spec struct {
			Source struct {
				PersistentVolumeClaimName *string `json:"persistentVolumeClaimName"`
			} `json:"source"`
		} `json:"spec"`
	}
	if err := read(archive.BackupCSIVolumeSnapshots, &vss); err != nil {
		return nil, fmt.Errorf("CSI volume snapshots: %w", err)
	}
	for _, vs := range vss {
		if vs.Spec.Source.PersistentVolumeClaimName != nil {
			v.csi[vs.Metadata.Namespace+"/"+*vs.Spec.Source.PersistentVolumeClaimName] = true
		}
	}
	return v, nil
}

// plan decides how pv (as in the backup) is restored, and why, as
// Velero v1.18's restoreItem does: by the volume info entry of the PV when
// the backup has one, else by the legacy files; a volume without a snapshot
// is provisioned again when its reclaim policy is Delete and restored as it
// is otherwise. (Velero also looks for a DataUpload result in the cluster;
// a restore to manifests has none.)
func (v *volumeData) plan(pv *unstructured.Unstructured) (volumePlan, string, error) {
	deletePolicy := func() bool {
		p, _, _ := unstructured.NestedString(pv.Object, "spec", "persistentVolumeReclaimPolicy")
		return p == "Delete"
	}
	const (
		whyPodVolume = "provisioned again: its data is in a pod volume backup"
		whyCSI       = "provisioned again: its data is in a CSI snapshot"
		whyDelete    = "provisioned again: no snapshot and reclaim policy Delete"
	)
	if method, ok := v.infos[pv.GetName()]; ok {
		switch method {
		case methodNativeSnapshot:
			return volumeFromSnapshot, "", nil
		case methodPodVolumeBackup:
			return volumeProvision, whyPodVolume, nil
		case methodCSISnapshot:
			return volumeProvision, whyCSI, nil
		}
		if deletePolicy() {
			return volumeProvision, whyDelete, nil
		}
		return volumeAsIs, "", nil
	}
	if v.snapshots[pv.GetName()] {
		return volumeFromSnapshot, "", nil
	}
	claim, err := claimRef(pv)
	if err != nil {
		return 0, "", err
	}
	if claim != nil {
		ns, _ := claim["namespace"].(string)
		name, _ := claim["name"].(string)
		switch {
		case v.podBackup[ns+"/"+name]:
			return volumeProvision, whyPodVolume, nil
		case v.csi[ns+"/"+name]:
			return volumeProvision, whyCSI, nil
		}
	}
	if deletePolicy() {
		return volumeProvision, whyDelete, nil
	}
	return volumeAsIs, "", nil
}

// claimRef returns pv's spec.claimRef, nil when absent or null.
func claimRef(pv *unstructured.Unstructured) (map[string]any, error) {
	v, found, _ := unstructured.NestedFieldNoCopy(pv.Object, "spec", "claimRef")
	if !found || v == nil {
		return nil, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("spec.claimRef: is %T, not an object", v)
	}
	return m, nil
}

// remapClaimNamespace moves pv's spec.claimRef.namespace by mapping
// (Velero's remapClaimRefNS).
func remapClaimNamespace(pv *unstructured.Unstructured, mapping map[string]string) error {
	if len(mapping) == 0 {
		return nil
	}
	claim, err := claimRef(pv)
	if err != nil || claim == nil {
		return err
	}
	ns, _ := claim["namespace"].(string)
	if target, ok := mapping[ns]; ok {
		claim["namespace"] = target
	}
	return nil
}

// resetBinding removes what binds a volume or claim to its peer in the
// source cluster (Velero's resetVolumeBindingInfo): spec.claimRef's uid and
// resourceVersion and the annotations pv.kubernetes.io/bind-completed and
// pv.kubernetes.io/bound-by-controller, so the controllers bind the
// restored pair again.
func resetBinding(obj *unstructured.Unstructured) {
	unstructured.RemoveNestedField(obj.Object, "spec", "claimRef", "uid")
	unstructured.RemoveNestedField(obj.Object, "spec", "claimRef", "resourceVersion")
	ann := obj.GetAnnotations()
	delete(ann, annBindCompleted)
	delete(ann, annBoundByController)
	obj.SetAnnotations(ann)
}

// prepareVolume applies pv's plan; skip reports a volume that is not
// restored, with the reason.
func (rs *restorer) prepareVolume(pv *unstructured.Unstructured) (skip bool, why string, err error) {
	plan, why, err := rs.volumes.plan(pv)
	if err != nil {
		return false, "", err
	}
	if plan == volumeProvision {
		rs.provision[pv.GetName()] = true
		return true, why, nil
	}
	if err := remapClaimNamespace(pv, rs.restore.Spec.NamespaceMapping); err != nil {
		return false, "", err
	}
	resetBinding(pv)
	if plan == volumeFromSnapshot {
		if rp := rs.restore.Spec.RestorePVs; rp == nil || *rp {
			rs.warnf(rs.log.With("namespace", "", "resource", persistentVolumesGR, "name", pv.GetName()),
				"persistent volume has a native snapshot, but a restore to manifests creates no volume from it: the volume keeps its original source")
		}
	}
	return false, "", nil
}

// prepareClaim resets a claim's binding after the actions ran, as Velero
// does: a claim naming a volume loses its binding annotations, and its
// spec.volumeName when that volume is provisioned again.
func (rs *restorer) prepareClaim(pvc *unstructured.Unstructured) error {
	v, found, _ := unstructured.NestedFieldNoCopy(pvc.Object, "spec", "volumeName")
	if !found || v == nil {
		return nil
	}
	name, ok := v.(string)
	if !ok {
		return fmt.Errorf("spec.volumeName: is %T, not a string", v)
	}
	if name == "" {
		return nil
	}
	resetBinding(pvc)
	if rs.provision[name] {
		unstructured.RemoveNestedField(pvc.Object, "spec", "volumeName")
	}
	return nil
}
