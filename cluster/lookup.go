// Package cluster reads a live Kubernetes cluster through its API server
// (client-go), for hosts that back up from one or restore into one, and
// writes the objects of a restore into it (Applier).
//
// Lookup is the rigging.Lookup such a host puts in the context of the
// plugins it calls (rigging.WithLookup): the objects the built-in actions
// relate an item to (the pods that mount a claim, the bindings of a service
// account) come from the API server, read once per resource and namespace
// and answered from memory after that.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/pager"
	"k8s.io/client-go/util/flowcontrol"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/internal/ujson"
	"github.com/rigging-dev/rigging/resources"
)

// DefaultPageSize is the number of objects per list request when
// LookupOptions.PageSize is 0: Velero's default client page size.
const DefaultPageSize = 500

// maxListAttempts bounds the restarts of a list whose continue token
// expired.
const maxListAttempts = 3

// discoveryTimeout bounds a discovery request when the rest.Config has no
// timeout of its own, besides the context of the question that caused it.
const discoveryTimeout = 30 * time.Second

// ErrGroupUnavailable reports a resource of an API group whose discovery
// failed (an aggregated API server that does not answer): the Lookup cannot
// tell whether it exists, so it answers with an error instead of nothing.
var ErrGroupUnavailable = errors.New("API group unavailable")

// LookupOptions tunes a Lookup. The zero value is Velero's behaviour.
// Lists are retried as client-go retries (429 and 5xx answers with
// Retry-After, dropped connections of a GET), and a list whose continue
// token expired (410) starts again, up to 3 times.
type LookupOptions struct {
	// PageSize is the number of objects per list request (the limit and
	// continue of the list API). 0 means DefaultPageSize; a negative value
	// lists each resource in one request.
	PageSize int64
	// Spool, when not nil, holds the JSON of every object the Lookup
	// lists, written as each page is decoded: the Lookup then keeps only
	// each object's place in it (and CollectEncoded hands out those
	// places), not its JSON. It must stay open while the Lookup and what
	// CollectEncoded returned are used; the caller closes it. A failed
	// write or read of the spool is an error naming the resource, and
	// ErrSpoolClosed once it is closed. Fetch does not use it.
	Spool *resources.Spool
}

// Lookup is a rigging.Lookup (and a resources.IndexedLookup) backed by an
// API server. It reads each resource of a namespace once, with paginated
// lists, at the first question about it (a cluster-scoped resource, or a
// question about every namespace, reads all of the resource at once), and
// answers every later question from what it read: the answers are those of
// a resources.Index holding the same objects. A Lookup lives as long as one
// backup or restore; it sees changes made to the cluster after it read a
// resource only for resources and namespaces it reads later.
//
// Resources are named by group and plural, served in the version the API
// server prefers. A resource the server does not serve has no objects (Get
// is rigging.ErrNotFound, List is empty), as in a Lookup over manifests that
// hold none; a resource of a group whose discovery failed is an error
// wrapping ErrGroupUnavailable, and a failed list is an error naming the
// resource and namespace: the Lookup never answers "nothing" for a
// question it could not ask.
//
// A Lookup is safe for concurrent use; concurrent questions about the same
// resource wait for one read.
type Lookup struct {
	dyn      dynamic.Interface
	disc     rest.Interface // the discovery paths
	lister   rest.Interface // the lists of read, answered as raw JSON
	pageSize int64
	// index holds what was read as its JSON (decoded when asked): a
	// backup of a large cluster holds its objects compactly, in memory or
	// in spool (LookupOptions.Spool; nil: in memory).
	index *resources.JSONIndex
	spool *resources.Spool

	// discoverMu serialises discovery; mu guards the fields below it.
	discoverMu sync.Mutex
	mu         sync.Mutex
	served     map[schema.GroupResource]servedResource
	failed     map[string]error // API group -> why its discovery failed
	discovered bool
	// started numbers the discovery runs in the order they start;
	// succeeded is the number of the latest run that succeeded.
	started, succeeded uint64
	// absent holds the resources found missing by a discovery run after
	// they were first asked for: not asked again.
	absent map[schema.GroupResource]bool
	reads  map[scope]*read
	// versions serves OtherVersions.
	versions versions
	// requests counts what was sent (nil: not counted).
	requests *RequestCounter
}

// servedResource is a resource as discovery reports it.
type servedResource struct {
	resources.Resource
	verbs []string
}

func (r servedResource) listable() bool { return slices.Contains(r.verbs, "list") }

// scope is one read: a resource in one namespace, or in all ("").
type scope struct {
	gr        schema.GroupResource
	namespace string
}

// read is a list of one scope, done or in progress.
type read struct {
	done chan struct{}
	err  error
}

// NewLookup returns a Lookup that reads the API server of cfg. It makes no
// request until it is asked a question.
func NewLookup(cfg *rest.Config, opts LookupOptions) (*Lookup, error) {
	counter := &RequestCounter{}
	cfg = rest.CopyConfig(cfg)
	cfg.Wrap(counter.Wrap)
	disc, err := newDiscoveryClient(cfg)
	if err != nil {
		return nil, fmt.Errorf("cluster lookup: %w", err)
	}
	// The lists and the GETs share one rate limiter: together they keep
	// to cfg's QPS and burst, as one client-go client would.
	if cfg.RateLimiter == nil && cfg.QPS >= 0 {
		qps, burst := cfg.QPS, cfg.Burst
		if qps == 0 {
			qps = rest.DefaultQPS
		}
		if burst == 0 {
			burst = rest.DefaultBurst
		}
		cfg.RateLimiter = flowcontrol.NewTokenBucketRateLimiter(qps, burst)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("cluster lookup: %w", err)
	}
	lister, err := newRawClient(cfg)
	if err != nil {
		return nil, fmt.Errorf("cluster lookup: %w", err)
	}
	l := newLookup(dyn, disc, opts)
	l.lister, l.requests = lister, counter
	return l, nil
}

// Requests returns the requests the Lookup sent to the API server so far,
// by verb and resource (each attempt of a retried request counted). A
// Lookup not made by NewLookup counts none.
func (l *Lookup) Requests() RequestCounts {
	if l.requests == nil {
		return RequestCounts{}
	}
	return l.requests.Counts()
}

func newLookup(dyn dynamic.Interface, disc rest.Interface, opts LookupOptions) *Lookup {
	size := opts.PageSize
	switch {
	case size == 0:
		size = DefaultPageSize
	case size < 0:
		size = 0
	}
	return &Lookup{
		dyn:      dyn,
		disc:     disc,
		pageSize: size,
		index:    resources.NewJSONIndex(resources.NewMapper(), resources.JSONIndexOptions{Spool: opts.Spool}),
		spool:    opts.Spool,
		absent:   map[schema.GroupResource]bool{},
		reads:    map[scope]*read{},
	}
}

// Get implements rigging.Lookup.
func (l *Lookup) Get(ctx context.Context, gr schema.GroupResource, namespace, name string) (*unstructured.Unstructured, error) {
	r, ok, err := l.resolve(ctx, gr)
	if err != nil {
		return nil, err
	}
	// Where the manifest Index can hold no such object (a resource nobody
	// serves, a namespace for a cluster-scoped resource or none for a
	// namespaced one), there is nothing to read.
	if ok && r.Namespaced == (namespace != "") {
		if err := l.ensureRead(ctx, r, namespace); err != nil {
			return nil, err
		}
	}
	return l.index.Get(ctx, gr, namespace, name)
}

// List implements rigging.Lookup.
func (l *Lookup) List(ctx context.Context, gr schema.GroupResource, namespace string) ([]*unstructured.Unstructured, error) {
	ok, err := l.prepareList(ctx, gr, namespace)
	if err != nil || !ok {
		return nil, err
	}
	return l.index.List(ctx, gr, namespace)
}

// Fetch reads one object afresh from the API server (a GET in the version
// the server prefers), as Velero gets an additional item: not from what
// the Lookup read, which it neither uses nor changes. An object that does
// not exist, or of a resource the server does not serve, is an error
// wrapping rigging.ErrNotFound; any other failure is an error naming the
// object.
func (l *Lookup) Fetch(ctx context.Context, gr schema.GroupResource, namespace, name string) (*unstructured.Unstructured, error) {
	r, ok, err := l.resolve(ctx, gr)
	if err != nil {
		return nil, err
	}
	id := rigging.ResourceIdentifier{GroupResource: gr, Namespace: namespace, Name: name}
	if !ok || r.Namespaced != (namespace != "") {
		return nil, fmt.Errorf("cluster lookup: get %s: %w", id, rigging.ErrNotFound)
	}
	var ri dynamic.ResourceInterface = l.dyn.Resource(r.GroupVersionResource())
	if r.Namespaced {
		ri = l.dyn.Resource(r.GroupVersionResource()).Namespace(namespace)
	}
	obj, err := ri.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("cluster lookup: get %s: %w: %w", id, rigging.ErrNotFound, err)
	}
	if err != nil {
		return nil, fmt.Errorf("cluster lookup: get %s: %w", id, err)
	}
	return obj, nil
}

// ListByIndex implements resources.IndexedLookup: the secondary index is
// built from what the Lookup read, once per read.
func (l *Lookup) ListByIndex(ctx context.Context, gr schema.GroupResource, namespace, index string, fn resources.IndexFunc, value string) ([]*unstructured.Unstructured, error) {
	ok, err := l.prepareList(ctx, gr, namespace)
	if err != nil || !ok {
		return nil, err
	}
	return l.index.ListByIndex(ctx, gr, namespace, index, fn, value)
}

// prepareList reads what a list of gr in namespace needs; false means
// there is nothing to list.
func (l *Lookup) prepareList(ctx context.Context, gr schema.GroupResource, namespace string) (bool, error) {
	r, ok, err := l.resolve(ctx, gr)
	if err != nil || !ok {
		return false, err
	}
	if !r.Namespaced && namespace != "" {
		return false, nil
	}
	return true, l.ensureRead(ctx, r, namespace)
}

// resolve returns how the API server serves gr, discovering it at first
// use; false means it is not served.
func (l *Lookup) resolve(ctx context.Context, gr schema.GroupResource) (servedResource, bool, error) {
	if err := ctx.Err(); err != nil {
		return servedResource{}, false, err
	}
	l.mu.Lock()
	r, ok := l.served[gr]
	known := l.discovered && (ok || l.absent[gr])
	seen := l.succeeded
	l.mu.Unlock()
	if !known {
		// First question, or a resource unseen so far that a CRD created
		// since the last discovery may serve: discover (again).
		if err := l.discoverAfter(ctx, seen); err != nil {
			return servedResource{}, false, err
		}
		l.mu.Lock()
		r, ok = l.served[gr]
		if !ok {
			l.absent[gr] = true
		}
		l.mu.Unlock()
	}
	if !ok {
		l.mu.Lock()
		why := l.failed[gr.Group]
		l.mu.Unlock()
		if why != nil {
			return servedResource{}, false, fmt.Errorf("cluster lookup: %s: %w: %w", gr, ErrGroupUnavailable, why)
		}
		return servedResource{}, false, nil
	}
	if !r.listable() {
		return servedResource{}, false, fmt.Errorf("cluster lookup: %s: the API server does not list this resource", gr)
	}
	return r, true, nil
}

// discover asks the API server for its preferred resources, always: it
// waits for a discovery in progress, then makes its own.
func (l *Lookup) discover(ctx context.Context) error {
	l.mu.Lock()
	seen := l.started
	l.mu.Unlock()
	return l.discoverAfter(ctx, seen)
}

// discoverAfter asks the API server for its preferred resources unless a
// discovery numbered above seen succeeded meanwhile: resolve passes the
// number of the latest successful one when it looked, so that workers
// whose first questions come together, or while a discovery is in
// progress, share that discovery instead of each making one.
func (l *Lookup) discoverAfter(ctx context.Context, seen uint64) error {
	l.discoverMu.Lock()
	defer l.discoverMu.Unlock()
	l.mu.Lock()
	if l.succeeded > seen {
		l.mu.Unlock()
		return nil
	}
	l.started++
	run := l.started
	l.mu.Unlock()
	d, err := discoverAPI(ctx, l.disc)
	if err != nil {
		return fmt.Errorf("cluster lookup: discovery: %w", err)
	}
	failed := map[string]error{}
	for gv, e := range d.failed {
		failed[gv.Group] = e
	}
	served := d.preferred()
	l.mu.Lock()
	l.served, l.failed, l.discovered, l.succeeded = served, failed, true, run
	l.mu.Unlock()
	return nil
}

// ensureRead makes sure the objects of r in namespace ("" for all, and for
// a cluster-scoped resource) are in the index: read by an earlier call (of
// this namespace or of all), or read now.
func (l *Lookup) ensureRead(ctx context.Context, r servedResource, namespace string) error {
	gr := r.GroupResource()
	for {
		l.mu.Lock()
		rd, ok := l.reads[scope{gr: gr}]
		if !ok && namespace != "" {
			rd, ok = l.reads[scope{gr, namespace}]
		}
		if !ok {
			rd = &read{done: make(chan struct{})}
			s := scope{gr, namespace}
			l.reads[s] = rd
			l.mu.Unlock()
			rd.err = l.read(ctx, r, namespace, nil)
			if rd.err != nil {
				// Not kept: a later question asks again.
				l.mu.Lock()
				delete(l.reads, s)
				l.mu.Unlock()
			}
			close(rd.done)
			return rd.err
		}
		l.mu.Unlock()
		select {
		case <-rd.done:
		case <-ctx.Done():
			return ctx.Err()
		}
		// The reader's own context may have ended its read: then read
		// with this one.
		if rd.err == nil || !isContextErr(rd.err) || ctx.Err() != nil {
			return rd.err
		}
	}
}

func isContextErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// readNamespaces makes sure the objects of gr in each of namespaces are in
// the index, as ensureRead of each would, with one list of all namespaces
// whose objects outside those namespaces are dropped: afterwards each of
// them counts as read on its own, and a question about another namespace
// lists that one. Namespaces already read, or being read, are not read
// again. The list's failure (a refusal to list all namespaces included) is
// returned and no namespace counts as read.
func (l *Lookup) readNamespaces(ctx context.Context, gr schema.GroupResource, namespaces []string) error {
	r, ok, err := l.resolve(ctx, gr)
	if err != nil || !ok {
		return err
	}
	if !r.Namespaced {
		return l.ensureRead(ctx, r, "")
	}
	l.mu.Lock()
	claimed := map[string]*read{}
	var others []string
	if _, all := l.reads[scope{gr: gr}]; all {
		others = namespaces
	} else {
		for _, ns := range namespaces {
			if _, ok := l.reads[scope{gr, ns}]; ok {
				others = append(others, ns)
				continue
			}
			rd := &read{done: make(chan struct{})}
			l.reads[scope{gr, ns}] = rd
			claimed[ns] = rd
		}
	}
	l.mu.Unlock()
	if len(claimed) > 0 {
		err := l.read(ctx, r, "", func(ns string) bool { return claimed[ns] != nil })
		l.mu.Lock()
		for ns, rd := range claimed {
			rd.err = err
			if err != nil {
				delete(l.reads, scope{gr, ns})
			}
		}
		l.mu.Unlock()
		for _, rd := range claimed {
			close(rd.done)
		}
		if err != nil {
			return err
		}
	}
	for _, ns := range others {
		if err := l.ensureRead(ctx, r, ns); err != nil {
			return err
		}
	}
	return nil
}

// read lists r in namespace ("" for all), page by page, into the index,
// keeping of a list of all namespaces only the objects whose namespace
// only accepts (all of them when only is nil). Each object is kept as its
// JSON as it comes (in the Lookup's spool when it has one): the decoded
// objects of one page at most are held at once.
func (l *Lookup) read(ctx context.Context, r servedResource, namespace string, only func(namespace string) bool) error {
	where := "all namespaces"
	if r.Namespaced && namespace != "" {
		where = "namespace " + namespace
	} else if !r.Namespaced {
		where = "the cluster"
		namespace = ""
	}
	encode := resources.Encode
	if l.spool != nil {
		encode = l.spool.Encode
	}
	var objs []resources.Encoded
	err := l.listRaw(ctx, r.GroupVersionResource(), namespace, func() { objs = objs[:0] }, func(u *unstructured.Unstructured) error {
		if only != nil && !only(u.GetNamespace()) {
			return nil
		}
		e, err := encode(u)
		if err != nil {
			return err
		}
		objs = append(objs, e)
		return nil
	})
	if err != nil {
		return fmt.Errorf("cluster lookup: list %s in %s: %w", r.GroupResource(), where, err)
	}
	l.teach(r.Resource)
	if err := l.index.AddEncoded(objs...); err != nil {
		return fmt.Errorf("cluster lookup: %s in %s: %w", r.GroupResource(), where, err)
	}
	return nil
}

// listRaw is listAll of gvr in namespace ("" for all) through the
// Lookup's raw client: each page's JSON is decoded by ujson, which builds
// the same objects as the dynamic client's decoder (an item without kind
// and apiVersion takes its list's, as unstructured's list decoding does)
// at a fraction of its CPU time, the largest cost of a backup's reading
// where the API server is near.
func (l *Lookup) listRaw(ctx context.Context, gvr schema.GroupVersionResource, namespace string, reset func(), keep func(*unstructured.Unstructured) error) error {
	if l.lister == nil {
		var ri dynamic.ResourceInterface = l.dyn.Resource(gvr)
		if namespace != "" {
			ri = l.dyn.Resource(gvr).Namespace(namespace)
		}
		return l.listAll(ctx, ri, metav1.ListOptions{}, reset, keep)
	}
	path := "/apis/" + gvr.Group + "/" + gvr.Version
	if gvr.Group == "" {
		path = "/api/" + gvr.Version
	}
	if namespace != "" {
		path += "/namespaces/" + namespace
	}
	path += "/" + gvr.Resource
	for attempt := 1; ; attempt++ {
		reset()
		err := l.listPages(ctx, path, keep)
		// As in listAll: an expired continue token starts the list again.
		if !apierrors.IsResourceExpired(err) || attempt == maxListAttempts {
			return err
		}
	}
}

// listPages gets the list at path page by page and hands each item to
// keep.
func (l *Lookup) listPages(ctx context.Context, path string, keep func(*unstructured.Unstructured) error) error {
	cont := ""
	for {
		req := l.lister.Get().AbsPath(path)
		if l.pageSize > 0 {
			req = req.Param("limit", strconv.FormatInt(l.pageSize, 10))
		}
		if cont != "" {
			req = req.Param("continue", cont)
		}
		res := req.Do(ctx)
		body, err := res.Raw()
		if err != nil {
			// The API server's Status, with its reason and message.
			return res.Error()
		}
		page, err := ujson.Unmarshal(body)
		if err != nil {
			return fmt.Errorf("list answer: %w", err)
		}
		apiVersion, _ := page["apiVersion"].(string)
		kind, _ := page["kind"].(string)
		items, ok := page["items"].([]any)
		if !ok && page["items"] != nil {
			return fmt.Errorf("list answer: items of type %T", page["items"])
		}
		for i, it := range items {
			obj, ok := it.(map[string]any)
			if !ok {
				return fmt.Errorf("list answer: item %d of type %T", i, it)
			}
			u := &unstructured.Unstructured{Object: obj}
			if u.GetKind() == "" && u.GetAPIVersion() == "" {
				u.SetKind(strings.TrimSuffix(kind, "List"))
				u.SetAPIVersion(apiVersion)
			}
			if err := keep(u); err != nil {
				return err
			}
		}
		cont, _, _ = unstructured.NestedString(page, "metadata", "continue")
		if cont == "" {
			return nil
		}
	}
}

// listAll lists ri page by page (the Lookup's page size), handing each
// object to keep as it comes, and starts again when the continue token
// expired, up to maxListAttempts times: reset is called before each
// attempt, as the objects kept so far are to be dropped.
func (l *Lookup) listAll(ctx context.Context, ri dynamic.ResourceInterface, opts metav1.ListOptions, reset func(), keep func(*unstructured.Unstructured) error) error {
	p := pager.New(func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
		return ri.List(ctx, opts)
	})
	p.PageSize = l.pageSize
	var err error
	for attempt := 1; ; attempt++ {
		reset()
		err = p.EachListItem(ctx, opts, func(obj runtime.Object) error {
			u, ok := obj.(*unstructured.Unstructured)
			if !ok {
				return fmt.Errorf("list item of type %T", obj)
			}
			return keep(u)
		})
		// A continue token the server no longer honours (410 Expired,
		// etcd compacted past it) restarts the list: the pages read so
		// far may no longer agree with the next ones.
		if !apierrors.IsResourceExpired(err) || attempt == maxListAttempts {
			return err
		}
	}
}

// teach makes the index's mapper map r's kind to r, as the API server does
// (custom resources are not among the mapper's built-ins).
func (l *Lookup) teach(r resources.Resource) {
	m := l.index.Mapper()
	if known, err := m.ForGVK(r.GroupVersionKind()); err == nil && known.GroupResource() == r.GroupResource() && known.Namespaced == r.Namespaced {
		return
	}
	m.Add(r)
}

var (
	_ rigging.Lookup          = (*Lookup)(nil)
	_ resources.IndexedLookup = (*Lookup)(nil)
)
