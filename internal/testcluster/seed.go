package testcluster

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"sync"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/rigging-dev/rigging/manifest"
	"github.com/rigging-dev/rigging/resources"
)

// ClusterExport is the path, relative to the repository root, of the
// manifests of a small live cluster (testdata/manifests/cluster-export):
// what Options.Seed usually names.
const ClusterExport = "testdata/manifests/cluster-export"

//go:embed crds/*.yaml
var crdFiles embed.FS

// snapshotCRDs decodes the embedded external-snapshotter v8 CRDs.
func snapshotCRDs() ([]*apiextensionsv1.CustomResourceDefinition, error) {
	var out []*apiextensionsv1.CustomResourceDefinition
	err := fs.WalkDir(crdFiles, "crds", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := crdFiles.ReadFile(path)
		if err != nil {
			return err
		}
		objs, err := manifest.Decode(bytes.NewReader(b), path)
		if err != nil {
			return err
		}
		crds, err := toCRDs(objs)
		out = append(out, crds...)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("testcluster: snapshot CRDs: %w", err)
	}
	return out, nil
}

// ManifestCRDs returns the CustomResourceDefinitions among the manifests
// below path (manifest.Load's rules), stripped of what the API server sets
// so that they can be created.
func ManifestCRDs(path string) ([]*apiextensionsv1.CustomResourceDefinition, error) {
	objs, err := manifest.Load(path)
	if err != nil {
		return nil, fmt.Errorf("testcluster: CRDs of %s: %w", path, err)
	}
	crds, err := toCRDs(objs)
	if err != nil {
		return nil, fmt.Errorf("testcluster: CRDs of %s: %w", path, err)
	}
	return crds, nil
}

// toCRDs converts the CRDs among objs (others are ignored).
func toCRDs(objs []*unstructured.Unstructured) ([]*apiextensionsv1.CustomResourceDefinition, error) {
	var out []*apiextensionsv1.CustomResourceDefinition
	for _, obj := range objs {
		if !resources.IsCRD(obj) {
			continue
		}
		if obj.GetAPIVersion() != apiextensionsv1.SchemeGroupVersion.String() {
			return nil, fmt.Errorf("CustomResourceDefinition %s: apiVersion %s (want %s)", obj.GetName(), obj.GetAPIVersion(), apiextensionsv1.SchemeGroupVersion)
		}
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(ForCreate(obj).Object, crd); err != nil {
			return nil, fmt.Errorf("CustomResourceDefinition %s: %w", obj.GetName(), err)
		}
		crd.Status = apiextensionsv1.CustomResourceDefinitionStatus{}
		out = append(out, crd)
	}
	return out, nil
}

// serverSetMetadata are the metadata fields the API server sets, which a
// create must leave out (resourceVersion) or which it ignores.
var serverSetMetadata = []string{"uid", "resourceVersion", "creationTimestamp", "generation", "managedFields", "selfLink", "deletionTimestamp", "deletionGracePeriodSeconds"}

// ForCreate returns a deep copy of obj without the metadata the API server
// sets (uid, resourceVersion, creationTimestamp, generation, managedFields,
// selfLink, deletion fields): what can be sent in a create. Everything else,
// status included, is kept.
func ForCreate(obj *unstructured.Unstructured) *unstructured.Unstructured {
	out := obj.DeepCopy()
	if md, ok := out.Object["metadata"].(map[string]any); ok {
		for _, f := range serverSetMetadata {
			delete(md, f)
		}
	}
	return out
}

// Seed creates objs in the API server, as a cluster's controllers would
// have left them: CustomResourceDefinitions first (waiting until they are
// established), then Namespaces, then the rest in order, each followed by
// an update of its status through the status subresource where the
// resource has one (a pod Running, a claim Bound). An object that exists
// already (the kube-system Namespace) is replaced by the one given. Server
// metadata in objs (uids, resourceVersions, timestamps) is dropped: the
// server assigns its own.
//
// Two changes make the objects of an older cluster creatable: an object of
// an API version the server no longer serves (policy/v1beta1, batch/v1beta1)
// is created in its group's preferred version, and a Job that carries the
// selector its old controller generated keeps it (spec.manualSelector); a
// complete Job's status gains the SuccessCriteriaMet condition today's job
// controller sets with Complete.
//
// Seed goes on past an object it cannot create and returns one error per
// such object, each naming it.
func (c *Cluster) Seed(ctx context.Context, objs []*unstructured.Unstructured) error {
	return c.SeedConcurrently(ctx, objs, 1)
}

// SeedConcurrently is Seed with workers requests at a time once the CRDs
// and Namespaces are in (workers below 1 count as 1): what seeds thousands
// of objects in seconds rather than minutes (the client is not throttled).
// The objects after the Namespaces are created in no particular order, so
// none of them may depend on another (an owner reference's target).
func (c *Cluster) SeedConcurrently(ctx context.Context, objs []*unstructured.Unstructured, workers int) error {
	crds, err := toCRDs(objs)
	if err != nil {
		return fmt.Errorf("testcluster: seed: %w", err)
	}
	if len(crds) > 0 {
		if _, err := envtest.InstallCRDs(c.config, envtest.CRDInstallOptions{CRDs: crds}); err != nil {
			return fmt.Errorf("testcluster: seed: install CRDs: %w", err)
		}
	}
	groups, err := apiGroupResources(c.config)
	if err != nil {
		return fmt.Errorf("testcluster: seed: %w", err)
	}
	mapper := restmapper.NewDiscoveryRESTMapper(groups)
	withStatus := map[schema.GroupVersionResource]bool{}
	for _, g := range groups {
		for version, list := range g.VersionedResources {
			for _, r := range list {
				if res, sub, ok := strings.Cut(r.Name, "/"); ok && sub == "status" {
					withStatus[schema.GroupVersionResource{Group: g.Group.Name, Version: version, Resource: res}] = true
				}
			}
		}
	}
	dyn, err := dynamic.NewForConfig(c.config)
	if err != nil {
		return fmt.Errorf("testcluster: seed: %w", err)
	}

	var namespaces, rest []*unstructured.Unstructured
	for _, obj := range objs {
		switch {
		case resources.IsCRD(obj):
		case obj.GetAPIVersion() == "v1" && obj.GetKind() == "Namespace":
			namespaces = append(namespaces, obj)
		default:
			rest = append(rest, obj)
		}
	}
	var (
		mu   sync.Mutex
		errs []error
	)
	create := func(obj *unstructured.Unstructured) {
		if err := seedOne(ctx, dyn, mapper, withStatus, obj); err != nil {
			mu.Lock()
			errs = append(errs, fmt.Errorf("testcluster: seed %s %s: %w", obj.GetKind(), objectName(obj), err))
			mu.Unlock()
		}
	}
	for _, obj := range namespaces {
		if err := ctx.Err(); err != nil {
			return errors.Join(append(errs, err)...)
		}
		create(obj)
	}
	if workers <= 1 {
		for _, obj := range rest {
			if err := ctx.Err(); err != nil {
				return errors.Join(append(errs, err)...)
			}
			create(obj)
		}
		return errors.Join(errs...)
	}
	next := make(chan *unstructured.Unstructured)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for obj := range next {
				create(obj)
			}
		})
	}
	for _, obj := range rest {
		if ctx.Err() != nil {
			break
		}
		next <- obj
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func objectName(obj *unstructured.Unstructured) string {
	if ns := obj.GetNamespace(); ns != "" {
		return ns + "/" + obj.GetName()
	}
	return obj.GetName()
}

// apiGroupResources returns what the API server serves (discovery).
func apiGroupResources(cfg *rest.Config) ([]*restmapper.APIGroupResources, error) {
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, err
	}
	groups, err := restmapper.GetAPIGroupResources(dc)
	if err != nil {
		return nil, fmt.Errorf("discovery: %w", err)
	}
	return groups, nil
}

// newMapper returns a REST mapper from the API server's discovery.
func newMapper(cfg *rest.Config) (meta.RESTMapper, error) {
	groups, err := apiGroupResources(cfg)
	if err != nil {
		return nil, err
	}
	return restmapper.NewDiscoveryRESTMapper(groups), nil
}

// seedOne creates (or replaces) obj, then sets its status.
func seedOne(ctx context.Context, dyn dynamic.Interface, mapper meta.RESTMapper, withStatus map[schema.GroupVersionResource]bool, obj *unstructured.Unstructured) error {
	gvk := obj.GroupVersionKind()
	m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if meta.IsNoMatchError(err) {
		m, err = mapper.RESTMapping(gvk.GroupKind())
	}
	if err != nil {
		return err
	}
	var ri dynamic.ResourceInterface = dyn.Resource(m.Resource)
	want := ForCreate(obj)
	want.SetAPIVersion(m.GroupVersionKind.GroupVersion().String())
	if gvk.Group == "batch" && gvk.Kind == "Job" {
		if _, ok, _ := unstructured.NestedMap(want.Object, "spec", "selector"); ok {
			if err := unstructured.SetNestedField(want.Object, true, "spec", "manualSelector"); err != nil {
				return err
			}
		}
	}
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		ri = dyn.Resource(m.Resource).Namespace(obj.GetNamespace())
	} else {
		want.SetNamespace("")
	}
	got, err := ri.Create(ctx, want, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		var old *unstructured.Unstructured
		old, err = ri.Get(ctx, want.GetName(), metav1.GetOptions{})
		if err != nil {
			return err
		}
		want.SetResourceVersion(old.GetResourceVersion())
		got, err = ri.Update(ctx, want, metav1.UpdateOptions{})
	}
	if err != nil {
		return err
	}
	status, ok := obj.Object["status"]
	if !ok || !withStatus[m.Resource] {
		return nil
	}
	got.Object["status"] = runtime.DeepCopyJSONValue(status)
	if gvk.Group == "batch" && gvk.Kind == "Job" {
		addSuccessCriteriaMet(got)
	}
	if _, err := ri.UpdateStatus(ctx, got, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("status: %w", err)
	}
	return nil
}

// addSuccessCriteriaMet adds to a Job whose status has the condition
// Complete=True, and not SuccessCriteriaMet, a SuccessCriteriaMet=True copy
// of it: the API server refuses Complete without it.
func addSuccessCriteriaMet(job *unstructured.Unstructured) {
	conds, _, _ := unstructured.NestedSlice(job.Object, "status", "conditions")
	var complete map[string]any
	for _, c := range conds {
		m, _ := c.(map[string]any)
		switch {
		case m["type"] == "SuccessCriteriaMet":
			return
		case m["type"] == "Complete" && m["status"] == "True":
			complete = m
		}
	}
	if complete == nil {
		return
	}
	met := runtime.DeepCopyJSON(complete)
	met["type"] = "SuccessCriteriaMet"
	_ = unstructured.SetNestedSlice(job.Object, append([]any{met}, conds...), "status", "conditions")
}

// SeedFiles loads the manifests of paths (relative to the repository root,
// or absolute) with manifest.Load and seeds them (Seed).
func (c *Cluster) SeedFiles(ctx context.Context, paths ...string) error {
	root, err := RepoRoot()
	if err != nil {
		return err
	}
	abs := make([]string, len(paths))
	for i, p := range paths {
		if !filepath.IsAbs(p) {
			p = filepath.Join(root, p)
		}
		abs[i] = p
	}
	objs, err := manifest.Load(abs...)
	if err != nil {
		return fmt.Errorf("testcluster: seed: %w", err)
	}
	return c.Seed(ctx, objs)
}
