package backup

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/resources"
)

// namespacesGR is the group-resource string of Namespace objects.
const namespacesGR = "namespaces"

// crdsGR is the group-resource string of CustomResourceDefinitions.
const crdsGR = "customresourcedefinitions.apiextensions.k8s.io"

// filters is a backup spec's item selection, as Velero v1.18 applies it
// (pkg/util/collections and pkg/backup/item_collector.go).
type filters struct {
	namespaces resources.IncludesExcludes
	resources  resourceFilter
	selector   labels.Selector   // nil: none
	or         []labels.Selector // used when selector is nil
}

// resourceFilter is Velero's IncludesExcludesInterface: the old global
// filters or the scoped ones.
type resourceFilter interface {
	// ShouldInclude decides whether a resource is collected.
	ShouldInclude(gr string, namespaced bool) bool
	// ShouldExclude decides whether an item reached otherwise (an additional
	// item) is kept out.
	ShouldExclude(gr string, namespaced bool) bool
}

func newFilters(spec *rigging.BackupSpec, m *resources.Mapper) (*filters, error) {
	f := &filters{namespaces: resources.IncludesExcludes{Includes: spec.IncludedNamespaces, Excludes: spec.ExcludedNamespaces}}
	if _, err := f.namespaces.Compile(); err != nil {
		return nil, fmt.Errorf("namespace filter: %w", err)
	}
	nsAll := f.namespaces.IncludeEverything()
	if useOldFilters(spec) {
		f.resources = &globalFilter{
			ie:             resources.IncludesExcludes{Includes: mapNames(spec.IncludedResources, m), Excludes: mapNames(spec.ExcludedResources, m)},
			includeCluster: spec.IncludeClusterResources,
			namespacesAll:  nsAll,
		}
	} else {
		f.resources = &scopedFilter{
			namespaced:    resources.IncludesExcludes{Includes: mapNames(spec.IncludedNamespaceScopedResources, m), Excludes: mapNames(spec.ExcludedNamespaceScopedResources, m)},
			cluster:       resources.IncludesExcludes{Includes: mapNames(spec.IncludedClusterScopedResources, m), Excludes: mapNames(spec.ExcludedClusterScopedResources, m)},
			namespacesAll: nsAll,
		}
	}
	if spec.LabelSelector != nil {
		s, err := metav1.LabelSelectorAsSelector(spec.LabelSelector)
		if err != nil {
			return nil, fmt.Errorf("label selector: %w", err)
		}
		f.selector = s
	}
	for _, ls := range spec.OrLabelSelectors {
		s, err := metav1.LabelSelectorAsSelector(ls)
		if err != nil {
			return nil, fmt.Errorf("or-label selector: %w", err)
		}
		f.or = append(f.or, s)
	}
	return f, nil
}

// useOldFilters is Velero's UseOldResourceFilters: the global filters apply
// when any of them is set, else the scoped ones.
func useOldFilters(spec *rigging.BackupSpec) bool {
	return spec.IncludeClusterResources != nil || len(spec.IncludedResources) > 0 || len(spec.ExcludedResources) > 0
}

// mapNames resolves each resource name to its "plural.group" form, keeping
// "*" and names the mapper does not know (matched as glob patterns).
func mapNames(names []string, m *resources.Mapper) []string {
	out := make([]string, 0, len(names))
	for _, n := range names {
		if n == "*" {
			out = append(out, n)
			continue
		}
		if r, err := m.Resolve(n); err == nil {
			out = append(out, r.String())
			continue
		}
		out = append(out, n)
	}
	return out
}

// labelsMatch applies the label selector, or else the or-selectors.
func (f *filters) labelsMatch(lbls map[string]string) bool {
	set := labels.Set(lbls)
	if f.selector != nil {
		return f.selector.Matches(set)
	}
	if len(f.or) == 0 {
		return true
	}
	for _, s := range f.or {
		if s.Matches(set) {
			return true
		}
	}
	return false
}

func hasSelectors(f *filters) bool { return f.selector != nil || len(f.or) > 0 }

// matchesAny reports whether s matches a pattern of list ("*" included).
func matchesAny(list []string, s string) bool {
	return len(list) > 0 && resources.IncludesExcludes{Includes: list}.ShouldInclude(s)
}

// globalFilter is Velero's GlobalIncludesExcludes.
type globalFilter struct {
	ie             resources.IncludesExcludes
	includeCluster *bool
	namespacesAll  bool
}

func (g *globalFilter) ShouldInclude(gr string, namespaced bool) bool {
	if !namespaced && g.includeCluster != nil && !*g.includeCluster {
		return false
	}
	// With includeClusterResources unset, cluster-scoped resources are
	// collected only in a backup of every namespace.
	if gr != namespacesGR && !namespaced && g.includeCluster == nil && !g.namespacesAll {
		return false
	}
	return g.ie.ShouldInclude(gr)
}

func (g *globalFilter) ShouldExclude(gr string, namespaced bool) bool {
	if matchesAny(g.ie.Excludes, gr) {
		return true
	}
	if !namespaced {
		if g.includeCluster != nil && !*g.includeCluster {
			return true
		}
		if g.includeCluster == nil && !g.ie.ShouldInclude(gr) {
			return true
		}
	}
	return false
}

// scopedFilter is Velero's ScopeIncludesExcludes.
type scopedFilter struct {
	namespaced, cluster resources.IncludesExcludes
	namespacesAll       bool
}

func (s *scopedFilter) ShouldInclude(gr string, namespaced bool) bool {
	if namespaced {
		if matchesAny(s.namespaced.Excludes, gr) {
			return false
		}
		return len(s.namespaced.Includes) == 0 || matchesAny(s.namespaced.Includes, gr)
	}
	if matchesAny(s.cluster.Excludes, gr) {
		return false
	}
	if len(s.cluster.Includes) == 0 && len(s.cluster.Excludes) == 0 && s.namespacesAll && s.namespaced.IncludeEverything() {
		return true
	}
	return matchesAny(s.cluster.Includes, gr) || gr == namespacesGR
}

func (s *scopedFilter) ShouldExclude(gr string, namespaced bool) bool {
	if namespaced {
		return matchesAny(s.namespaced.Excludes, gr)
	}
	return matchesAny(s.cluster.Excludes, gr)
}
