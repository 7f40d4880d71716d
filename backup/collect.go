package backup

import (
	"context"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/rigging-dev/rigging/resources"
)

// firstResources are collected before the others, as Velero sorts the core
// group: pods, then claims, then volumes.
var firstResources = []string{"pods", "persistentvolumeclaims", "persistentvolumes"}

// collect selects the items to back up, in Velero's collection order:
// resource by resource (pods, claims and volumes first, then the mapper's
// order, custom resources last), each sorted by namespace and name, with
// spec.orderedResources moved to the front of their resource. Namespaces are
// kept when Velero's namespace tracker would keep them: selected by name or
// labels, or holding a selected item. A namespace that items use but the
// input lacks is made up as a bare Namespace object, as the cluster would
// have one.
func (bk *backupper) collect(ctx context.Context) ([]item, error) {
	f := bk.filters
	order := bk.resourceOrder()
	tracked := map[string]bool{}
	nsObjects, err := bk.namespaceObjects(ctx)
	if err != nil {
		return nil, err
	}
	for _, ns := range nsObjects {
		bk.trackNamespace(ns, tracked)
	}

	byGR := map[schema.GroupResource][]item{}
	for _, r := range order {
		if r.GroupResource().String() == namespacesGR {
			continue
		}
		if !f.resources.ShouldInclude(r.String(), r.Namespaced) {
			continue
		}
		if autoExcluded[r.String()] {
			bk.log.Info("skipping resource: Velero excludes it from every backup", "resource", r.String())
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		refs := bk.index.Refs(r.GroupResource(), "")
		if len(refs) > 0 {
			byGR[r.GroupResource()] = make([]item, 0, len(refs))
		}
		for _, ref := range refs {
			ns := ref.Namespace
			if ns != "" && !f.namespaces.ShouldInclude(ns) {
				continue
			}
			it := refItem(ref, r)
			if hasSelectors(f) {
				// Decoded for its labels, then dropped: a block decodes
				// it again when it comes.
				o, err := bk.index.Object(ref)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", it.k, err)
				}
				if !f.labelsMatch(o.GetLabels()) {
					continue
				}
			}
			byGR[r.GroupResource()] = append(byGR[r.GroupResource()], it)
			if ns != "" {
				tracked[ns] = true
			}
		}
	}
	if nsRes, err := bk.mapper.ForGroupResource(schema.GroupResource{Resource: namespacesGR}); err == nil && f.resources.ShouldInclude(namespacesGR, false) {
		for _, ns := range nsObjects {
			if tracked[ns.GetName()] {
				byGR[nsRes.GroupResource()] = append(byGR[nsRes.GroupResource()], newItem(ns, nsRes, ns.GetLabels()))
			}
		}
	}

	orders, err := bk.orderedResources()
	if err != nil {
		return nil, err
	}
	total := 0
	for _, list := range byGR {
		total += len(list)
	}
	out := make([]item, 0, total)
	for _, r := range order {
		list := byGR[r.GroupResource()]
		if names, ok := orders[r.String()]; ok {
			list = moveToFront(list, names)
		}
		out = append(out, list...)
	}
	return out, nil
}

// resourceOrder is the order resources are collected in.
func (bk *backupper) resourceOrder() []resources.Resource {
	all := bk.mapper.Resources()
	out := make([]resources.Resource, 0, len(all))
	seen := map[string]bool{}
	for _, name := range firstResources {
		if r, err := bk.mapper.ForGroupResource(schema.GroupResource{Resource: name}); err == nil {
			out = append(out, r)
			seen[r.String()] = true
		}
	}
	var extensions []resources.Resource
	for _, r := range all {
		if seen[r.String()] {
			continue
		}
		seen[r.String()] = true
		if r.Group == "extensions" {
			extensions = append(extensions, r)
			continue
		}
		out = append(out, r)
	}
	return append(out, extensions...)
}

// namespaceObjects returns the input's Namespace objects, plus a bare one
// for each namespace that input items use but that has no object.
func (bk *backupper) namespaceObjects(ctx context.Context) ([]*unstructured.Unstructured, error) {
	gr := schema.GroupResource{Resource: namespacesGR}
	have, err := bk.index.List(ctx, gr, "")
	if err != nil {
		return nil, err
	}
	names := map[string]bool{}
	for _, ns := range have {
		names[ns.GetName()] = true
	}
	out := append([]*unstructured.Unstructured(nil), have...)
	for _, r := range bk.mapper.Resources() {
		if !r.Namespaced {
			continue
		}
		for _, ref := range bk.index.Refs(r.GroupResource(), "") {
			ns := ref.Namespace
			if ns == "" || names[ns] {
				continue
			}
			names[ns] = true
			bare := &unstructured.Unstructured{Object: map[string]any{
				"apiVersion": "v1", "kind": "Namespace",
				"metadata": map[string]any{"name": ns},
			}}
			bk.log.Info("namespace has no object in the input; backing up a bare Namespace", "namespace", ns)
			if err := bk.index.Add(bare); err != nil {
				return nil, err
			}
			out = append(out, bare)
		}
	}
	return out, nil
}

// trackNamespace is Velero's nsTracker.init for one namespace.
func (bk *backupper) trackNamespace(ns *unstructured.Unstructured, tracked map[string]bool) {
	f := bk.filters
	if phase, _, _ := unstructured.NestedString(ns.Object, "status", "phase"); phase != "" && phase != "Active" {
		bk.log.Info("skipping namespace because it's not in Active phase", "namespace", ns.GetName())
		return
	}
	if hasSelectors(f) && f.labelsMatch(ns.GetLabels()) {
		tracked[ns.GetName()] = true
		return
	}
	if f.namespaces.IncludeEverything() && hasSelectors(f) {
		return
	}
	if f.namespaces.ShouldInclude(ns.GetName()) {
		tracked[ns.GetName()] = true
	}
}

// orderedResources parses spec.orderedResources: resource name ->
// comma-separated "ns/name" (or "name") list.
func (bk *backupper) orderedResources() (map[string][]string, error) {
	out := map[string][]string{}
	for res, list := range bk.backup.Spec.OrderedResources {
		r, err := bk.mapper.Resolve(res)
		if err != nil {
			return nil, fmt.Errorf("ordered resources: %w", err)
		}
		var names []string
		for _, n := range strings.Split(list, ",") {
			if n = strings.TrimSpace(n); n != "" {
				names = append(names, n)
			}
		}
		out[r.String()] = names
	}
	return out, nil
}

// moveToFront puts the items named in order ("ns/name" or "name") first, in
// that order, keeping the others in place.
func moveToFront(list []item, order []string) []item {
	pos := map[string]int{}
	for i, it := range list {
		k := it.key()
		name := k.name
		if k.namespace != "" {
			name = k.namespace + "/" + k.name
		}
		pos[name] = i
	}
	out := make([]item, 0, len(list))
	used := map[int]bool{}
	for _, n := range order {
		if i, ok := pos[n]; ok && !used[i] {
			out = append(out, list[i])
			used[i] = true
		}
	}
	for i, it := range list {
		if !used[i] {
			out = append(out, it)
		}
	}
	return out
}
