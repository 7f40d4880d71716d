package cluster

import (
	"fmt"
	"os"
	"strings"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/rigging-dev/rigging"
)

// FromEnvironment returns the client configuration of the cluster a
// Velero plugin process talks to, found as Velero's own plugin processes
// find it (client-go's default loading rules, as `velero run-plugins`
// does): the kubeconfig files of $KUBECONFIG, else ~/.kube/config, with
// their current context; when there is no kubeconfig at all, the in-cluster
// configuration of the pod it runs in (its service account's token and the
// KUBERNETES_SERVICE_HOST and _PORT the kubelet sets). It reads files and
// the environment only: no request reaches an API server.
//
// When none of them gives a cluster, the error matches
// rigging.ErrNoCluster and says where it looked; a kubeconfig that cannot
// be read or used is an error naming it (also matching ErrNoCluster).
func FromEnvironment() (*rest.Config, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{})
	cfg, err := cc.ClientConfig()
	switch {
	case err == nil:
		return cfg, nil
	case clientcmd.IsEmptyConfig(err):
		return nil, fmt.Errorf("%w: %s", rigging.ErrNoCluster, lookedFor())
	}
	return nil, fmt.Errorf("%w: kubeconfig %s: %w", rigging.ErrNoCluster, strings.Join(rules.GetLoadingPrecedence(), string(os.PathListSeparator)), err)
}

// lookedFor says where FromEnvironment looked for a cluster and why each
// place gave none.
func lookedFor() string {
	kubeconfig := "kubeconfig: $KUBECONFIG unset and no " + clientcmd.RecommendedHomeFile
	if v := os.Getenv(clientcmd.RecommendedConfigPathEnvVar); v != "" {
		kubeconfig = "kubeconfig: nothing in $KUBECONFIG=" + v
	}
	inCluster := "in-cluster: not running in a pod"
	if _, err := rest.InClusterConfig(); err != nil && err != rest.ErrNotInCluster {
		inCluster = "in-cluster: " + err.Error()
	}
	return kubeconfig + "; " + inCluster
}
