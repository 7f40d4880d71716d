package csi

import (
	"fmt"
	"sync"

	"github.com/kubernetes-csi/external-snapshotter/client/v8/clientset/versioned"
	"k8s.io/client-go/tools/clientcmd"
)

// ClientFactory returns the snapshot clientset the actions use.
type ClientFactory func() (versioned.Interface, error)

var clients struct {
	mu      sync.Mutex
	factory ClientFactory
	client  versioned.Interface
}

// SetClientFactory makes every CSI action, including ones already created,
// get its snapshot clientset from f. The first action that needs the
// cluster calls f; a successful result is kept for all later calls until the
// next SetClientFactory, a failure is returned to that action (wrapped in
// ErrNoCluster) and f is tried again next time. A nil f restores the
// default, KubeconfigClient. Safe for concurrent use.
func SetClientFactory(f ClientFactory) {
	clients.mu.Lock()
	defer clients.mu.Unlock()
	clients.factory = f
	clients.client = nil
}

// KubeconfigClient builds a snapshot clientset from the standard kubeconfig
// loading rules: $KUBECONFIG (a list of files), else ~/.kube/config, else
// the in-cluster service account, with the kubeconfig's current context.
func KubeconfigClient() (versioned.Interface, error) {
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
		clientcmd.NewDefaultClientConfigLoadingRules(), &clientcmd.ConfigOverrides{},
	).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("load kubeconfig: %w", err)
	}
	c, err := versioned.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("build snapshot clientset for %s: %w", cfg.Host, err)
	}
	return c, nil
}

// sharedClient returns the package's clientset, building it on first use.
func sharedClient() (versioned.Interface, error) {
	clients.mu.Lock()
	defer clients.mu.Unlock()
	if clients.client != nil {
		return clients.client, nil
	}
	f := clients.factory
	if f == nil {
		f = KubeconfigClient
	}
	c, err := f()
	if err != nil {
		return nil, err
	}
	if c == nil {
		return nil, fmt.Errorf("client factory returned no clientset")
	}
	clients.client = c
	return c, nil
}

// client returns the action's snapshot clientset, for item (what) that
// needs it. Errors wrap ErrNoCluster and name the plugin and the item.
func (b *base) client(what string) (versioned.Interface, error) {
	get := b.clients
	if get == nil {
		get = sharedClient
	}
	c, err := get()
	if err == nil && c == nil {
		err = fmt.Errorf("client factory returned no clientset")
	}
	if err != nil {
		return nil, fmt.Errorf("plugin %s: %s: %w: %w", b.name, what, ErrNoCluster, err)
	}
	return c, nil
}
