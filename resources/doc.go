// Package resources maps Kubernetes kinds to API resources and matches items
// against action selectors the way Velero v1.18's host does.
//
// A Mapper is a static REST mapping, with no API server behind it: it knows
// the built-in Kubernetes resource types, the CSI snapshot kinds, Velero's own
// kinds, and the CustomResourceDefinitions it is shown at run time. It turns
// an item's apiVersion and kind into the resource name Velero uses everywhere
// (the lower-case plural and its group, "deployments.apps"), and turns the
// names users and plugins write ("deploy", "Pod", "pvc",
// "volumesnapshots.snapshot.storage.k8s.io") into the same.
//
// CompileSelector turns a rigging.ResourceSelector into a Matcher that decides,
// as Velero's action resolver does, whether an action applies to an item.
// IncludesExcludes is Velero's include/exclude list. Index is an in-memory
// rigging.Lookup over the items a host is processing.
package resources
