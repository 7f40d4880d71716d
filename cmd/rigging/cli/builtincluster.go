package cli

import (
	"context"

	"k8s.io/client-go/rest"
)

// clusterContexts are the built-ins' ways of carrying a cluster in a
// context (each compiled-in plugin package that talks to the API server
// adds its own, in a file its build tag drops).
var clusterContexts []func(context.Context, *rest.Config) context.Context

// withCluster returns ctx carrying cfg, the cluster a command was pointed
// at (--kubeconfig, --context), for the built-in plugins called with it:
// they use that cluster, not whatever $KUBECONFIG names.
func withCluster(ctx context.Context, cfg *rest.Config) context.Context {
	for _, with := range clusterContexts {
		ctx = with(ctx, cfg)
	}
	return ctx
}
