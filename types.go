package rigging

import (
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// ResourceSelector says which items an action applies to, as Velero's
// velero.ResourceSelector does. Empty include lists mean everything; "*" in an
// include list means everything too. Resources may be given as a plural
// ("pods"), "plural.group" ("deployments.apps"), a kind ("Pod") or a short name
// ("po"); the host resolves them. LabelSelector is in labels.Parse syntax.
// Cluster-scoped items match only when namespaces are not restricted.
type ResourceSelector struct {
	IncludedNamespaces []string
	ExcludedNamespaces []string
	IncludedResources  []string
	ExcludedResources  []string
	LabelSelector      string
}

// ResourceIdentifier names one Kubernetes object: its group and lower-case
// plural resource (the group is "" for the core API), its namespace ("" for a
// cluster-scoped object) and its name. Its JSON form has no tags, as Velero's
// velero.ResourceIdentifier, so it encodes with capitalised keys in the
// item-operations file (velero-backup-format.md §1.5).
type ResourceIdentifier struct {
	schema.GroupResource
	Namespace string
	Name      string
}

// String returns "resource.group/namespace/name" (namespace omitted for a
// cluster-scoped object), for messages.
func (r ResourceIdentifier) String() string {
	if r.Namespace == "" {
		return r.GroupResource.String() + "/" + r.Name
	}
	return r.GroupResource.String() + "/" + r.Namespace + "/" + r.Name
}

// OperationProgress reports the progress of an asynchronous operation started
// by a v2 action. Started and Updated are the zero time when unknown; on the
// wire they travel as the Unix epoch, as Velero sends them.
type OperationProgress struct {
	Completed      bool   // the operation has ended, successfully or not
	Err            string // non-empty when it ended in failure
	NCompleted     int64  // units done so far
	NTotal         int64  // units in all, 0 when unknown
	OperationUnits string // what a unit is ("bytes", "snapshots")
	Description    string // a human-readable status
	Started        time.Time
	Updated        time.Time
}
