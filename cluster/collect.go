package cluster

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/rigging-dev/rigging/resources"
)

// cohabiting are the resources served under two groups as one set of
// objects, which Velero backs up once (cohabitatingResources in its
// pkg/backup/backup.go): the first of the pair in its discovery order is
// kept, and that is the core group before events.k8s.io and any group
// before extensions (its discovery helper sorts extensions last). Each
// entry maps the left-out group resource to the one kept in its place.
var cohabiting = map[schema.GroupResource]schema.GroupResource{
	{Group: "events.k8s.io", Resource: "events"}:       {Resource: "events"},
	{Group: "extensions", Resource: "deployments"}:     {Group: "apps", Resource: "deployments"},
	{Group: "extensions", Resource: "daemonsets"}:      {Group: "apps", Resource: "daemonsets"},
	{Group: "extensions", Resource: "replicasets"}:     {Group: "apps", Resource: "replicasets"},
	{Group: "extensions", Resource: "networkpolicies"}: {Group: "networking.k8s.io", Resource: "networkpolicies"},
}

// backupVerbs are the verbs a resource must support for Velero to back it
// up (its discovery helper filters on them).
var backupVerbs = []string{"list", "create", "get", "delete"}

// BackupResources returns the resources a backup of the cluster reads, as
// Velero's discovery helper chooses them: each group's preferred version,
// no subresources, only resources that support list, create, get and
// delete, and of a resource served under two groups (events and
// events.events.k8s.io) only the one Velero keeps. They are sorted by
// group, then plural.
func (l *Lookup) BackupResources(ctx context.Context) ([]resources.Resource, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := l.discover(ctx); err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []resources.Resource
	kept := map[schema.GroupResource]bool{}
	for _, r := range l.served {
		if !containsAll(r.verbs, backupVerbs) {
			continue
		}
		out = append(out, r.Resource)
		kept[r.GroupResource()] = true
	}
	out = slices.DeleteFunc(out, func(r resources.Resource) bool {
		instead, ok := cohabiting[r.GroupResource()]
		return ok && kept[instead]
	})
	slices.SortFunc(out, func(a, b resources.Resource) int {
		return cmp.Or(cmp.Compare(a.Group, b.Group), cmp.Compare(a.Plural, b.Plural))
	})
	return out, nil
}

func containsAll(have, want []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}

// CollectOptions narrows what Collect reads.
type CollectOptions struct {
	// Namespaces, when not empty, are the only namespaces whose namespaced
	// objects are read (one list per resource and namespace, as Velero
	// lists included namespaces); cluster-scoped resources are read whole.
	// Empty: every namespace, one list per resource.
	Namespaces []string
}

// Warning is a resource Collect could not read and went on without, as
// Velero records a warning for a resource its credentials may not list.
type Warning struct {
	Resource  resources.Resource
	Namespace string
	Err       error
}

func (w Warning) Error() string { return w.Err.Error() }

func (w Warning) Unwrap() error { return w.Err }

// Collect reads the objects a backup of the cluster starts from: every
// object of BackupResources (in the namespaces of opts), through the
// Lookup, so the plugins that later ask the Lookup about them send no
// request. Objects come resource by resource in BackupResources' order,
// each sorted by namespace and name; the Lookup's objects are shared, not
// copied, and must not be modified.
//
// A resource the API server refuses to list (403 Forbidden) is a Warning
// and the others go on; any other failure (the server gone, the context
// ended) stops Collect with an error naming the resource.
func (l *Lookup) Collect(ctx context.Context, opts CollectOptions) ([]*unstructured.Unstructured, []Warning, error) {
	var out []*unstructured.Unstructured
	warnings, err := l.collect(ctx, opts, func(_ resources.Resource, ref resources.Ref) error {
		obj, err := l.index.Object(ref)
		out = append(out, obj)
		return err
	})
	if err != nil {
		return nil, warnings, err
	}
	return out, warnings, nil
}

// CollectEncoded is Collect with the objects as their JSON, shared with
// the Lookup (not to be modified), for backup.NewInput: a backup of the
// cluster then holds each object once, compactly, and never all of them
// decoded.
func (l *Lookup) CollectEncoded(ctx context.Context, opts CollectOptions) ([]resources.Encoded, []Warning, error) {
	var out []resources.Encoded
	warnings, err := l.collect(ctx, opts, func(r resources.Resource, ref resources.Ref) error {
		out = append(out, resources.Encoded{APIVersion: r.GroupVersionKind().GroupVersion().String(), Kind: r.Kind,
			Namespace: ref.Namespace, Name: ref.Name, JSON: ref.JSON()})
		return nil
	})
	if err != nil {
		return nil, warnings, err
	}
	return out, warnings, nil
}

// collect reads what Collect reads and calls each with every object, in
// Collect's order.
func (l *Lookup) collect(ctx context.Context, opts CollectOptions, each func(resources.Resource, resources.Ref) error) ([]Warning, error) {
	rs, err := l.BackupResources(ctx)
	if err != nil {
		return nil, err
	}
	var warnings []Warning
	for _, r := range rs {
		scopes := []string{""}
		if r.Namespaced && len(opts.Namespaces) > 0 {
			scopes = slices.Sorted(slices.Values(opts.Namespaces))
		}
		for _, ns := range scopes {
			ok, err := l.prepareList(ctx, r.GroupResource(), ns)
			if apierrors.IsForbidden(err) {
				warnings = append(warnings, Warning{Resource: r, Namespace: ns, Err: err})
				continue
			}
			if err != nil {
				return warnings, fmt.Errorf("collect: %w", err)
			}
			if !ok {
				continue
			}
			for _, ref := range l.index.Refs(r.GroupResource(), ns) {
				if err := each(r, ref); err != nil {
					return warnings, fmt.Errorf("collect: %s %s/%s: %w", r.GroupResource(), ref.Namespace, ref.Name, err)
				}
			}
		}
	}
	return warnings, nil
}
