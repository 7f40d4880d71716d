package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/rigging-dev/rigging/cluster"
)

// clusterFlags choose a live cluster as kubectl does (--kubeconfig, else
// $KUBECONFIG, else ~/.kube/config, else the in-cluster config; --context)
// and tune the client as Velero's server flags do.
type clusterFlags struct {
	kubeconfig, context string
	pageSize            int64
	qps                 float32
	burst               int
	// aliasPageSize is --client-page-size, Velero's server flag name,
	// kept as an alias of --page-size; flags tells which was given.
	aliasPageSize int64
	flags         *pflag.FlagSet
}

func (cf *clusterFlags) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&cf.kubeconfig, "kubeconfig", "", "kubeconfig file of the cluster (default: $KUBECONFIG, ~/.kube/config, or the in-cluster config, as kubectl)")
	f.StringVar(&cf.context, "context", "", "kubeconfig context to use (default: its current context)")
	f.Int64Var(&cf.pageSize, "page-size", cluster.DefaultPageSize, "objects per list request to the API server (0: no pagination); Velero's --client-page-size")
	f.Int64Var(&cf.aliasPageSize, "client-page-size", cluster.DefaultPageSize, "alias of --page-size (Velero's server flag name)")
	cf.flags = f
	f.Float32Var(&cf.qps, "client-qps", 100, "requests per second to the API server (client-side limit; Velero v1.18 server's --client-qps default)")
	f.IntVar(&cf.burst, "client-burst", 100, "burst of requests above --client-qps (Velero v1.18 server's --client-burst default)")
	_ = cmd.MarkFlagFilename("kubeconfig")
}

// connect returns the client configuration of the chosen cluster and a
// description of it for the user ("context NAME, server URL").
// The API server's warnings (deprecated APIs) go to stderr, each once.
func (cf *clusterFlags) connect(stderr io.Writer) (*rest.Config, string, error) {
	if cf.flags != nil && cf.flags.Changed("client-page-size") {
		if cf.flags.Changed("page-size") && cf.pageSize != cf.aliasPageSize {
			return nil, "", usageErrorf("--page-size %d and --client-page-size %d: give one (they are the same flag)", cf.pageSize, cf.aliasPageSize)
		}
		cf.pageSize = cf.aliasPageSize
	}
	if cf.pageSize < 0 {
		return nil, "", usageErrorf("--page-size %d: must not be negative (0: no pagination)", cf.pageSize)
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = cf.kubeconfig
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: cf.context})
	cfg, err := cc.ClientConfig()
	if err != nil {
		return nil, "", fmt.Errorf("cluster: %w", err)
	}
	cfg.QPS, cfg.Burst = cf.qps, cf.burst
	cfg.WarningHandler = rest.NewWarningWriter(stderr, rest.WarningWriterOptions{Deduplicate: true})
	ctxName := cf.context
	if ctxName == "" {
		if raw, err := cc.RawConfig(); err == nil {
			ctxName = raw.CurrentContext
		}
	}
	if ctxName == "" {
		return cfg, "in-cluster, server " + cfg.Host, nil
	}
	return cfg, "context " + ctxName + ", server " + cfg.Host, nil
}

// lookupOptions are the Lookup's options from the flags.
func (cf *clusterFlags) lookupOptions() cluster.LookupOptions {
	size := cf.pageSize
	if size == 0 {
		size = -1 // LookupOptions: negative is no pagination
	}
	return cluster.LookupOptions{PageSize: size}
}
