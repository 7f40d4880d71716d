package restore

import (
	"cmp"
	"slices"
)

// Reasons an item of the backup is not restored, as NotRestored.Reason
// gives them. Other reasons are an action's ("skipped by plugin NAME", see
// ReasonSkippedBy) or Velero's rules: a completed pod or job, a mirror pod,
// a persistent volume provisioned again from its claim.
const (
	// ReasonNonRestorable: Velero never restores the resource (NonRestorable).
	ReasonNonRestorable = "never restored (Velero's non-restorable resources)"
	// ReasonResourceFilter: the resource filters (included/excluded resources) leave it out.
	ReasonResourceFilter = "excluded by the resource filter"
	// ReasonNamespaceFilter: the namespace filters leave its namespace out.
	ReasonNamespaceFilter = "excluded by the namespace filter"
	// ReasonClusterScoped: a cluster-scoped item, and cluster resources are
	// not included (includeClusterResources false, or only some namespaces
	// included).
	ReasonClusterScoped = "cluster-scoped, cluster resources not included"
	// ReasonLabelSelector: the item's labels do not match the label selectors.
	ReasonLabelSelector = "excluded by the label selector"
	// ReasonFailed: restoring the item failed; the restore's errors say why.
	ReasonFailed = "failed (see the errors)"
	// ReasonExistsDiffers: the object exists in the cluster and differs
	// from the backup's; the existing-resource policy left it (a warning
	// says so).
	ReasonExistsDiffers = "exists in the cluster and differs (see the warnings)"
	// ReasonSkippedBy prefixes the name of the action that discarded the
	// item (its SkipRestore).
	ReasonSkippedBy = "skipped by plugin "
)

// reasonUnknown is an item left out by no recorded rule (two namespaces
// mapped to one, say).
const reasonUnknown = "not restored (see the restore log)"

// NotRestored counts the items of one resource of the backup that a
// restore did not write, for one reason.
type NotRestored struct {
	// Resource is the backup's folder name, "plural.group" ("pods",
	// "deployments.apps").
	Resource string `json:"resource"`
	// Reason is one of the Reason constants or a rule's own words.
	Reason string `json:"reason"`
	// Count is the number of items, at least 1.
	Count int `json:"count"`
}

// skip records why item k is not restored. The last reason wins: an item
// a filter left out may come back as another item's additional item and
// be skipped for a reason of its own (a volume provisioned again); an item
// written in the end is not counted at all.
func (rs *restorer) skip(k itemKey, reason string) {
	rs.skipReasons[k] = reason
}

// skipNamespace records reason for every item of gr in namespace ns.
func (rs *restorer) skipNamespace(gr, ns, reason string) {
	for _, name := range rs.contents.Names(gr, ns) {
		rs.skip(itemKey{gr, ns, name}, reason)
	}
}

// skipAll records reason for every item of gr.
func (rs *restorer) skipAll(gr, reason string) {
	for _, ns := range rs.contents.Namespaces(gr) {
		rs.skipNamespace(gr, ns, reason)
	}
}

// resourceExcludedReason tells a resource Velero never restores from one
// the user's filters exclude.
func (rs *restorer) resourceExcludedReason(gr string) string {
	for _, nr := range NonRestorable {
		if resolveName(rs.mapper, nr) == gr {
			return ReasonNonRestorable
		}
	}
	return ReasonResourceFilter
}

// notRestored lists, in restore order then by reason, the items of the
// backup not written, counted by resource and reason.
func (rs *restorer) notRestored() []NotRestored {
	counts := map[[2]string]int{}
	for _, gr := range rs.contents.Resources() {
		for _, ns := range rs.contents.Namespaces(gr) {
			for _, name := range rs.contents.Names(gr, ns) {
				k := itemKey{gr, ns, name}
				if rs.written[k] {
					continue
				}
				reason, ok := rs.skipReasons[k]
				if !ok {
					reason = reasonUnknown
				}
				counts[[2]string{gr, reason}]++
			}
		}
	}
	out := make([]NotRestored, 0, len(counts))
	for k, n := range counts {
		out = append(out, NotRestored{Resource: k[0], Reason: k[1], Count: n})
	}
	pos := func(gr string) int {
		if p, ok := rs.position[gr]; ok {
			return p
		}
		return len(rs.order)
	}
	slices.SortFunc(out, func(a, b NotRestored) int {
		return cmp.Or(cmp.Compare(pos(a.Resource), pos(b.Resource)), cmp.Compare(a.Resource, b.Resource), cmp.Compare(a.Reason, b.Reason))
	})
	return out
}
