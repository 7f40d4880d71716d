package rigging

import (
	"context"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// RestoreItemActionExecuteInput is what a RestoreItemAction receives
// (velero-backup-format.md §4.2).
type RestoreItemActionExecuteInput struct {
	// Item is the object about to be restored, already stripped of what
	// Velero strips (uid, resourceVersion, status, …), in its original
	// namespace. The action may modify it and return it.
	Item *unstructured.Unstructured
	// ItemFromBackup is the object exactly as stored in the backup. Do not
	// modify it.
	ItemFromBackup *unstructured.Unstructured
	// Restore is the restore being run. Do not modify it.
	Restore *Restore
}

// RestoreItemActionExecuteOutput is what a RestoreItemAction returns. v1
// actions set only UpdatedItem, AdditionalItems and SkipRestore; the other
// fields are dropped on a v1 wire.
type RestoreItemActionExecuteOutput struct {
	// UpdatedItem is the object to restore. Nil means the input item,
	// unchanged.
	UpdatedItem *unstructured.Unstructured
	// AdditionalItems are restored before this item.
	AdditionalItems []ResourceIdentifier
	// SkipRestore stops later actions and skips creating this item; its
	// additional items are then ignored.
	SkipRestore bool
	// OperationID names an asynchronous operation the action started (v2).
	OperationID string
	// WaitForAdditionalItems makes the host poll AreAdditionalItemsReady
	// before restoring this item (v2).
	WaitForAdditionalItems bool
	// AdditionalItemsReadyTimeout bounds that wait; zero means the host's
	// default (v2).
	AdditionalItemsReadyTimeout time.Duration
}

// RestoreItemAction runs on each item a restore includes that its AppliesTo
// selector matches: Velero's RestoreItemAction v1 (velero-protocol.md §2.7).
type RestoreItemAction interface {
	// AppliesTo returns the items the action wants to see.
	AppliesTo(ctx context.Context) (ResourceSelector, error)
	// Execute returns what to restore in place of input.Item. A nil output
	// means "unchanged".
	Execute(ctx context.Context, input *RestoreItemActionExecuteInput) (*RestoreItemActionExecuteOutput, error)
}

// RestoreItemActionV2 is a RestoreItemAction that may start asynchronous
// operations and ask the host to wait for its additional items: Velero's
// RestoreItemAction v2 (velero-protocol.md §2.8).
type RestoreItemActionV2 interface {
	// Name returns the plugin's name. It is not an RPC.
	Name() string
	// AppliesTo returns the items the action wants to see.
	AppliesTo(ctx context.Context) (ResourceSelector, error)
	// Execute is RestoreItemAction.Execute with the v2 output fields.
	Execute(ctx context.Context, input *RestoreItemActionExecuteInput) (*RestoreItemActionExecuteOutput, error)
	// Progress reports an operation's progress.
	Progress(ctx context.Context, operationID string, restore *Restore) (OperationProgress, error)
	// Cancel stops an operation.
	Cancel(ctx context.Context, operationID string, restore *Restore) error
	// AreAdditionalItemsReady reports whether the additional items returned
	// with WaitForAdditionalItems are ready.
	AreAdditionalItemsReady(ctx context.Context, additionalItems []ResourceIdentifier, restore *Restore) (bool, error)
}
