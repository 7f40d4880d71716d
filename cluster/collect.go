package cluster

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"

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
	// Lists says how namespaced resources are listed when Namespaces
	// names some. The backup is the same whichever way.
	Lists ListScope
}

// ListScope is how Collect lists the namespaced resources of the included
// namespaces.
type ListScope int

const (
	// ListAuto lists all namespaces at once where that is the cheaper
	// (see ListAllNamespaces): when at least two included namespaces
	// exist and they are at least half of the cluster's namespaces. One
	// list per included namespace costs a request per resource and
	// namespace, most of them answering nothing; one list for all costs a
	// request per page of every namespace's objects, the other namespaces'
	// objects read for nothing. With most namespaces included the second
	// is cheaper by far (20 of 25 namespaces and 35 namespaced resources:
	// 35 lists and a few more pages instead of 700); with few of many, the
	// other namespaces' objects may outweigh the requests saved.
	ListAuto ListScope = iota
	// ListEachNamespace lists each namespaced resource once per included
	// namespace, as Velero does.
	ListEachNamespace
	// ListAllNamespaces lists each namespaced resource once for all
	// namespaces and keeps the objects of the included ones; where the
	// credentials may not list a resource in all namespaces (403
	// Forbidden) it is listed once per included namespace instead.
	ListAllNamespaces
)

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
// decoded. With a spool (LookupOptions.Spool) each Encoded is the object's
// place in it, as Spool.Encode makes them, and its JSON field nil.
func (l *Lookup) CollectEncoded(ctx context.Context, opts CollectOptions) ([]resources.Encoded, []Warning, error) {
	var out []resources.Encoded
	warnings, err := l.collect(ctx, opts, func(r resources.Resource, ref resources.Ref) error {
		out = append(out, ref.Encoded(r.GroupVersionKind().GroupVersion().String(), r.Kind))
		return nil
	})
	if err != nil {
		return nil, warnings, err
	}
	return out, warnings, nil
}

// listConcurrency bounds the lists Collect has in flight at once. They
// share the client's rate limiter (rest.Config QPS and Burst), so the
// limits hold; concurrency only hides each request's round trip and the
// decoding of its answer.
const listConcurrency = 8

// wideList is ListAuto's rule: at least two of included exist among the
// cluster's namespaces all, and they are at least half of them.
func wideList(included []string, all []resources.Ref) bool {
	exist := map[string]bool{}
	for _, ref := range all {
		exist[ref.Name] = true
	}
	k := 0
	for _, ns := range included {
		if exist[ns] {
			k++
		}
	}
	return k >= 2 && 2*k >= len(all)
}

// collectRead is one read of Collect and its outcome: a resource in one
// namespace ("" for all, and for a cluster-scoped resource).
type collectRead struct {
	r   resources.Resource
	ns  string
	ok  bool // false: nothing to list
	err error
}

// collect reads what Collect reads and calls each with every object, in
// Collect's order. The lists run concurrently (listConcurrency); the
// objects are handed over in order once all are read.
func (l *Lookup) collect(ctx context.Context, opts CollectOptions, each func(resources.Resource, resources.Ref) error) ([]Warning, error) {
	rs, err := l.BackupResources(ctx)
	if err != nil {
		return nil, err
	}
	namespaces := slices.Compact(slices.Sorted(slices.Values(opts.Namespaces)))
	wide := opts.Lists == ListAllNamespaces
	if opts.Lists == ListAuto && len(namespaces) > 0 && slices.ContainsFunc(rs, func(r resources.Resource) bool { return r.Namespaced }) {
		// The namespaces are backed up too: listing them first costs no
		// request of its own.
		nsGR := schema.GroupResource{Resource: "namespaces"}
		ok, err := l.prepareList(ctx, nsGR, "")
		if err != nil && !apierrors.IsForbidden(err) {
			return nil, fmt.Errorf("collect: %w", err)
		}
		wide = err == nil && ok && wideList(namespaces, l.index.Refs(nsGR, ""))
	}
	var reads []*collectRead
	var groups []readGroup
	for _, r := range rs {
		if !r.Namespaced || len(namespaces) == 0 {
			rd := &collectRead{r: r}
			reads = append(reads, rd)
			groups = append(groups, readGroup{reads: []*collectRead{rd}})
			continue
		}
		g := readGroup{wide: true}
		for _, ns := range namespaces {
			rd := &collectRead{r: r, ns: ns}
			reads = append(reads, rd)
			if wide {
				g.reads = append(g.reads, rd)
			} else {
				groups = append(groups, readGroup{reads: []*collectRead{rd}})
			}
		}
		if wide {
			groups = append(groups, g)
		}
	}
	if err := l.readAll(ctx, groups); err != nil {
		return nil, err
	}
	var warnings []Warning
	for _, rd := range reads {
		if apierrors.IsForbidden(rd.err) {
			warnings = append(warnings, Warning{Resource: rd.r, Namespace: rd.ns, Err: rd.err})
			continue
		}
		if !rd.ok {
			continue
		}
		for _, ref := range l.index.Refs(rd.r.GroupResource(), rd.ns) {
			if err := each(rd.r, ref); err != nil {
				return warnings, fmt.Errorf("collect: %s %s/%s: %w", rd.r.GroupResource(), ref.Namespace, ref.Name, err)
			}
		}
	}
	return warnings, nil
}

// readGroup is the reads one job of readAll does: one, or, when wide, one
// resource's in several namespaces, read with one list of all namespaces.
type readGroup struct {
	reads []*collectRead
	wide  bool
}

// readAll does every group of reads, listConcurrency groups at a time. A
// wide group whose list of all namespaces is refused (403 Forbidden) reads
// each namespace on its own. A refusal is kept in its read; any other
// failure stops the others and is the error, the first to happen.
func (l *Lookup) readAll(ctx context.Context, groups []readGroup) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	jobs := make(chan readGroup)
	var wg sync.WaitGroup
	for range min(listConcurrency, len(groups)) {
		wg.Go(func() {
			for g := range jobs {
				if err := l.doGroup(ctx, g); err != nil {
					cancel(err)
				}
			}
		})
	}
feed:
	for _, g := range groups {
		select {
		case jobs <- g:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return fmt.Errorf("collect: %w", err)
	}
	return nil
}

// doGroup does one group of readAll, recording each read's outcome; it
// returns the failure that is not a refusal.
func (l *Lookup) doGroup(ctx context.Context, g readGroup) error {
	if g.wide {
		nss := make([]string, len(g.reads))
		for i, rd := range g.reads {
			nss[i] = rd.ns
		}
		err := l.readNamespaces(ctx, g.reads[0].r.GroupResource(), nss)
		if err == nil {
			for _, rd := range g.reads {
				rd.ok = true
			}
			return nil
		}
		if !apierrors.IsForbidden(err) {
			return err
		}
		// Credentials that may not list all namespaces may still list
		// each included one.
	}
	for _, rd := range g.reads {
		rd.ok, rd.err = l.prepareList(ctx, rd.r.GroupResource(), rd.ns)
		if rd.err != nil && !apierrors.IsForbidden(rd.err) {
			return rd.err
		}
	}
	return nil
}
