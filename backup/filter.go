package backup

import (
	"fmt"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
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
	namespaces *resources.CompiledIncludesExcludes
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
	ns, err := resources.IncludesExcludes{Includes: spec.IncludedNamespaces, Excludes: spec.ExcludedNamespaces}.Compile()
	if err != nil {
		return nil, fmt.Errorf("namespace filter: %w", err)
	}
	f := &filters{namespaces: ns}
	nsAll := ns.IncludeEverything()
	if useOldFilters(spec) {
		g := &globalFilter{includeCluster: spec.IncludeClusterResources, namespacesAll: nsAll}
		if g.ie, err = compileLists(mapNames(spec.IncludedResources, m), mapNames(spec.ExcludedResources, m)); err != nil {
			return nil, fmt.Errorf("resource filter: %w", err)
		}
		f.resources = g
	} else {
		sf := &scopedFilter{namespacesAll: nsAll}
		if sf.namespaced, err = compileLists(mapNames(spec.IncludedNamespaceScopedResources, m), mapNames(spec.ExcludedNamespaceScopedResources, m)); err != nil {
			return nil, fmt.Errorf("namespace-scoped resource filter: %w", err)
		}
		if sf.cluster, err = compileLists(mapNames(spec.IncludedClusterScopedResources, m), mapNames(spec.ExcludedClusterScopedResources, m)); err != nil {
			return nil, fmt.Errorf("cluster-scoped resource filter: %w", err)
		}
		f.resources = sf
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

// lists is an include and an exclude list, each compiled on its own so
// that "matches an include" and "matches an exclude" can be asked apart, as
// Velero's filters do.
type lists struct {
	all                  *resources.CompiledIncludesExcludes // includes and excludes together
	includes, excludes   *resources.CompiledIncludesExcludes // nil when empty
	nIncludes, nExcludes int
}

func compileLists(incl, excl []string) (lists, error) {
	var l lists
	var err error
	if l.all, err = (resources.IncludesExcludes{Includes: incl, Excludes: excl}).Compile(); err != nil {
		return l, err
	}
	if len(incl) > 0 {
		if l.includes, err = (resources.IncludesExcludes{Includes: incl}).Compile(); err != nil {
			return l, err
		}
	}
	if len(excl) > 0 {
		if l.excludes, err = (resources.IncludesExcludes{Includes: excl}).Compile(); err != nil {
			return l, err
		}
	}
	l.nIncludes, l.nExcludes = len(incl), len(excl)
	return l, nil
}

func (l lists) included(s string) bool { return l.includes != nil && l.includes.ShouldInclude(s) }
func (l lists) excluded(s string) bool { return l.excludes != nil && l.excludes.ShouldInclude(s) }

// globalFilter is Velero's GlobalIncludesExcludes.
type globalFilter struct {
	ie             lists
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
	return g.ie.all.ShouldInclude(gr)
}

func (g *globalFilter) ShouldExclude(gr string, namespaced bool) bool {
	if g.ie.excluded(gr) {
		return true
	}
	if !namespaced {
		if g.includeCluster != nil && !*g.includeCluster {
			return true
		}
		if g.includeCluster == nil && !g.ie.all.ShouldInclude(gr) {
			return true
		}
	}
	return false
}

// scopedFilter is Velero's ScopeIncludesExcludes.
type scopedFilter struct {
	namespaced, cluster lists
	namespacesAll       bool
}

func (s *scopedFilter) ShouldInclude(gr string, namespaced bool) bool {
	if namespaced {
		if s.namespaced.excluded(gr) {
			return false
		}
		return s.namespaced.nIncludes == 0 || s.namespaced.included(gr)
	}
	if s.cluster.excluded(gr) {
		return false
	}
	if s.cluster.nIncludes == 0 && s.cluster.nExcludes == 0 && s.namespacesAll && s.namespaced.all.IncludeEverything() {
		return true
	}
	return s.cluster.included(gr) || gr == namespacesGR
}

func (s *scopedFilter) ShouldExclude(gr string, namespaced bool) bool {
	if namespaced {
		return s.namespaced.excluded(gr)
	}
	return s.cluster.excluded(gr)
}

// autoExcluded are the resources Velero's backup controller adds to the
// exclusions of every backup (autoExcludeNamespaceScopedResources and
// autoExcludeClusterScopedResources): snapshots that exist before the
// backup are intermediate objects; only those the CSI actions create
// during the backup are backed up, as additional items they must include.
//
// Velero adds them to the spec's exclusion lists, which has a side effect
// in its scoped filters: with an exclusion present, a backup without
// filters no longer counts as a full-cluster backup and collects no
// cluster-scoped resource but namespaces. rigging keeps these resources
// out without that side effect: they are never collected, and an
// additional item of theirs is kept out unless the action says it must be
// included; the filters are the spec's.
var autoExcluded = map[string]bool{
	"volumesnapshots.snapshot.storage.k8s.io":        true,
	"volumesnapshotcontents.snapshot.storage.k8s.io": true,
}

// withExcludedNamespaces returns spec with every namespace among items
// labelled velero.io/exclude-from-backup=true added to its excluded
// namespaces, as Velero's backup controller adds them before the backup
// runs (and writes them into velero-backup.json). spec is not modified.
func withExcludedNamespaces(spec rigging.BackupSpec, items []*unstructured.Unstructured) rigging.BackupSpec {
	excluded := slices.Clip(spec.ExcludedNamespaces)
	for _, o := range items {
		if o != nil && o.GetAPIVersion() == "v1" && o.GetKind() == "Namespace" && o.GetLabels()[rigging.LabelExcludeFromBackup] == "true" &&
			!slices.Contains(excluded, o.GetName()) {
			excluded = append(excluded, o.GetName())
		}
	}
	spec.ExcludedNamespaces = excluded
	return spec
}
