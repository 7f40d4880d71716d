// Package csi ports Velero v1.18's built-in CSI snapshot actions, on the
// external-snapshotter v8 types and clientset, registered under Velero's
// names:
//
//	BackupItemActionV2   velero.io/csi-pvc-backupper
//	                     velero.io/csi-volumesnapshot-backupper
//	                     velero.io/csi-volumesnapshotcontent-backupper
//	                     velero.io/csi-volumesnapshotclass-backupper
//	RestoreItemActionV2  velero.io/csi-pvc-restorer
//	                     velero.io/csi-volumesnapshot-restorer
//	                     velero.io/csi-volumesnapshotcontent-restorer
//	                     velero.io/csi-volumesnapshotclass-restorer
//	DeleteItemAction     velero.io/csi-volumesnapshotcontent-delete
//
// # The cluster
//
// Actions that create, read or delete snapshot objects do so through a
// snapshot clientset (versioned.Interface). A host that calls them for a
// cluster of its choosing carries it in the context of the calls
// (WithClientFactory with ConfigClient); otherwise the process-wide factory
// set with SetClientFactory is used, by default one that builds the
// clientset, on first use, from the standard kubeconfig loading rules
// (KUBECONFIG, then ~/.kube/config, then the in-cluster config). Actions that need no cluster for an item
// never build one, and an action that needs one and cannot get it fails that
// item with an error wrapping ErrNoCluster. Other objects an action reads
// (the claim's PersistentVolume and StorageClass, the pods that mount it,
// the Backup of a restore) come from rigging.LookupFrom(ctx), which the host
// fills from the items it processes.
//
// # Differences from Velero v1.18.3
//
//   - The data mover (backup.spec.snapshotMoveData) is not ported: the PVC
//     backupper does not create DataUploads and the PVC restorer does not
//     create DataDownloads. Both fail such an item with an error wrapping
//     ErrDataMoverUnsupported rather than silently falling back to a plain
//     snapshot (or an empty volume).
//   - Volume group snapshots are not ported: a claim that the backup's
//     volumeGroupSnapshotLabelKey puts in a group fails with
//     ErrVolumeGroupSnapshotUnsupported, and the VolumeSnapshot restorer
//     creates no stub VolumeGroupSnapshotContent (it logs a warning).
//   - The PVC backupper's volume policy check is reduced to what needs no
//     ConfigMap: spec.snapshotVolumes=false and claims that pods select for
//     file-system backup (backup.velero.io/backup-volumes, or
//     defaultVolumesToFsBackup without backup.velero.io/backup-volumes-excludes)
//     are not snapshotted; spec.resourcePolicy volume policies are not
//     evaluated (a warning says so). Velero's node-agent readiness check
//     belongs to the data mover and is not needed.
//   - The PVC restorer does not skip claims that already exist in the target
//     cluster (Velero asks the API server); the host's existing-resource
//     policy decides. It reads the Backup through the Lookup and, when the
//     Backup is not there, takes a claim annotated
//     velero.io/data-upload-name as a data-mover claim.
//   - Velero's v2 actions without operations answer Progress with an empty
//     progress; these return an error matching rigging.ErrAsyncNotSupported,
//     as the rigging contract says. Operation IDs they did not issue are
//     rejected with rigging.ErrInvalidOperationID.
//
// Every item an action changes comes back as Velero's does, through a typed
// round trip (runtime.DefaultUnstructuredConverter, the k8s.io/api and
// external-snapshotter v8 structs): fields at their zero value with
// omitempty, empty lists and maps, and fields the structs do not declare are
// dropped; fields without omitempty are written at their zero value (a
// VolumeSnapshotContent's spec.sourceVolumeMode: null). Label values are
// shortened to 63 characters as Velero's label.GetValidName does. Items an
// action skips or leaves alone come back as they are.
package csi

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"

	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/builtin/internal/kube"
	"github.com/rigging-dev/rigging/registry"
)

// Registered names.
const (
	PVCBackupperName                   = "velero.io/csi-pvc-backupper"
	VolumeSnapshotBackupperName        = "velero.io/csi-volumesnapshot-backupper"
	VolumeSnapshotContentBackupperName = "velero.io/csi-volumesnapshotcontent-backupper"
	VolumeSnapshotClassBackupperName   = "velero.io/csi-volumesnapshotclass-backupper"
	PVCRestorerName                    = "velero.io/csi-pvc-restorer"
	VolumeSnapshotRestorerName         = "velero.io/csi-volumesnapshot-restorer"
	VolumeSnapshotContentRestorerName  = "velero.io/csi-volumesnapshotcontent-restorer"
	VolumeSnapshotClassRestorerName    = "velero.io/csi-volumesnapshotclass-restorer"
	VolumeSnapshotContentDeleteName    = "velero.io/csi-volumesnapshotcontent-delete"
)

// Labels and annotations the actions read and write (Velero's values).
const (
	LabelBackupName                      = rigging.LabelBackupName
	LabelVolumeSnapshotName              = "velero.io/volume-snapshot-name"
	AnnotationVolumeSnapshotName         = LabelVolumeSnapshotName
	AnnotationSnapshotHandle             = "velero.io/csi-volumesnapshot-handle"
	AnnotationRestoreSize                = "velero.io/csi-volumesnapshot-restore-size"
	AnnotationDriverName                 = "velero.io/csi-driver-name"
	AnnotationVSCDeletionPolicy          = "velero.io/csi-vsc-deletion-policy"
	AnnotationVolumeGroupSnapshotHandle  = "velero.io/csi-volumegroupsnapshot-handle"
	AnnotationSkippedNoCSIPV             = "backup.velero.io/skipped-no-csi-pv"
	AnnotationDataUploadName             = "velero.io/data-upload-name"
	AnnotationVolumesToBackup            = "backup.velero.io/backup-volumes"
	AnnotationVolumesToExclude           = "backup.velero.io/backup-volumes-excludes"
	LabelVolumeSnapshotClassSelector     = "velero.io/csi-volumesnapshot-class"
	AnnotationVolumeSnapshotClassForPVC  = "velero.io/csi-volumesnapshot-class"
	AnnotationVolumeSnapshotClassPrefix  = "velero.io/csi-volumesnapshot-class_"
	AnnotationDefaultSnapshotClass       = "snapshot.storage.kubernetes.io/is-default-class"
	AnnotationSnapshotterSecretName      = "csi.storage.k8s.io/snapshotter-secret-name"
	AnnotationSnapshotterSecretNamespace = "csi.storage.k8s.io/snapshotter-secret-namespace"
	AnnotationListerSecretName           = "csi.storage.k8s.io/snapshotter-list-secret-name"
	AnnotationListerSecretNamespace      = "csi.storage.k8s.io/snapshotter-list-secret-namespace"
)

// Sentinel errors.
var (
	// ErrNoCluster reports that an action needed the cluster and no snapshot
	// clientset could be built.
	ErrNoCluster = errors.New("no Kubernetes cluster available for CSI snapshots")
	// ErrDataMoverUnsupported reports an item that needs Velero's data mover
	// (DataUpload/DataDownload), which rigging does not port.
	ErrDataMoverUnsupported = errors.New("CSI snapshot data movement is not supported")
	// ErrVolumeGroupSnapshotUnsupported reports a claim that belongs to a
	// volume group snapshot, which rigging does not port.
	ErrVolumeGroupSnapshotUnsupported = errors.New("CSI volume group snapshots are not supported")
)

// Group-resources the actions name.
var (
	grVolumeSnapshots        = schema.GroupResource{Group: snapshotv1.GroupName, Resource: "volumesnapshots"}
	grVolumeSnapshotContents = schema.GroupResource{Group: snapshotv1.GroupName, Resource: "volumesnapshotcontents"}
	grVolumeSnapshotClasses  = schema.GroupResource{Group: snapshotv1.GroupName, Resource: "volumesnapshotclasses"}
	grSecrets                = schema.GroupResource{Resource: "secrets"}
	grPersistentVolumes      = schema.GroupResource{Resource: "persistentvolumes"}
	grStorageClasses         = schema.GroupResource{Group: "storage.k8s.io", Resource: "storageclasses"}
	grPods                   = schema.GroupResource{Resource: "pods"}
	grBackups                = schema.GroupResource{Group: "velero.io", Resource: "backups"}
)

// Resource names as the actions' selectors spell them (Velero's).
const (
	selVolumeSnapshots        = "volumesnapshots.snapshot.storage.k8s.io"
	selVolumeSnapshotContents = "volumesnapshotcontents.snapshot.storage.k8s.io"
	selVolumeSnapshotClasses  = "volumesnapshotclasses.snapshot.storage.k8s.io"
)

func init() {
	registry.Register(PVCBackupperName, func(log *slog.Logger) (rigging.BackupItemActionV2, error) {
		return &pvcBackupper{base: newBase(PVCBackupperName, log)}, nil
	})
	registry.Register(VolumeSnapshotBackupperName, func(log *slog.Logger) (rigging.BackupItemActionV2, error) {
		return &volumeSnapshotBackupper{base: newBase(VolumeSnapshotBackupperName, log)}, nil
	})
	registry.Register(VolumeSnapshotContentBackupperName, func(log *slog.Logger) (rigging.BackupItemActionV2, error) {
		return &secretRefBackupper{base: newBase(VolumeSnapshotContentBackupperName, log), resource: selVolumeSnapshotContents,
			secretName: AnnotationSnapshotterSecretName, secretNamespace: AnnotationSnapshotterSecretNamespace, skipWhenFinalizing: true,
			normalize: kube.Normalize[snapshotv1.VolumeSnapshotContent]}, nil
	})
	registry.Register(VolumeSnapshotClassBackupperName, func(log *slog.Logger) (rigging.BackupItemActionV2, error) {
		return &secretRefBackupper{base: newBase(VolumeSnapshotClassBackupperName, log), resource: selVolumeSnapshotClasses,
			secretName: AnnotationListerSecretName, secretNamespace: AnnotationListerSecretNamespace,
			normalize: kube.Normalize[snapshotv1.VolumeSnapshotClass]}, nil
	})
	registry.Register(PVCRestorerName, func(log *slog.Logger) (rigging.RestoreItemActionV2, error) {
		return &pvcRestorer{base: newBase(PVCRestorerName, log)}, nil
	})
	registry.Register(VolumeSnapshotRestorerName, func(log *slog.Logger) (rigging.RestoreItemActionV2, error) {
		return &volumeSnapshotRestorer{base: newBase(VolumeSnapshotRestorerName, log)}, nil
	})
	registry.Register(VolumeSnapshotContentRestorerName, func(log *slog.Logger) (rigging.RestoreItemActionV2, error) {
		return &volumeSnapshotContentRestorer{base: newBase(VolumeSnapshotContentRestorerName, log)}, nil
	})
	registry.Register(VolumeSnapshotClassRestorerName, func(log *slog.Logger) (rigging.RestoreItemActionV2, error) {
		return &volumeSnapshotClassRestorer{base: newBase(VolumeSnapshotClassRestorerName, log)}, nil
	})
	registry.Register(VolumeSnapshotContentDeleteName, func(log *slog.Logger) (rigging.DeleteItemAction, error) {
		return &volumeSnapshotContentDeleter{base: newBase(VolumeSnapshotContentDeleteName, log), gap: tempContentGap}, nil
	})
}

// RestoredName is the name Velero gives, in restore restoreUID, to the
// VolumeSnapshot and VolumeSnapshotContent restored for the snapshot named
// snapshotName in the backup: the hex SHA-256 of "restoreUID/snapshotName".
// The PVC, VolumeSnapshot and VolumeSnapshotContent restorers all derive the
// same name from it, so the restored objects find each other.
func RestoredName(restoreUID, snapshotName string) string {
	sum := sha256.Sum256([]byte(restoreUID + "/" + snapshotName))
	return hex.EncodeToString(sum[:])
}

// validLabelValue shortens values longer than 63 characters as Velero's
// label.GetValidName does: the first 57 characters and 6 hex digits of the
// value's SHA-256.
func validLabelValue(v string) string {
	const limit = 63
	if len(v) <= limit {
		return v
	}
	sum := sha256.Sum256([]byte(v))
	return v[:limit-6] + hex.EncodeToString(sum[:])[:6]
}

// base holds what every action has.
type base struct {
	name string
	log  *slog.Logger
	// clients returns the snapshot clientset; nil means the package's
	// factory (SetClientFactory).
	clients ClientFactory
}

func newBase(name string, log *slog.Logger) base {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return base{name: name, log: log}
}

// Name returns the registered name.
func (b *base) Name() string { return b.name }

func (b *base) errorf(what, format string, args ...any) error {
	return fmt.Errorf("plugin %s: %s: %w", b.name, what, fmt.Errorf(format, args...))
}
