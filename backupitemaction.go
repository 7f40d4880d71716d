package rigging

import (
	"context"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// BackupItemAction runs on each item a backup includes that its AppliesTo
// selector matches: Velero's BackupItemAction v1 (velero-protocol.md §2.5).
// One instance serves a whole backup and may be called concurrently.
type BackupItemAction interface {
	// AppliesTo returns the items the action wants to see.
	AppliesTo(ctx context.Context) (ResourceSelector, error)
	// Execute may change the item (it returns the item to store; returning
	// nil means "unchanged") and names additional items to back up with it.
	// It must not modify backup.
	Execute(ctx context.Context, item *unstructured.Unstructured, backup *Backup) (*unstructured.Unstructured, []ResourceIdentifier, error)
}

// BackupItemActionV2 is a BackupItemAction that may start an asynchronous
// operation: Velero's BackupItemAction v2 (velero-protocol.md §2.6). Progress
// and Cancel may be called from a later process than the Execute that started
// the operation, so an operation's state must be recoverable from its ID and
// the backup.
type BackupItemActionV2 interface {
	// Name returns the plugin's name. It is not an RPC; hosts answer it with
	// the registered name.
	Name() string
	// AppliesTo returns the items the action wants to see.
	AppliesTo(ctx context.Context) (ResourceSelector, error)
	// Execute is BackupItemAction.Execute plus, when it starts an operation,
	// the operation's ID and the items to back up again once it completes.
	Execute(ctx context.Context, item *unstructured.Unstructured, backup *Backup) (updated *unstructured.Unstructured, additional []ResourceIdentifier, operationID string, postOperationItems []ResourceIdentifier, err error)
	// Progress reports an operation's progress. An action that starts no
	// operations returns an error matching ErrAsyncNotSupported.
	Progress(ctx context.Context, operationID string, backup *Backup) (OperationProgress, error)
	// Cancel stops an operation.
	Cancel(ctx context.Context, operationID string, backup *Backup) error
}
