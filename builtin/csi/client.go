package csi

import (
	"context"
	"fmt"
	"sync"

	"github.com/kubernetes-csi/external-snapshotter/client/v8/clientset/versioned"
	"k8s.io/client-go/rest"
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

// clientFactoryKey is the context key of WithClientFactory.
type clientFactoryKey struct{}

// WithClientFactory returns a copy of ctx in which the CSI actions called
// with it get their snapshot clientset from f, ahead of the package's
// factory (SetClientFactory): a host that runs the actions in-process for a
// cluster of its choosing (the one a command was pointed at) puts that
// cluster here, and two calls with different contexts may use different
// clusters. The actions call f at each call that needs the cluster, so f
// should build its clientset once (ConfigClient's does); an error from f
// fails that item with an error wrapping ErrNoCluster. A nil f leaves ctx
// as it is.
func WithClientFactory(ctx context.Context, f ClientFactory) context.Context {
	if f == nil {
		return ctx
	}
	return context.WithValue(ctx, clientFactoryKey{}, f)
}

// ConfigClient returns a ClientFactory for the cluster of cfg: its first
// call builds the snapshot clientset from a copy of cfg, and every call
// returns that clientset, or the error building it. Safe for concurrent
// use.
func ConfigClient(cfg *rest.Config) ClientFactory {
	cfg = rest.CopyConfig(cfg)
	return sync.OnceValues(func() (versioned.Interface, error) {
		c, err := versioned.NewForConfig(cfg)
		if err != nil {
			return nil, fmt.Errorf("build snapshot clientset for %s: %w", cfg.Host, err)
		}
		return c, nil
	})
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

// client returns the snapshot clientset of the action called with ctx,
// for item (what) that needs it: from ctx's factory (WithClientFactory),
// else the action's own, else the package's. Errors wrap ErrNoCluster and
// name the plugin and the item.
func (b *base) client(ctx context.Context, what string) (versioned.Interface, error) {
	get, _ := ctx.Value(clientFactoryKey{}).(ClientFactory)
	if get == nil {
		get = b.clients
	}
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
