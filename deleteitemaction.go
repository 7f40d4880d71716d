package rigging

import (
	"context"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// DeleteItemActionExecuteInput is what a DeleteItemAction receives.
type DeleteItemActionExecuteInput struct {
	// Item is the object as stored in the backup being deleted.
	Item *unstructured.Unstructured
	// Backup is the backup being deleted.
	Backup *Backup
}

// DeleteItemAction runs on each matching item of a backup being deleted, to
// release what the backup holds outside the object store (snapshots, say):
// Velero's DeleteItemAction (velero-protocol.md §2.9).
type DeleteItemAction interface {
	// AppliesTo returns the items the action wants to see.
	AppliesTo(ctx context.Context) (ResourceSelector, error)
	// Execute releases what item holds.
	Execute(ctx context.Context, input *DeleteItemActionExecuteInput) error
}
