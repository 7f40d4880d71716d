// Command velero-builtins serves Velero v1.18's own built-in plugins (what
// `velero run-plugins` registers, from pkg/cmd/server/plugin) over a fake
// cluster: the objects of the manifest files or directories listed in
// $INTEROP_CLUSTER (separated by the OS path-list separator), served by fake
// Kubernetes, dynamic, controller-runtime and discovery clients; or, with
// INTEROP_CLUSTER=live, the live cluster that Velero's own client factory
// finds ($KUBECONFIG, else the in-cluster configuration), as in `velero
// run-plugins`. The differential tests run it as a plugin subprocess next
// to rigging's built-ins.
package main

import (
	"fmt"
	"os"
	"path/filepath"

	snapshotv1api "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	"github.com/spf13/pflag"
	apiextv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextv1beta1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1beta1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	fakediscovery "k8s.io/client-go/discovery/fake"
	"k8s.io/client-go/dynamic"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes"
	kubefake "k8s.io/client-go/kubernetes/fake"
	k8scheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	kbclient "sigs.k8s.io/controller-runtime/pkg/client"
	kbfake "sigs.k8s.io/controller-runtime/pkg/client/fake"

	velerov1api "github.com/vmware-tanzu/velero/pkg/apis/velero/v1"
	velerov2alpha1api "github.com/vmware-tanzu/velero/pkg/apis/velero/v2alpha1"
	veleroclient "github.com/vmware-tanzu/velero/pkg/client"
	"github.com/vmware-tanzu/velero/pkg/cmd/server/plugin"

	"github.com/rigging-dev/rigging/manifest"
	"github.com/rigging-dev/rigging/resources"
)

func main() {
	var f veleroclient.Factory
	if paths := os.Getenv("INTEROP_CLUSTER"); paths == Live {
		// Velero's own factory, as `velero run-plugins` gets it from
		// Velero's root command: its clients find the cluster with
		// client-go's default loading rules ($KUBECONFIG, else the
		// in-cluster configuration).
		f = veleroclient.NewFactory("velero-builtins", veleroclient.VeleroConfig{})
	} else {
		ff, err := newFactory(paths)
		if err != nil {
			fmt.Fprintln(os.Stderr, "velero-builtins:", err)
			os.Exit(1)
		}
		f = ff
	}
	cmd := plugin.NewCommand(f)
	cmd.SetArgs(os.Args[1:])
	if err := cmd.Execute(); err != nil {
		os.Exit(1)
	}
}

// Live is the INTEROP_CLUSTER value that serves the built-ins over the live
// cluster of $KUBECONFIG with Velero's own client factory.
const Live = "live"

// factory is Velero's client.Factory over fake clients holding one fixed
// set of objects.
type factory struct {
	typed     []runtime.Object // every object the scheme knows
	core      []runtime.Object // those client-go's clientset knows
	unstr     []runtime.Object
	scheme    *runtime.Scheme
	resources []*metav1.APIResourceList
}

var _ veleroclient.Factory = (*factory)(nil)

func newFactory(paths string) (*factory, error) {
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		velerov1api.AddToScheme, velerov2alpha1api.AddToScheme, k8scheme.AddToScheme,
		apiextv1beta1.AddToScheme, apiextv1.AddToScheme, snapshotv1api.AddToScheme,
	} {
		if err := add(scheme); err != nil {
			return nil, err
		}
	}
	f := &factory{scheme: scheme}
	if paths == "" {
		return f, nil
	}
	items, err := manifest.Load(filepath.SplitList(paths)...)
	if err != nil {
		return nil, err
	}
	mapper := resources.NewMapper()
	byGV := map[schema.GroupVersion]*metav1.APIResourceList{}
	seen := map[schema.GroupVersionResource]bool{}
	for _, it := range items {
		if resources.IsCRD(it) {
			_ = mapper.AddCRD(it)
		}
	}
	for _, it := range items {
		f.unstr = append(f.unstr, it.DeepCopy())
		if obj, err := scheme.New(it.GroupVersionKind()); err == nil {
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(it.Object, obj); err != nil {
				return nil, fmt.Errorf("%s %s/%s: %w", it.GetKind(), it.GetNamespace(), it.GetName(), err)
			}
			f.typed = append(f.typed, obj)
			if k8scheme.Scheme.Recognizes(it.GroupVersionKind()) {
				f.core = append(f.core, obj)
			}
		}
		r, err := mapper.ForObject(it)
		if err != nil {
			continue
		}
		gv := schema.GroupVersion{Group: r.Group, Version: r.Version}
		if seen[gv.WithResource(r.Plural)] {
			continue
		}
		seen[gv.WithResource(r.Plural)] = true
		l := byGV[gv]
		if l == nil {
			l = &metav1.APIResourceList{GroupVersion: gv.String()}
			byGV[gv] = l
			f.resources = append(f.resources, l)
		}
		l.APIResources = append(l.APIResources, metav1.APIResource{
			Name: r.Plural, SingularName: r.Singular, Namespaced: r.Namespaced, Group: r.Group, Version: r.Version, Kind: r.Kind,
			ShortNames: r.ShortNames, Verbs: metav1.Verbs{"get", "list", "create", "update", "delete"},
		})
	}
	return f, nil
}

func (f *factory) BindFlags(*pflag.FlagSet) {}
func (f *factory) SetBasename(string)       {}
func (f *factory) SetClientQPS(float32)     {}
func (f *factory) SetClientBurst(int)       {}
func (f *factory) Namespace() string        { return "velero" }

func (f *factory) ClientConfig() (*rest.Config, error) {
	return nil, fmt.Errorf("velero-builtins: no REST config: the cluster is fake")
}

func (f *factory) KubeClient() (kubernetes.Interface, error) {
	cs := kubefake.NewClientset(f.core...)
	cs.Resources = f.resources
	return cs, nil
}

func (f *factory) DynamicClient() (dynamic.Interface, error) {
	return dynamicfake.NewSimpleDynamicClient(f.scheme, f.unstr...), nil
}

func (f *factory) KubebuilderClient() (kbclient.Client, error) {
	return kbfake.NewClientBuilder().WithScheme(f.scheme).WithRuntimeObjects(f.typed...).Build(), nil
}

func (f *factory) KubebuilderWatchClient() (kbclient.WithWatch, error) {
	return kbfake.NewClientBuilder().WithScheme(f.scheme).WithRuntimeObjects(f.typed...).Build(), nil
}

func (f *factory) DiscoveryClient() (discovery.AggregatedDiscoveryInterface, error) {
	return aggregated{&fakediscovery.FakeDiscovery{Fake: &kubefake.NewClientset().Fake}, f.resources}, nil
}

// aggregated is a fake discovery client that also answers the aggregated
// discovery call, listing the resources of the fake cluster.
type aggregated struct {
	*fakediscovery.FakeDiscovery
	resources []*metav1.APIResourceList
}

func (a aggregated) ServerGroupsAndResources() ([]*metav1.APIGroup, []*metav1.APIResourceList, error) {
	a.Resources = a.resources
	return a.FakeDiscovery.ServerGroupsAndResources()
}

func (a aggregated) ServerGroups() (*metav1.APIGroupList, error) {
	a.Resources = a.resources
	return a.FakeDiscovery.ServerGroups()
}

func (a aggregated) ServerResourcesForGroupVersion(gv string) (*metav1.APIResourceList, error) {
	for _, l := range a.resources {
		if l.GroupVersion == gv {
			return l, nil
		}
	}
	return &metav1.APIResourceList{GroupVersion: gv}, nil
}

func (a aggregated) ServerPreferredResources() ([]*metav1.APIResourceList, error) {
	return a.resources, nil
}

func (a aggregated) GroupsAndMaybeResources() (*metav1.APIGroupList, map[schema.GroupVersion]*metav1.APIResourceList, map[schema.GroupVersion]error, error) {
	groups, err := a.ServerGroups()
	return groups, nil, nil, err
}
