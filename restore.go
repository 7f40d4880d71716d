package rigging

import (
	"encoding/json"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Restore is Velero's velero.io/v1 Restore object as its JSON appears on the
// wire (the restore every RestoreItemAction receives,
// velero-backup-format.md §4.1). Members rigging does not interpret are kept
// verbatim, so a decode/encode round trip loses nothing.
type Restore struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              RestoreSpec   `json:"spec,omitempty"`
	Status            RestoreStatus `json:"status,omitempty"`
	// Unknown holds top-level members not declared above.
	Unknown Unknown `json:"-"`
}

// RestoreSpec is the spec of a Restore.
type RestoreSpec struct {
	BackupName              string                  `json:"backupName,omitempty"`
	ScheduleName            string                  `json:"scheduleName,omitempty"`
	IncludedNamespaces      []string                `json:"includedNamespaces,omitempty"`
	ExcludedNamespaces      []string                `json:"excludedNamespaces,omitempty"`
	IncludedResources       []string                `json:"includedResources,omitempty"`
	ExcludedResources       []string                `json:"excludedResources,omitempty"`
	NamespaceMapping        map[string]string       `json:"namespaceMapping,omitempty"`
	LabelSelector           *metav1.LabelSelector   `json:"labelSelector,omitempty"`
	OrLabelSelectors        []*metav1.LabelSelector `json:"orLabelSelectors,omitempty"`
	RestorePVs              *bool                   `json:"restorePVs,omitempty"`
	RestoreStatus           *RestoreStatusSpec      `json:"restoreStatus,omitempty"`
	PreserveNodePorts       *bool                   `json:"preserveNodePorts,omitempty"`
	IncludeClusterResources *bool                   `json:"includeClusterResources,omitempty"`
	// Hooks is kept verbatim; rigging runs no hooks.
	Hooks                  json.RawMessage `json:"hooks,omitempty"`
	ExistingResourcePolicy string          `json:"existingResourcePolicy,omitempty"`
	ItemOperationTimeout   metav1.Duration `json:"itemOperationTimeout,omitzero"`
	ResourceModifier       json.RawMessage `json:"resourceModifier,omitempty"`
	ResourcePolicy         json.RawMessage `json:"resourcePolicy,omitempty"`
	UploaderConfig         json.RawMessage `json:"uploaderConfig,omitempty"`
	// Unknown holds spec members not declared above.
	Unknown Unknown `json:"-"`
}

// RestoreStatusSpec selects the resources whose status is restored.
type RestoreStatusSpec struct {
	IncludedResources []string `json:"includedResources,omitempty"`
	ExcludedResources []string `json:"excludedResources,omitempty"`
}

// RestorePhase is a Restore's status.phase.
type RestorePhase string

// Restore phases.
const (
	RestorePhaseNew                                       RestorePhase = "New"
	RestorePhaseFailedValidation                          RestorePhase = "FailedValidation"
	RestorePhaseInProgress                                RestorePhase = "InProgress"
	RestorePhaseWaitingForPluginOperations                RestorePhase = "WaitingForPluginOperations"
	RestorePhaseWaitingForPluginOperationsPartiallyFailed RestorePhase = "WaitingForPluginOperationsPartiallyFailed"
	RestorePhaseFinalizing                                RestorePhase = "Finalizing"
	RestorePhaseFinalizingPartiallyFailed                 RestorePhase = "FinalizingPartiallyFailed"
	RestorePhaseCompleted                                 RestorePhase = "Completed"
	RestorePhasePartiallyFailed                           RestorePhase = "PartiallyFailed"
	RestorePhaseFailed                                    RestorePhase = "Failed"
)

// RestoreStatus is the status of a Restore.
type RestoreStatus struct {
	Phase                          RestorePhase     `json:"phase,omitempty"`
	ValidationErrors               []string         `json:"validationErrors,omitempty"`
	Warnings                       int              `json:"warnings,omitempty"`
	Errors                         int              `json:"errors,omitempty"`
	FailureReason                  string           `json:"failureReason,omitempty"`
	StartTimestamp                 *metav1.Time     `json:"startTimestamp,omitempty"`
	CompletionTimestamp            *metav1.Time     `json:"completionTimestamp,omitempty"`
	Progress                       *RestoreProgress `json:"progress,omitempty"`
	RestoreItemOperationsAttempted int              `json:"restoreItemOperationsAttempted,omitempty"`
	RestoreItemOperationsCompleted int              `json:"restoreItemOperationsCompleted,omitempty"`
	RestoreItemOperationsFailed    int              `json:"restoreItemOperationsFailed,omitempty"`
	HookStatus                     *HookStatus      `json:"hookStatus,omitempty"`
	// Unknown holds status members not declared above.
	Unknown Unknown `json:"-"`
}

// RestoreProgress counts the items of a restore.
type RestoreProgress struct {
	TotalItems    int `json:"totalItems,omitempty"`
	ItemsRestored int `json:"itemsRestored,omitempty"`
}

// UnmarshalJSON decodes a Restore, keeping members it does not declare.
func (r *Restore) UnmarshalJSON(data []byte) error {
	type plain Restore
	return decodeKeepingUnknown(data, (*plain)(r), &r.Unknown)
}

// MarshalJSON encodes a Restore with the members kept by UnmarshalJSON.
func (r Restore) MarshalJSON() ([]byte, error) {
	type plain Restore
	return encodeWithUnknown(plain(r), r.Unknown)
}

// UnmarshalJSON decodes a RestoreSpec, keeping members it does not declare.
func (s *RestoreSpec) UnmarshalJSON(data []byte) error {
	type plain RestoreSpec
	return decodeKeepingUnknown(data, (*plain)(s), &s.Unknown)
}

// MarshalJSON encodes a RestoreSpec with the members kept by UnmarshalJSON.
func (s RestoreSpec) MarshalJSON() ([]byte, error) {
	type plain RestoreSpec
	return encodeWithUnknown(plain(s), s.Unknown)
}

// UnmarshalJSON decodes a RestoreStatus, keeping members it does not declare.
func (s *RestoreStatus) UnmarshalJSON(data []byte) error {
	type plain RestoreStatus
	return decodeKeepingUnknown(data, (*plain)(s), &s.Unknown)
}

// MarshalJSON encodes a RestoreStatus with the members kept by UnmarshalJSON.
func (s RestoreStatus) MarshalJSON() ([]byte, error) {
	type plain RestoreStatus
	return encodeWithUnknown(plain(s), s.Unknown)
}
