package rigging

import (
	"encoding/json"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Backup is Velero's velero.io/v1 Backup object as its JSON appears on the
// wire (the backup every BackupItemAction receives) and in velero-backup.json
// (velero-backup-format.md §3). Members rigging does not interpret (hooks,
// resource policies, uploader settings, and any a newer Velero adds) are kept
// verbatim: decoding and re-encoding a Backup loses nothing.
type Backup struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              BackupSpec   `json:"spec,omitempty"`
	Status            BackupStatus `json:"status,omitempty"`
	// Unknown holds top-level members not declared above.
	Unknown Unknown `json:"-"`
}

// BackupSpec is the spec of a Backup. Empty include lists mean everything.
// Zero durations (Velero's "use the default") are omitted when encoding, so
// a spec written without them round-trips unchanged.
type BackupSpec struct {
	Metadata                         *BackupMetadata         `json:"metadata,omitempty"`
	IncludedNamespaces               []string                `json:"includedNamespaces,omitempty"`
	ExcludedNamespaces               []string                `json:"excludedNamespaces,omitempty"`
	IncludedResources                []string                `json:"includedResources,omitempty"`
	ExcludedResources                []string                `json:"excludedResources,omitempty"`
	IncludedClusterScopedResources   []string                `json:"includedClusterScopedResources,omitempty"`
	ExcludedClusterScopedResources   []string                `json:"excludedClusterScopedResources,omitempty"`
	IncludedNamespaceScopedResources []string                `json:"includedNamespaceScopedResources,omitempty"`
	ExcludedNamespaceScopedResources []string                `json:"excludedNamespaceScopedResources,omitempty"`
	LabelSelector                    *metav1.LabelSelector   `json:"labelSelector,omitempty"`
	OrLabelSelectors                 []*metav1.LabelSelector `json:"orLabelSelectors,omitempty"`
	SnapshotVolumes                  *bool                   `json:"snapshotVolumes,omitempty"`
	TTL                              metav1.Duration         `json:"ttl,omitzero"`
	VolumeGroupSnapshotLabelKey      string                  `json:"volumeGroupSnapshotLabelKey,omitempty"`
	IncludeClusterResources          *bool                   `json:"includeClusterResources,omitempty"`
	// Hooks is kept verbatim; rigging runs no hooks.
	Hooks                    json.RawMessage   `json:"hooks,omitempty"`
	StorageLocation          string            `json:"storageLocation,omitempty"`
	VolumeSnapshotLocations  []string          `json:"volumeSnapshotLocations,omitempty"`
	DefaultVolumesToRestic   *bool             `json:"defaultVolumesToRestic,omitempty"`
	DefaultVolumesToFsBackup *bool             `json:"defaultVolumesToFsBackup,omitempty"`
	OrderedResources         map[string]string `json:"orderedResources,omitempty"`
	CSISnapshotTimeout       metav1.Duration   `json:"csiSnapshotTimeout,omitzero"`
	ItemOperationTimeout     metav1.Duration   `json:"itemOperationTimeout,omitzero"`
	ResourcePolicy           json.RawMessage   `json:"resourcePolicy,omitempty"`
	SnapshotMoveData         *bool             `json:"snapshotMoveData,omitempty"`
	DataMover                string            `json:"datamover,omitempty"`
	UploaderConfig           json.RawMessage   `json:"uploaderConfig,omitempty"`
	// Unknown holds spec members not declared above.
	Unknown Unknown `json:"-"`
}

// BackupMetadata is spec.metadata: labels to put on the backup's objects.
type BackupMetadata struct {
	Labels map[string]string `json:"labels,omitempty"`
}

// BackupPhase is a Backup's status.phase.
type BackupPhase string

// Backup phases (the CRD's enum, velero-backup-format.md §6). Velero's backup
// sync imports only Completed, PartiallyFailed and Failed backups.
const (
	BackupPhaseNew                                       BackupPhase = "New"
	BackupPhaseQueued                                    BackupPhase = "Queued"
	BackupPhaseReadyToStart                              BackupPhase = "ReadyToStart"
	BackupPhaseFailedValidation                          BackupPhase = "FailedValidation"
	BackupPhaseInProgress                                BackupPhase = "InProgress"
	BackupPhaseWaitingForPluginOperations                BackupPhase = "WaitingForPluginOperations"
	BackupPhaseWaitingForPluginOperationsPartiallyFailed BackupPhase = "WaitingForPluginOperationsPartiallyFailed"
	BackupPhaseFinalizing                                BackupPhase = "Finalizing"
	BackupPhaseFinalizingPartiallyFailed                 BackupPhase = "FinalizingPartiallyFailed"
	BackupPhaseCompleted                                 BackupPhase = "Completed"
	BackupPhasePartiallyFailed                           BackupPhase = "PartiallyFailed"
	BackupPhaseFailed                                    BackupPhase = "Failed"
	BackupPhaseDeleting                                  BackupPhase = "Deleting"
)

// Terminal reports whether p is a phase Velero's backup sync imports as is.
func (p BackupPhase) Terminal() bool {
	return p == BackupPhaseCompleted || p == BackupPhasePartiallyFailed || p == BackupPhaseFailed
}

// BackupStatus is the status of a Backup.
type BackupStatus struct {
	Version                       int             `json:"version,omitempty"`
	FormatVersion                 string          `json:"formatVersion,omitempty"`
	Expiration                    *metav1.Time    `json:"expiration,omitempty"`
	Phase                         BackupPhase     `json:"phase,omitempty"`
	QueuePosition                 int             `json:"queuePosition,omitempty"`
	ValidationErrors              []string        `json:"validationErrors,omitempty"`
	StartTimestamp                *metav1.Time    `json:"startTimestamp,omitempty"`
	CompletionTimestamp           *metav1.Time    `json:"completionTimestamp,omitempty"`
	VolumeSnapshotsAttempted      int             `json:"volumeSnapshotsAttempted,omitempty"`
	VolumeSnapshotsCompleted      int             `json:"volumeSnapshotsCompleted,omitempty"`
	FailureReason                 string          `json:"failureReason,omitempty"`
	Warnings                      int             `json:"warnings,omitempty"`
	Errors                        int             `json:"errors,omitempty"`
	Progress                      *BackupProgress `json:"progress,omitempty"`
	CSIVolumeSnapshotsAttempted   int             `json:"csiVolumeSnapshotsAttempted,omitempty"`
	CSIVolumeSnapshotsCompleted   int             `json:"csiVolumeSnapshotsCompleted,omitempty"`
	BackupItemOperationsAttempted int             `json:"backupItemOperationsAttempted,omitempty"`
	BackupItemOperationsCompleted int             `json:"backupItemOperationsCompleted,omitempty"`
	BackupItemOperationsFailed    int             `json:"backupItemOperationsFailed,omitempty"`
	HookStatus                    *HookStatus     `json:"hookStatus,omitempty"`
	// Unknown holds status members not declared above.
	Unknown Unknown `json:"-"`
}

// BackupProgress counts the items of a backup.
type BackupProgress struct {
	TotalItems    int `json:"totalItems,omitempty"`
	ItemsBackedUp int `json:"itemsBackedUp,omitempty"`
}

// HookStatus counts the hooks a backup or restore ran.
type HookStatus struct {
	HooksAttempted int `json:"hooksAttempted,omitempty"`
	HooksFailed    int `json:"hooksFailed,omitempty"`
}

// UnmarshalJSON decodes a Backup, keeping members it does not declare.
func (b *Backup) UnmarshalJSON(data []byte) error {
	type plain Backup
	return decodeKeepingUnknown(data, (*plain)(b), &b.Unknown)
}

// MarshalJSON encodes a Backup with the members kept by UnmarshalJSON.
func (b Backup) MarshalJSON() ([]byte, error) {
	type plain Backup
	return encodeWithUnknown(plain(b), b.Unknown)
}

// UnmarshalJSON decodes a BackupSpec, keeping members it does not declare.
func (s *BackupSpec) UnmarshalJSON(data []byte) error {
	type plain BackupSpec
	return decodeKeepingUnknown(data, (*plain)(s), &s.Unknown)
}

// MarshalJSON encodes a BackupSpec with the members kept by UnmarshalJSON.
func (s BackupSpec) MarshalJSON() ([]byte, error) {
	type plain BackupSpec
	return encodeWithUnknown(plain(s), s.Unknown)
}

// UnmarshalJSON decodes a BackupStatus, keeping members it does not declare.
func (s *BackupStatus) UnmarshalJSON(data []byte) error {
	type plain BackupStatus
	return decodeKeepingUnknown(data, (*plain)(s), &s.Unknown)
}

// MarshalJSON encodes a BackupStatus with the members kept by UnmarshalJSON.
func (s BackupStatus) MarshalJSON() ([]byte, error) {
	type plain BackupStatus
	return encodeWithUnknown(plain(s), s.Unknown)
}
