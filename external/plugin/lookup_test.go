package plugin

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/rigging-dev/rigging"
	ibav1 "github.com/rigging-dev/rigging/external/generated/itemblockaction/v1"
	"github.com/rigging-dev/rigging/registry"
	"github.com/rigging-dev/rigging/resources"
)

// podsOf is an ItemBlockAction relating an item to the pods of its
// namespace, read through the Lookup; quiet relates nothing and reads
// nothing.
type podsOf struct{ quiet bool }

func (podsOf) Name() string { return "example.com/pods" }

func (podsOf) AppliesTo(context.Context) (rigging.ResourceSelector, error) {
	return rigging.ResourceSelector{}, nil
}

func (a podsOf) GetRelatedItems(ctx context.Context, item *unstructured.Unstructured, _ *rigging.Backup) ([]rigging.ResourceIdentifier, error) {
	if a.quiet {
		return nil, nil
	}
	pods, err := rigging.LookupFrom(ctx).List(ctx, schema.GroupResource{Resource: "pods"}, item.GetNamespace())
	if err != nil {
		return nil, err
	}
	var out []rigging.ResourceIdentifier
	for _, p := range pods {
		out = append(out, rigging.ResourceIdentifier{GroupResource: schema.GroupResource{Resource: "pods"}, Namespace: p.GetNamespace(), Name: p.GetName()})
	}
	return out, nil
}

// serveLookupTest serves example.com/pods and example.com/quiet over an
// in-memory gRPC connection with opts, through NewGRPCServer.
func serveLookupTest(t testing.TB, opts ServeOptions) ibav1.ItemBlockActionClient {
	t.Helper()
	reg := registry.New()
	registry.RegisterIn(reg, "example.com/pods", func(*slog.Logger) (rigging.ItemBlockAction, error) { return podsOf{}, nil })
	registry.RegisterIn(reg, "example.com/quiet", func(*slog.Logger) (rigging.ItemBlockAction, error) { return podsOf{quiet: true}, nil })
	opts.Registry = reg
	lis := bufconn.Listen(1 << 20)
	srv := NewGRPCServer(opts)
	go func() { _ = srv.Serve(lis) }()
	cc, err := grpc.NewClient("passthrough:///lookup",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cc.Close()
		srv.Stop()
	})
	return ibav1.NewItemBlockActionClient(cc)
}

var lookupItem = []byte(`{"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"namespace":"shop","name":"data"}}`)

func related(c ibav1.ItemBlockActionClient, plugin string) ([]string, error) {
	res, err := c.GetRelatedItems(context.Background(), &ibav1.ItemBlockActionGetRelatedItemsRequest{Plugin: plugin, Item: lookupItem, Backup: []byte(`{}`)})
	if err != nil {
		return nil, err
	}
	var names []string
	for _, r := range res.RelatedItems {
		names = append(names, r.Namespace+"/"+r.Name)
	}
	return names, nil
}

func pod(ns, name string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion("v1")
	u.SetKind("Pod")
	u.SetNamespace(ns)
	u.SetName(name)
	return u
}

// TestServedLookup: every served call finds the process's Lookup, made
// at the first question and not before, kept once made, retried while
// making it fails; its errors reach the host as errors.
func TestServedLookup(t *testing.T) {
	index := resources.NewIndex(resources.NewMapper())
	if err := index.Add(pod("shop", "web-0"), pod("shop", "web-1"), pod("other", "x")); err != nil {
		t.Fatal(err)
	}
	var made atomic.Int32
	fail := atomic.Bool{}
	fail.Store(true)
	c := serveLookupTest(t, ServeOptions{Lookup: func() (rigging.Lookup, error) {
		made.Add(1)
		if fail.Load() {
			return nil, errors.New("api server config unreadable")
		}
		return index, nil
	}})
	if _, err := c.AppliesTo(context.Background(), &ibav1.ItemBlockActionAppliesToRequest{Plugin: "example.com/pods"}); err != nil {
		t.Fatal(err)
	}
	if got, err := related(c, "example.com/quiet"); err != nil || got != nil {
		t.Fatalf("quiet: %v, %v", got, err)
	}
	if n := made.Load(); n != 0 {
		t.Fatalf("Lookup made %d times before an action asked", n)
	}
	_, err := related(c, "example.com/pods")
	if err == nil || !strings.Contains(err.Error(), "pods: api server config unreadable") {
		t.Fatalf("failing Lookup: error %v, want it named", err)
	}
	fail.Store(false)
	for range 2 {
		got, err := related(c, "example.com/pods")
		if err != nil || strings.Join(got, ",") != "shop/web-0,shop/web-1" {
			t.Fatalf("related = %v, %v", got, err)
		}
	}
	if n := made.Load(); n != 2 {
		t.Errorf("Lookup made %d times, want 2 (one failed, one kept)", n)
	}
}

// TestServedLookupNoCluster: with the default Lookup and no cluster
// configuration, the process serves calls that need none, and one that
// does gets an error saying no cluster was found and where it looked.
func TestServedLookupNoCluster(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("HOME", dir)
	t.Setenv("KUBECONFIG", filepath.Join(dir, "missing"))
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	c := serveLookupTest(t, ServeOptions{})
	if got, err := related(c, "example.com/quiet"); err != nil || got != nil {
		t.Fatalf("quiet: %v, %v", got, err)
	}
	_, err := related(c, "example.com/pods")
	for _, want := range []string{"pods: " + rigging.ErrNoCluster.Error(), "kubeconfig: nothing in $KUBECONFIG=" + filepath.Join(dir, "missing"), "in-cluster: not running in a pod"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v, want it to say %q", err, want)
		}
	}
}

// BenchmarkServedCallLookup measures a served call that reads no other
// object (example.com/quiet's GetRelatedItems) over an in-memory gRPC
// connection, both sides in this process: what giving every call the
// process's Lookup costs a call that does not use it.
//
//	go test -run '^$' -bench ServedCallLookup -benchmem -count 5 ./external/plugin
func BenchmarkServedCallLookup(b *testing.B) {
	c := serveLookupTest(b, ServeOptions{Lookup: func() (rigging.Lookup, error) { return nil, errors.New("unused") }})
	req := &ibav1.ItemBlockActionGetRelatedItemsRequest{Plugin: "example.com/quiet", Item: lookupItem, Backup: []byte(`{}`)}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.GetRelatedItems(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}
