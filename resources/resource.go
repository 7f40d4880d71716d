package resources

import (
	"errors"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Sentinel errors; the errors that wrap them name what was asked for.
var (
	// ErrUnknownKind reports an apiVersion and kind the mapper does not know:
	// neither a built-in type nor one of the CRDs it was given.
	ErrUnknownKind = errors.New("unknown kind")
	// ErrUnknownResource reports a resource name (plural, singular, kind,
	// short name, or "resource.group") the mapper cannot resolve.
	ErrUnknownResource = errors.New("unknown resource")
	// ErrInvalidCRD reports a CustomResourceDefinition that lacks what a
	// mapping needs (group, kind, plural, scope, a served version).
	ErrInvalidCRD = errors.New("invalid CustomResourceDefinition")
)

// Resource is one Kubernetes resource type, as discovery describes it.
type Resource struct {
	// Group is the API group, "" for the core group.
	Group string
	// Version is the preferred version for a resource found by name, and the
	// version that was asked for when found by ForGVK or ForObject.
	Version string
	// Kind is the kind, as in an object's "kind" field ("Deployment").
	Kind string
	// Plural is the lower-case plural resource name ("deployments").
	Plural string
	// Singular is the lower-case singular name ("deployment").
	Singular string
	// ShortNames are the abbreviations kubectl accepts ("deploy"). The slice
	// is shared with the Mapper and must not be modified.
	ShortNames []string
	// Namespaced is false for cluster-scoped resources.
	Namespaced bool
}

// GroupResource returns the group and plural, the name Velero keys resources
// by ("deployments.apps", "pods").
func (r Resource) GroupResource() schema.GroupResource {
	return schema.GroupResource{Group: r.Group, Resource: r.Plural}
}

// GroupVersionKind returns the group, version and kind.
func (r Resource) GroupVersionKind() schema.GroupVersionKind {
	return schema.GroupVersionKind{Group: r.Group, Version: r.Version, Kind: r.Kind}
}

// GroupVersionResource returns the group, version and plural.
func (r Resource) GroupVersionResource() schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: r.Group, Version: r.Version, Resource: r.Plural}
}

// String returns the group resource, "plural.group" or "plural" for the core
// group.
func (r Resource) String() string { return r.GroupResource().String() }
