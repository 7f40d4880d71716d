package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/builtin/pvc"
	"github.com/rigging-dev/rigging/builtin/secret"
	"github.com/rigging-dev/rigging/builtin/serviceaccount"
	"github.com/rigging-dev/rigging/cluster"
	"github.com/rigging-dev/rigging/internal/testcluster"
	"github.com/rigging-dev/rigging/resources"
)

func TestMain(m *testing.M) {
	os.Exit(testcluster.Main(m, testcluster.Options{Seed: []string{testcluster.ClusterExport}}))
}

var (
	grPods     = schema.GroupResource{Resource: "pods"}
	grPVCs     = schema.GroupResource{Resource: "persistentvolumeclaims"}
	grSAs      = schema.GroupResource{Resource: "serviceaccounts"}
	grSecrets  = schema.GroupResource{Resource: "secrets"}
	grBackups  = schema.GroupResource{Group: "velero.io", Resource: "backups"}
	grFeatures = schema.GroupResource{Group: "shop.example.com", Resource: "featureflags"}
)

// queried are the resources the built-ins look up (pods, claims, volumes,
// storage classes, RBAC bindings and roles, service accounts, Velero
// backups, snapshots), and others of every shape: namespaced and
// cluster-scoped, built-in, CRD-defined and not served at all.
var queried = []schema.GroupResource{
	grPods, grPVCs, grSAs, grSecrets, grBackups, grFeatures,
	{Resource: "persistentvolumes"},
	{Resource: "configmaps"},
	{Resource: "nodes"},
	{Group: "storage.k8s.io", Resource: "storageclasses"},
	{Group: "rbac.authorization.k8s.io", Resource: "clusterrolebindings"},
	{Group: "rbac.authorization.k8s.io", Resource: "clusterroles"},
	{Group: "rbac.authorization.k8s.io", Resource: "rolebindings"},
	{Group: "scheduling.k8s.io", Resource: "priorityclasses"},
	{Group: "apps", Resource: "deployments"},
	{Group: "snapshot.storage.k8s.io", Resource: "volumesnapshots"},
	{Group: "snapshot.storage.k8s.io", Resource: "volumesnapshotcontents"},
	{Group: "snapshot.storage.k8s.io", Resource: "volumesnapshotclasses"},
	{Group: "apiextensions.k8s.io", Resource: "customresourcedefinitions"},
}

var namespaces = []string{"", "shop", "monitoring", "kube-system", "default", "no-such-namespace"}

// countingConfig returns the cluster's admin config with a counter of the
// list requests it sends, per resource path.
func countingConfig(c *testcluster.Cluster) (*rest.Config, *requestCounter) {
	cfg := c.Config()
	rc := &requestCounter{byPath: map[string]int{}}
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(req *http.Request) (*http.Response, error) {
			rc.add(req)
			return rt.RoundTrip(req)
		})
	})
	return cfg, rc
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

type requestCounter struct {
	mu     sync.Mutex
	byPath map[string]int
	total  atomic.Int64
}

func (rc *requestCounter) add(req *http.Request) {
	rc.total.Add(1)
	rc.mu.Lock()
	rc.byPath[req.URL.Path]++
	rc.mu.Unlock()
}

func (rc *requestCounter) get(path string) int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.byPath[path]
}

// reference lists every resource of queried straight from the API server,
// in one request each, into a manifest Lookup (resources.Index): the
// answers the cluster Lookup must give.
func reference(t *testing.T, cfg *rest.Config) *resources.Index {
	t.Helper()
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	lists, err := discovery.ServerPreferredResources(dc)
	if err != nil {
		t.Fatal(err)
	}
	ix := resources.NewIndex(nil)
	var crds, objs []*unstructured.Unstructured
	for _, list := range lists {
		gv, err := schema.ParseGroupVersion(list.GroupVersion)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range list.APIResources {
			gr := schema.GroupResource{Group: gv.Group, Resource: r.Name}
			if !slices.Contains(queried, gr) {
				continue
			}
			ul, err := dyn.Resource(gv.WithResource(r.Name)).List(context.Background(), metav1.ListOptions{})
			if err != nil {
				t.Fatalf("list %s: %v", gr, err)
			}
			for i := range ul.Items {
				if resources.IsCRD(&ul.Items[i]) {
					crds = append(crds, &ul.Items[i])
				} else {
					objs = append(objs, &ul.Items[i])
				}
			}
		}
	}
	// The CRDs first, so that the index maps their custom resources.
	if err := ix.Add(crds...); err != nil {
		t.Fatal(err)
	}
	if err := ix.Add(objs...); err != nil {
		t.Fatal(err)
	}
	return ix
}

// answer is what a Lookup said: names (namespace/name, in order) or an
// error's identity.
type answer struct {
	names    []string
	notFound bool
	err      string
}

func answerOf(objs []*unstructured.Unstructured, err error) answer {
	if err != nil {
		if errors.Is(err, rigging.ErrNotFound) {
			return answer{notFound: true, err: err.Error()}
		}
		return answer{err: err.Error()}
	}
	a := answer{names: []string{}}
	for _, o := range objs {
		a.names = append(a.names, o.GetNamespace()+"/"+o.GetName()+"@"+o.GetResourceVersion())
	}
	return a
}

func one(obj *unstructured.Unstructured, err error) answer {
	if err != nil {
		return answerOf(nil, err)
	}
	return answerOf([]*unstructured.Unstructured{obj}, nil)
}

// byNode indexes pods by node; it fails on a pod of namespace monitoring
// named prometheus-0, so that the error path of ListByIndex is compared
// too.
func byNode(obj *unstructured.Unstructured) ([]string, error) {
	if obj.GetNamespace() == "monitoring" && obj.GetName() == "prometheus-0" {
		return nil, errors.New("prometheus-0 refused")
	}
	n, _, _ := unstructured.NestedString(obj.Object, "spec", "nodeName")
	return []string{n}, nil
}

// TestLookupMatchesManifestLookup: on the objects of the seeded
// cluster-export, the cluster Lookup answers every query the built-ins make
// (and Get, List and ListByIndex over resources of every shape, namespaces
// that hold objects and namespaces that do not, names that exist and names
// that do not) exactly as the manifest Lookup does, with paginated and
// unpaginated reads, and the built-in actions that use a Lookup give the
// same results with either.
func TestLookupMatchesManifestLookup(t *testing.T) {
	c := testcluster.Get(t)
	want := reference(t, c.Config())
	ctx := context.Background()

	for _, pageSize := range []int64{0, 2, -1} {
		t.Run(fmt.Sprintf("page size %d", pageSize), func(t *testing.T) {
			cfg, _ := countingConfig(c)
			got, err := cluster.NewLookup(cfg, cluster.LookupOptions{PageSize: pageSize})
			if err != nil {
				t.Fatal(err)
			}
			compared := 0
			for _, gr := range queried {
				all, err := want.List(ctx, gr, "")
				if err != nil {
					t.Fatal(err)
				}
				for _, ns := range namespaces {
					w, g := answerOf(want.List(ctx, gr, ns)), answerOf(got.List(ctx, gr, ns))
					if !reflect.DeepEqual(w, g) {
						t.Errorf("List(%s, %q) = %+v, want %+v", gr, ns, g, w)
					}
					w, g = answerOf(want.ListByIndex(ctx, gr, ns, "by-node", byNode, "ip-10-0-1-23.eu-west-1.compute.internal")),
						answerOf(got.ListByIndex(ctx, gr, ns, "by-node", byNode, "ip-10-0-1-23.eu-west-1.compute.internal"))
					if !reflect.DeepEqual(w, g) {
						t.Errorf("ListByIndex(%s, %q, by-node) = %+v, want %+v", gr, ns, g, w)
					}
					for _, name := range []string{"no-such-object", "kube-system"} {
						w, g := one(want.Get(ctx, gr, ns, name)), one(got.Get(ctx, gr, ns, name))
						if !reflect.DeepEqual(w, g) {
							t.Errorf("Get(%s, %q, %q) = %+v, want %+v", gr, ns, name, g, w)
						}
					}
					compared += 3
				}
				for _, o := range all {
					// In its namespace, and in the wrong scope.
					for _, ns := range []string{o.GetNamespace(), "shop", ""} {
						w, g := one(want.Get(ctx, gr, ns, o.GetName())), one(got.Get(ctx, gr, ns, o.GetName()))
						if !reflect.DeepEqual(w, g) {
							t.Errorf("Get(%s, %q, %q) = %+v, want %+v", gr, ns, o.GetName(), g, w)
						}
						compared++
					}
				}
			}
			compareBuiltins(t, want, got)
			t.Logf("%d queries compared", compared)
		})
	}
}

// compareBuiltins runs the built-in actions that consult a Lookup on every
// item they apply to, once with each Lookup in the context, and compares
// what they return.
func compareBuiltins(t *testing.T, want, got rigging.Lookup) {
	t.Helper()
	type call struct {
		gr  schema.GroupResource
		run func(ctx context.Context, item *unstructured.Unstructured) (any, error)
	}
	calls := []call{
		{grPVCs, func(ctx context.Context, item *unstructured.Unstructured) (any, error) {
			return (&pvc.ItemBlockAction{}).GetRelatedItems(ctx, item, &rigging.Backup{})
		}},
		{grSAs, func(ctx context.Context, item *unstructured.Unstructured) (any, error) {
			_, related, err := (&serviceaccount.BackupAction{}).Execute(ctx, item, &rigging.Backup{})
			return related, err
		}},
		{grSAs, func(ctx context.Context, item *unstructured.Unstructured) (any, error) {
			return (&serviceaccount.ItemBlockAction{}).GetRelatedItems(ctx, item, &rigging.Backup{})
		}},
		{grSecrets, func(ctx context.Context, item *unstructured.Unstructured) (any, error) {
			out, err := (&secret.RestoreAction{}).Execute(ctx, &rigging.RestoreItemActionExecuteInput{Item: item, ItemFromBackup: item, Restore: &rigging.Restore{}})
			if err != nil {
				return nil, err
			}
			return out.SkipRestore, nil
		}},
	}
	wctx, gctx := rigging.WithLookup(context.Background(), want), rigging.WithLookup(context.Background(), got)
	ran := 0
	for _, c := range calls {
		items, err := want.List(context.Background(), c.gr, "")
		if err != nil || len(items) == 0 {
			t.Fatalf("no %s to run the built-ins on (%v)", c.gr, err)
		}
		for _, item := range items {
			w, werr := c.run(wctx, item)
			g, gerr := c.run(gctx, item)
			if !reflect.DeepEqual(w, g) || fmt.Sprint(werr) != fmt.Sprint(gerr) {
				t.Errorf("%s %s/%s: with the cluster Lookup %v, %v; with the manifest Lookup %v, %v", c.gr, item.GetNamespace(), item.GetName(), g, gerr, w, werr)
			}
			ran++
		}
	}
	t.Logf("%d built-in calls compared", ran)
}

// TestLookupReadsOnce: each resource of a namespace is read once, page by
// page; later questions about it, and about any namespace once every
// namespace was read, send no request.
func TestLookupReadsOnce(t *testing.T) {
	c := testcluster.Get(t)
	ctx := context.Background()
	cfg, rc := countingConfig(c)
	l, err := cluster.NewLookup(cfg, cluster.LookupOptions{PageSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	const shopPods = "/api/v1/namespaces/shop/pods"
	pods, err := l.List(ctx, grPods, "shop")
	if err != nil {
		t.Fatal(err)
	}
	pages := (len(pods) + 1) / 2
	if len(pods) < 3 || rc.get(shopPods) != pages {
		t.Fatalf("%d pods of shop read in %d requests, want %d (page size 2)", len(pods), rc.get(shopPods), pages)
	}
	before := rc.total.Load()
	for range 3 {
		if _, err := l.Get(ctx, grPods, "shop", pods[0].GetName()); err != nil {
			t.Fatal(err)
		}
		if _, err := l.Get(ctx, grPods, "shop", "no-such-pod"); !errors.Is(err, rigging.ErrNotFound) {
			t.Fatalf("Get of a missing pod = %v, want ErrNotFound", err)
		}
		if _, err := l.ListByIndex(ctx, grPods, "shop", "by-node", byNode, "x"); err != nil {
			t.Fatal(err)
		}
	}
	if n := rc.total.Load() - before; n != 0 {
		t.Errorf("%d requests for questions about what was read", n)
	}

	// Every namespace: one read, then any namespace is answered from it.
	if _, err := l.List(ctx, grPVCs, ""); err != nil {
		t.Fatal(err)
	}
	before = rc.total.Load()
	for _, ns := range namespaces {
		if _, err := l.List(ctx, grPVCs, ns); err != nil {
			t.Fatal(err)
		}
	}
	if n := rc.total.Load() - before; n != 0 {
		t.Errorf("%d requests for namespaces of a resource read in all of them", n)
	}

	// Concurrent first questions about one resource share one read.
	before = rc.total.Load()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, err := l.List(ctx, grSAs, "monitoring"); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	sas, _ := l.List(ctx, grSAs, "monitoring")
	if n, want := rc.total.Load()-before, int64((len(sas)+1)/2); n != want {
		t.Errorf("8 concurrent first lists of %d service accounts sent %d requests, want %d", len(sas), n, want)
	}
}

// TestLookupConcurrentFirstQuestions: on a new Lookup, workers asking at
// once about the same resource (Get, List, ListByIndex) wait for one
// discovery and one read: together they send as many requests as one
// List alone on another new Lookup.
func TestLookupConcurrentFirstQuestions(t *testing.T) {
	c := testcluster.Get(t)
	ctx := context.Background()
	newLookup := func() (*cluster.Lookup, *requestCounter) {
		cfg, rc := countingConfig(c)
		l, err := cluster.NewLookup(cfg, cluster.LookupOptions{PageSize: 2})
		if err != nil {
			t.Fatal(err)
		}
		return l, rc
	}
	one, rcOne := newLookup()
	pods, err := one.List(ctx, grPods, "shop")
	if err != nil {
		t.Fatal(err)
	}
	want := rcOne.total.Load()

	questions := []func(l *cluster.Lookup) error{
		func(l *cluster.Lookup) error { _, err := l.List(ctx, grPods, "shop"); return err },
		func(l *cluster.Lookup) error { _, err := l.Get(ctx, grPods, "shop", pods[0].GetName()); return err },
		func(l *cluster.Lookup) error {
			_, err := l.ListByIndex(ctx, grPods, "shop", "by-node", byNode, "x")
			return err
		},
	}
	const workers = 8
	for round := range 3 {
		l, rc := newLookup()
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range workers {
			wg.Go(func() {
				<-start
				if err := questions[i%len(questions)](l); err != nil {
					t.Error(err)
				}
			})
		}
		close(start)
		wg.Wait()
		if n := rc.total.Load(); n != want {
			t.Errorf("round %d: %d workers' first questions about pods of shop sent %d requests, want %d (one discovery, one read)", round, workers, n, want)
		}
	}
}

// TestLookupErrors: a question the API server refuses is an error naming
// the resource and namespace (never an empty answer), and is asked again
// next time; a resource nobody serves holds nothing; a cancelled context
// ends the question.
func TestLookupErrors(t *testing.T) {
	c := testcluster.Get(t)
	ctx := context.Background()

	// An identity RBAC grants nothing: every list is 403.
	cfg := c.Config()
	cfg.Impersonate = rest.ImpersonationConfig{UserName: "nobody"}
	l, err := cluster.NewLookup(cfg, cluster.LookupOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		run  func() error
		want []string
	}{
		{"list", func() error { _, err := l.List(ctx, grPods, "shop"); return err }, []string{"list pods in namespace shop", "forbidden"}},
		{"get", func() error { _, err := l.Get(ctx, grSecrets, "monitoring", "x"); return err }, []string{"list secrets in namespace monitoring", "forbidden"}},
		{"cluster-scoped", func() error {
			_, err := l.List(ctx, schema.GroupResource{Group: "rbac.authorization.k8s.io", Resource: "clusterrolebindings"}, "")
			return err
		}, []string{"list clusterrolebindings.rbac.authorization.k8s.io in the cluster", "forbidden"}},
		{"by index", func() error { _, err := l.ListByIndex(ctx, grPods, "", "by-node", byNode, "x"); return err }, []string{"list pods in all namespaces", "forbidden"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for attempt := range 2 { // not remembered: asked again
				err := tt.run()
				if err == nil || errors.Is(err, rigging.ErrNotFound) {
					t.Fatalf("attempt %d: err = %v, want a refusal", attempt, err)
				}
				for _, w := range tt.want {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("attempt %d: %q does not say %q", attempt, err, w)
					}
				}
			}
		})
	}

	admin, err := cluster.NewLookup(c.Config(), cluster.LookupOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if objs, err := admin.List(ctx, grBackups, ""); err != nil || len(objs) != 0 {
		t.Errorf("List of a resource nobody serves = %v, %v; want nothing", objs, err)
	}
	if _, err := admin.Get(ctx, grBackups, "velero", "b"); !errors.Is(err, rigging.ErrNotFound) {
		t.Errorf("Get of a resource nobody serves = %v, want ErrNotFound", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := admin.List(cctx, grFeatures, "shop"); !errors.Is(err, context.Canceled) {
		t.Errorf("List with a cancelled context = %v, want context.Canceled", err)
	}
	// The cancelled question left nothing behind: the next one reads.
	if objs, err := admin.List(ctx, grFeatures, "shop"); err != nil || len(objs) != 3 {
		t.Errorf("List of shop's feature flags = %d objects, %v; want 3", len(objs), err)
	}
}
