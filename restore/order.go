package restore

import (
	"slices"
	"strings"

	"github.com/rigging-dev/rigging/resources"
)

// Priorities is the restore order: High first (in order), then every other
// resource of the backup sorted by name, then Low (in order). Entries are
// resource names as a user writes them ("pods", "replicasets.apps").
type Priorities struct {
	High, Low []string
}

// DefaultPriorities are Velero v1.18's defaults (velero-backup-format.md
// §4.3), spelled exactly as in Velero's source.
var DefaultPriorities = Priorities{
	High: []string{
		"customresourcedefinitions",
		"namespaces",
		"storageclasses",
		"volumesnapshotclass.snapshot.storage.k8s.io",
		"volumesnapshotcontents.snapshot.storage.k8s.io",
		"volumesnapshots.snapshot.storage.k8s.io",
		"datauploads.velero.io",
		"persistentvolumes",
		"persistentvolumeclaims",
		"clusterroles",
		"roles",
		"serviceaccounts",
		"clusterrolebindings",
		"rolebindings",
		"secrets",
		"configmaps",
		"limitranges",
		"priorityclasses",
		"pods",
		"replicasets.apps",
		"clusterclasses.cluster.x-k8s.io",
		"endpoints",
		"services",
	},
	Low: []string{
		"clusterbootstraps.run.tanzu.vmware.com",
		"clusters.cluster.x-k8s.io",
		"clusterresourcesets.addons.cluster.x-k8s.io",
		"apps.kappctrl.k14s.io",
		"packageinstalls.packaging.carvel.dev",
	},
}

// ParsePriorities reads Velero's --restore-resource-priorities syntax:
// comma-separated names, a lone "-" separating the high list from the low
// one.
func ParsePriorities(s string) Priorities {
	var p Priorities
	low := false
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		switch {
		case f == "":
		case f == "-":
			low = true
		case low:
			p.Low = append(p.Low, f)
		default:
			p.High = append(p.High, f)
		}
	}
	return p
}

// NonRestorable are the resources Velero never restores (its restore
// controller's nonRestorableResources); they are added to every restore's
// excluded resources.
var NonRestorable = []string{
	"nodes",
	"events",
	"events.events.k8s.io",
	"backups.velero.io",
	"restores.velero.io",
	"resticrepositories.velero.io",
	"csinodes.storage.k8s.io",
	"volumeattachments.storage.k8s.io",
	"backuprepositories.velero.io",
}

// crdsGR is the group-resource of CustomResourceDefinitions.
const crdsGR = "customresourcedefinitions.apiextensions.k8s.io"

// namespacesGR is the group-resource of Namespaces.
const namespacesGR = "namespaces"

// resolveName maps a user-written resource name to "plural.group", keeping
// it as written when the mapper does not know it.
func resolveName(m *resources.Mapper, s string) string {
	if r, err := m.Resolve(s); err == nil {
		return r.String()
	}
	return s
}

// orderResources returns the backup's group-resources in restore order
// (Velero's getOrderedResources, after its first pass over CRDs): the high
// list, the rest sorted, the low list; each once, only those present.
// namespaces is always kept, so on-demand namespaces have a place.
func orderResources(m *resources.Mapper, p Priorities, present []string) []string {
	have := map[string]bool{namespacesGR: true}
	for _, gr := range present {
		have[gr] = true
	}
	var out []string
	seen := map[string]bool{}
	add := func(gr string) {
		if have[gr] && !seen[gr] {
			seen[gr] = true
			out = append(out, gr)
		}
	}
	// Pass 1: CRDs first.
	add(crdsGR)
	high := make([]string, 0, len(p.High))
	for _, s := range p.High {
		high = append(high, resolveName(m, s))
	}
	low := make([]string, 0, len(p.Low))
	for _, s := range p.Low {
		low = append(low, resolveName(m, s))
	}
	for _, gr := range high {
		add(gr)
	}
	var rest []string
	for _, gr := range present {
		if !slices.Contains(high, gr) && !slices.Contains(low, gr) {
			rest = append(rest, gr)
		}
	}
	slices.Sort(rest)
	for _, gr := range rest {
		add(gr)
	}
	for _, gr := range low {
		add(gr)
	}
	return out
}
