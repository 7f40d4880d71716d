package resources

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/version"
)

// Mapper maps kinds to resources and resource names to resources without an
// API server: the built-in Kubernetes API of 1.33 and later (core, apps,
// batch, autoscaling, policy, rbac, storage, networking, apiextensions,
// apiregistration, admissionregistration, scheduling, coordination,
// discovery, certificates, node, flowcontrol, events, resource, authentication
// and authorization), the CSI snapshot kinds (snapshot.storage.k8s.io
// VolumeSnapshot, VolumeSnapshotContent, VolumeSnapshotClass), Velero's own
// kinds (velero.io v1 and v2alpha1), the kinds of the long-removed
// "extensions" group and PodSecurityPolicy that old manifests still carry,
// and every CRD given to AddCRD.
//
// A group and kind match whatever the version, as every version of a group
// serves a kind under the same plural: a batch/v1beta1 CronJob is a
// "cronjobs.batch" like a batch/v1 one.
//
// A Mapper is safe for concurrent use.
type Mapper struct {
	mu      sync.RWMutex
	entries []entry
	byGK    map[schema.GroupKind]int
	byGR    map[schema.GroupResource]int
	// byName maps every lower-case plural, singular, kind and short name to
	// the entries that claim it, in priority order (built-ins in table
	// order, then CRDs in the order added). Legacy entries are left out.
	byName map[string][]int
	// byQualified maps "name.group" (any of the names above) to its entry,
	// legacy entries included.
	byQualified map[string]int
}

type entry struct {
	Resource
	legacy bool
}

// NewMapper returns a Mapper that knows the built-in kinds.
func NewMapper() *Mapper {
	m := &Mapper{}
	for _, r := range builtin {
		m.entries = append(m.entries, entry{Resource: withSingular(r)})
	}
	for _, r := range legacy {
		m.entries = append(m.entries, entry{Resource: withSingular(r), legacy: true})
	}
	m.reindex()
	return m
}

func withSingular(r Resource) Resource {
	if r.Singular == "" {
		r.Singular = strings.ToLower(r.Kind)
	}
	return r
}

// reindex rebuilds the lookup maps from m.entries. The caller holds m.mu for
// writing (or owns m exclusively).
func (m *Mapper) reindex() {
	m.byGK = make(map[schema.GroupKind]int, len(m.entries))
	m.byGR = make(map[schema.GroupResource]int, len(m.entries))
	m.byName = make(map[string][]int, 4*len(m.entries))
	m.byQualified = make(map[string]int, 4*len(m.entries))
	for i, e := range m.entries {
		gk := schema.GroupKind{Group: e.Group, Kind: e.Kind}
		if _, dup := m.byGK[gk]; !dup {
			m.byGK[gk] = i
		}
		if _, dup := m.byGR[e.GroupResource()]; !dup {
			m.byGR[e.GroupResource()] = i
		}
		for _, n := range names(e.Resource) {
			if !e.legacy && !slices.Contains(m.byName[n], i) {
				m.byName[n] = append(m.byName[n], i)
			}
			q := n
			if e.Group != "" {
				q += "." + e.Group
			}
			if _, dup := m.byQualified[q]; !dup {
				m.byQualified[q] = i
			}
		}
	}
}

// names returns the lower-case names a resource answers to.
func names(r Resource) []string {
	out := make([]string, 0, 3+len(r.ShortNames))
	out = append(out, r.Plural, r.Singular, strings.ToLower(r.Kind))
	for _, s := range r.ShortNames {
		out = append(out, strings.ToLower(s))
	}
	return out
}

// ForGVK returns the resource of a group and kind; the version is not
// checked, and the result carries gvk's version (or the preferred one when
// gvk has none). An unknown group and kind gives an error wrapping
// ErrUnknownKind that names the apiVersion and kind.
func (m *Mapper) ForGVK(gvk schema.GroupVersionKind) (Resource, error) {
	m.mu.RLock()
	i, ok := m.byGK[gvk.GroupKind()]
	var r Resource
	if ok {
		r = m.entries[i].Resource
	}
	m.mu.RUnlock()
	if !ok {
		return Resource{}, fmt.Errorf("%w: apiVersion %q kind %q (not a built-in kind, and no CustomResourceDefinition for it was seen)",
			ErrUnknownKind, gvk.GroupVersion().String(), gvk.Kind)
	}
	if gvk.Version != "" {
		r.Version = gvk.Version
	}
	return r, nil
}

// ForObject returns the resource of obj's apiVersion and kind, as ForGVK. The
// error names the object (namespace and name) as well.
func (m *Mapper) ForObject(obj *unstructured.Unstructured) (Resource, error) {
	if obj == nil {
		return Resource{}, fmt.Errorf("%w: nil object", ErrUnknownKind)
	}
	gv, err := schema.ParseGroupVersion(obj.GetAPIVersion())
	if err != nil {
		return Resource{}, fmt.Errorf("object %s: %w: %w", objectName(obj), ErrUnknownKind, err)
	}
	gvk := gv.WithKind(obj.GetKind())
	if gvk.Kind == "" {
		return Resource{}, fmt.Errorf("object %s: %w: the object has no kind (apiVersion %q)", objectName(obj), ErrUnknownKind, obj.GetAPIVersion())
	}
	r, err := m.ForGVK(gvk)
	if err != nil {
		return Resource{}, fmt.Errorf("object %s: %w", objectName(obj), err)
	}
	return r, nil
}

// objectName returns "namespace/name" or "name" for messages.
func objectName(obj *unstructured.Unstructured) string {
	if ns := obj.GetNamespace(); ns != "" {
		return fmt.Sprintf("%q", ns+"/"+obj.GetName())
	}
	return fmt.Sprintf("%q", obj.GetName())
}

// ForGroupResource returns the resource of a group and plural
// ({Group: "apps", Resource: "deployments"}), with its preferred version. An
// unknown one gives an error wrapping ErrUnknownResource.
func (m *Mapper) ForGroupResource(gr schema.GroupResource) (Resource, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if i, ok := m.byGR[gr]; ok {
		return m.entries[i].Resource, nil
	}
	return Resource{}, fmt.Errorf("%w: %q", ErrUnknownResource, gr.String())
}

// Resolve finds the resource a user or a plugin means by s, as kubectl does:
// a plural ("pods"), a singular ("pod"), a kind in any case ("Pod"), a short
// name ("po"), or any of these followed by "." and the group
// ("deployments.apps", "deploy.apps",
// "volumesnapshots.snapshot.storage.k8s.io"). A bare name claimed by several
// groups resolves to the built-in one listed first, the core group before all
// others ("events" is the core Event, not events.k8s.io's), and to a CRD only
// when no built-in claims it. The result carries the preferred version. An
// unknown name gives an error wrapping ErrUnknownResource.
func (m *Mapper) Resolve(s string) (Resource, error) {
	key := strings.ToLower(strings.TrimSpace(s))
	m.mu.RLock()
	defer m.mu.RUnlock()
	if key != "" {
		if i, ok := m.byQualified[key]; ok {
			return m.entries[i].Resource, nil
		}
		if is := m.byName[key]; len(is) > 0 {
			return m.entries[is[0]].Resource, nil
		}
	}
	return Resource{}, fmt.Errorf("%w: %q (want a plural, singular, kind or short name, optionally followed by .<group>)", ErrUnknownResource, s)
}

// Resources returns every resource the mapper knows, built-ins first in a
// fixed order, then CRDs in the order added.
func (m *Mapper) Resources() []Resource {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]Resource, len(m.entries))
	for i, e := range m.entries {
		out[i] = e.Resource
	}
	return out
}

// crdGroup is the API group of CustomResourceDefinition objects.
const crdGroup = "apiextensions.k8s.io"

// IsCRD reports whether obj is a CustomResourceDefinition (of any version of
// apiextensions.k8s.io).
func IsCRD(obj *unstructured.Unstructured) bool {
	gvk := obj.GroupVersionKind()
	return gvk.Group == crdGroup && gvk.Kind == "CustomResourceDefinition"
}

// AddCRD teaches the mapper the custom resource a CustomResourceDefinition
// defines: an apiextensions.k8s.io/v1 or v1beta1 object, read from
// spec.group, spec.names (kind, plural, singular, shortNames), spec.scope and
// the served versions (spec.versions, or v1beta1's spec.version); the
// preferred version is the highest served one in Kubernetes' version order
// (v2 > v1 > v1beta2 > v1beta1 > v1alpha1). A CRD for a group and kind or a
// group and plural the mapper already knows replaces that entry, keeping its
// place in the priority order. Errors wrap ErrInvalidCRD and name the CRD.
func (m *Mapper) AddCRD(crd *unstructured.Unstructured) error {
	if crd == nil {
		return fmt.Errorf("%w: nil object", ErrInvalidCRD)
	}
	r, err := resourceFromCRD(crd)
	if err != nil {
		return fmt.Errorf("CustomResourceDefinition %q: %w", crd.GetName(), err)
	}
	m.Add(r)
	return nil
}

// Add teaches the mapper a resource, as discovery of an API server describes
// it (hosts that read a live cluster add what it serves). A resource with the
// group and kind, or the group and plural, of one the mapper already knows
// replaces that entry, keeping its place in the priority order; others come
// last. An empty Singular defaults to the lower-case kind.
func (m *Mapper) Add(r Resource) {
	r = withSingular(r)
	m.mu.Lock()
	defer m.mu.Unlock()
	pos := -1
	kept := m.entries[:0:0]
	for _, e := range m.entries {
		if (e.Group == r.Group && e.Kind == r.Kind) || e.GroupResource() == r.GroupResource() {
			if pos < 0 {
				pos = len(kept)
			}
			continue
		}
		kept = append(kept, e)
	}
	if pos < 0 {
		kept = append(kept, entry{Resource: r})
	} else {
		kept = slices.Insert(kept, pos, entry{Resource: r})
	}
	m.entries = kept
	m.reindex()
}

func resourceFromCRD(crd *unstructured.Unstructured) (Resource, error) {
	if !IsCRD(crd) {
		return Resource{}, fmt.Errorf("%w: apiVersion %q kind %q is not an %s CustomResourceDefinition", ErrInvalidCRD, crd.GetAPIVersion(), crd.GetKind(), crdGroup)
	}
	str := func(path ...string) string {
		s, _, _ := unstructured.NestedString(crd.Object, path...)
		return s
	}
	r := Resource{
		Group:    str("spec", "group"),
		Kind:     str("spec", "names", "kind"),
		Plural:   strings.ToLower(str("spec", "names", "plural")),
		Singular: strings.ToLower(str("spec", "names", "singular")),
	}
	r.ShortNames, _, _ = unstructured.NestedStringSlice(crd.Object, "spec", "names", "shortNames")
	for _, f := range [...]struct{ path, value string }{{"spec.group", r.Group}, {"spec.names.kind", r.Kind}, {"spec.names.plural", r.Plural}} {
		if f.value == "" {
			return Resource{}, fmt.Errorf("%w: %s is missing", ErrInvalidCRD, f.path)
		}
	}
	if r.Singular == "" {
		r.Singular = strings.ToLower(r.Kind)
	}
	switch scope := str("spec", "scope"); scope {
	case "Namespaced":
		r.Namespaced = true
	case "Cluster":
	default:
		return Resource{}, fmt.Errorf("%w: spec.scope is %q, want Namespaced or Cluster", ErrInvalidCRD, scope)
	}
	v, err := preferredVersion(crd)
	if err != nil {
		return Resource{}, err
	}
	r.Version = v
	return r, nil
}

// preferredVersion returns the highest served version of a CRD.
func preferredVersion(crd *unstructured.Unstructured) (string, error) {
	var served []string
	versions, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
	for i, raw := range versions {
		v, ok := raw.(map[string]any)
		if !ok {
			return "", fmt.Errorf("%w: spec.versions[%d] is not an object", ErrInvalidCRD, i)
		}
		name, _ := v["name"].(string)
		if name == "" {
			return "", fmt.Errorf("%w: spec.versions[%d].name is missing", ErrInvalidCRD, i)
		}
		if isServed, ok := v["served"].(bool); ok && !isServed {
			continue
		}
		served = append(served, name)
	}
	if len(versions) == 0 {
		// apiextensions.k8s.io/v1beta1 allowed a single spec.version.
		if v, _, _ := unstructured.NestedString(crd.Object, "spec", "version"); v != "" {
			served = append(served, v)
		}
	}
	if len(served) == 0 {
		return "", fmt.Errorf("%w: no served version in spec.versions", ErrInvalidCRD)
	}
	slices.SortFunc(served, func(a, b string) int { return -version.CompareKubeAwareVersionStrings(a, b) })
	return served[0], nil
}
