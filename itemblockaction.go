package rigging

import (
	"context"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// ItemBlockAction groups related items into one ItemBlock, backed up
// together: Velero's ItemBlockAction v1 (velero-protocol.md §2.10).
type ItemBlockAction interface {
	// Name returns the plugin's name. It is not an RPC.
	Name() string
	// AppliesTo returns the items the action wants to see.
	AppliesTo(ctx context.Context) (ResourceSelector, error)
	// GetRelatedItems names the items that belong in item's block.
	GetRelatedItems(ctx context.Context, item *unstructured.Unstructured, backup *Backup) ([]ResourceIdentifier, error)
}
