//go:build !rigging_no_csi

package cli

import (
	"context"

	"k8s.io/client-go/rest"

	"github.com/rigging-dev/rigging/builtin/csi"
)

// The CSI actions create, watch and delete snapshot objects in the cluster
// the command was pointed at.
func init() {
	clusterContexts = append(clusterContexts, func(ctx context.Context, cfg *rest.Config) context.Context {
		return csi.WithClientFactory(ctx, csi.ConfigClient(cfg))
	})
}
