package resources

import (
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/rigging-dev/rigging"
)

// Matcher is a compiled rigging.ResourceSelector. It decides whether an
// action applies to an item exactly as Velero v1.18's action resolver
// (pkg/plugin/framework/action_resolver.go) does:
//
//   - Resources: each included or excluded name is resolved through the
//     mapper to "plural.group" (so "pods", "pod", "po", "Pod",
//     "deployments.apps" and "deploy" all work), then the item's group
//     resource must pass the include/exclude list. "*" in the included
//     resources means all; "*" in the excluded resources is ignored, as
//     Velero ignores it.
//   - A name the mapper cannot resolve is kept as written and matched as a
//     glob pattern against "plural.group", as Velero does (so "*.apps"
//     matches every apps resource, and an unknown name matches nothing
//     rather than everything). Unlike Velero, which resolves once per backup,
//     such a name is resolved again at match time, so a CRD the mapper learns
//     after compilation is honoured.
//   - Namespaces: a plain include/exclude list with glob patterns. A
//     namespaced item must pass it; a cluster-scoped item (namespace "")
//     matches only when the namespace list includes everything (no excludes,
//     includes empty or "*").
//   - Labels: LabelSelector in labels.Parse syntax; "" matches everything.
//
// A Matcher is immutable and safe for concurrent use.
type Matcher struct {
	mapper                 *Mapper
	includes, excludes     []resourcePattern
	allResources           bool // includes empty or containing "*"
	namespaces             *CompiledIncludesExcludes
	selector               labels.Selector
	everythingButResources bool // namespaces include everything and the selector is empty
}

// resourcePattern is one entry of the selector's resource lists.
type resourcePattern struct {
	raw      string
	resolved schema.GroupResource // set when raw resolved at compile time
	ok       bool                 // raw resolved at compile time
	glob     glob                 // raw as a pattern, used when it does not resolve
}

// CompileSelector compiles sel against the mapper m (nil: a new NewMapper()).
// The error names the field and the value: a label selector labels.Parse
// rejects, or a malformed glob pattern in a list.
func CompileSelector(sel rigging.ResourceSelector, m *Mapper) (*Matcher, error) {
	if m == nil {
		m = NewMapper()
	}
	x := &Matcher{mapper: m, allResources: len(sel.IncludedResources) == 0}
	for _, s := range sel.IncludedResources {
		if s == "*" {
			x.allResources = true
			continue
		}
		p, err := x.pattern(s)
		if err != nil {
			return nil, fmt.Errorf("selector: includedResources: %w", err)
		}
		x.includes = append(x.includes, p)
	}
	for _, s := range sel.ExcludedResources {
		if s == "*" {
			continue
		}
		p, err := x.pattern(s)
		if err != nil {
			return nil, fmt.Errorf("selector: excludedResources: %w", err)
		}
		x.excludes = append(x.excludes, p)
	}
	ns, err := IncludesExcludes{Includes: sel.IncludedNamespaces, Excludes: sel.ExcludedNamespaces}.Compile()
	if err != nil {
		return nil, fmt.Errorf("selector: namespaces: %w", err)
	}
	x.namespaces = ns
	x.selector = labels.Everything()
	if sel.LabelSelector != "" {
		if x.selector, err = labels.Parse(sel.LabelSelector); err != nil {
			return nil, fmt.Errorf("selector: labelSelector %q: %w", sel.LabelSelector, err)
		}
	}
	x.everythingButResources = ns.IncludeEverything() && x.selector.Empty()
	return x, nil
}

func (x *Matcher) pattern(s string) (resourcePattern, error) {
	g, err := compileGlob(s)
	if err != nil {
		return resourcePattern{}, err
	}
	p := resourcePattern{raw: s, glob: g}
	if r, err := x.mapper.Resolve(s); err == nil {
		p.resolved, p.ok = r.GroupResource(), true
	}
	return p, nil
}

// matches reports whether the group resource gr is what p names.
func (x *Matcher) matches(p resourcePattern, gr schema.GroupResource) bool {
	if p.ok {
		return p.resolved == gr
	}
	if p.glob.literal {
		if r, err := x.mapper.Resolve(p.raw); err == nil {
			return r.GroupResource() == gr
		}
	}
	return p.glob.match(gr.String())
}

func (x *Matcher) includesResource(gr schema.GroupResource) bool {
	for _, p := range x.excludes {
		if x.matches(p, gr) {
			return false
		}
	}
	if x.allResources {
		return true
	}
	for _, p := range x.includes {
		if x.matches(p, gr) {
			return true
		}
	}
	return false
}

// Matches reports whether an item of resource r in namespace ("" for a
// cluster-scoped item) with labels lbls is selected. nil labels are an empty
// set.
func (x *Matcher) Matches(r Resource, namespace string, lbls map[string]string) bool {
	if !x.includesResource(r.GroupResource()) {
		return false
	}
	return x.matchesRest(namespace, labels.Set(lbls))
}

func (x *Matcher) matchesRest(namespace string, lbls labels.Labels) bool {
	if x.everythingButResources {
		return true
	}
	if namespace != "" && !x.namespaces.ShouldInclude(namespace) {
		return false
	}
	if namespace == "" && !x.namespaces.IncludeEverything() {
		return false
	}
	return x.selector.Matches(lbls)
}

// MatchesObject reports whether obj is selected, resolving its kind through
// the mapper. The namespace is taken from the object and ignored for a
// cluster-scoped resource. An object whose kind the mapper does not know is
// selected only when the selector does not restrict resources at all (no
// included resources other than "*", no excluded ones): Velero, which always
// knows the kind, would run such an action on it.
func (x *Matcher) MatchesObject(obj *unstructured.Unstructured) bool {
	if obj == nil {
		return false
	}
	if x.allResources && len(x.excludes) == 0 && x.everythingButResources {
		return true // the zero selector: no need to map the kind
	}
	r, err := x.mapper.ForObject(obj)
	if err != nil {
		if !x.allResources || len(x.excludes) > 0 {
			return false
		}
		return x.matchesRest(obj.GetNamespace(), objectLabels(obj))
	}
	if !x.includesResource(r.GroupResource()) {
		return false
	}
	ns := obj.GetNamespace()
	if !r.Namespaced {
		ns = ""
	}
	return x.matchesRest(ns, objectLabels(obj))
}

// objectLabels reads an object's labels in place, without the copy
// GetLabels makes.
func objectLabels(obj *unstructured.Unstructured) labels.Labels {
	m, _, _ := unstructured.NestedFieldNoCopy(obj.Object, "metadata", "labels")
	l, _ := m.(map[string]any)
	return anyLabels(l)
}

// anyLabels is a labels.Labels over the map[string]any of an unstructured
// object; values that are not strings read as "".
type anyLabels map[string]any

func (l anyLabels) Has(key string) bool { _, ok := l[key]; return ok }

func (l anyLabels) Get(key string) string { s, _ := l[key].(string); return s }

func (l anyLabels) Lookup(key string) (string, bool) {
	v, ok := l[key]
	s, _ := v.(string)
	return s, ok
}
