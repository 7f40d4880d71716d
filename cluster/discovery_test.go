package cluster

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"

	"github.com/rigging-dev/rigging/internal/testcluster"
	"github.com/rigging-dev/rigging/resources"
)

// TestDiscoveryMatchesClientGo: the Lookup's own discovery requests give
// the answers client-go's discovery client gives (which the Lookup used
// before): the same resources in the same preferred versions with the same
// kinds, names, scopes and verbs, and the same non-preferred versions.
func TestDiscoveryMatchesClientGo(t *testing.T) {
	c := testcluster.Get(t)
	ctx := context.Background()
	dc, err := discovery.NewDiscoveryClientForConfig(c.Config())
	if err != nil {
		t.Fatal(err)
	}
	lists, err := discovery.ServerPreferredResources(dc)
	if err != nil {
		t.Fatal(err)
	}
	want := map[schema.GroupResource]servedResource{}
	for _, list := range lists {
		gv, err := schema.ParseGroupVersion(list.GroupVersion)
		if err != nil {
			t.Fatal(err)
		}
		for _, ar := range list.APIResources {
			r := resources.Resource{
				Group: gv.Group, Version: gv.Version, Kind: ar.Kind,
				Plural: ar.Name, Singular: ar.SingularName, ShortNames: ar.ShortNames,
				Namespaced: ar.Namespaced,
			}
			want[r.GroupResource()] = servedResource{Resource: r, verbs: ar.Verbs}
		}
	}
	_, all, err := dc.ServerGroupsAndResources()
	if err != nil {
		t.Fatal(err)
	}
	wantOther := map[schema.GroupResource][]string{}
	for _, list := range all {
		gv, err := schema.ParseGroupVersion(list.GroupVersion)
		if err != nil {
			t.Fatal(err)
		}
		for _, ar := range list.APIResources {
			gr := schema.GroupResource{Group: gv.Group, Resource: ar.Name}
			p, ok := want[gr]
			if strings.Contains(ar.Name, "/") || !ok || p.Version == gv.Version || !containsAll(ar.Verbs, backupVerbs) || slices.Contains(wantOther[gr], gv.Version) {
				continue
			}
			wantOther[gr] = append(wantOther[gr], gv.Version)
		}
	}
	if len(want) < 40 || len(wantOther) == 0 {
		t.Fatalf("client-go discovered %d resources, %d with other versions: not a real API server", len(want), len(wantOther))
	}

	l, err := NewLookup(c.Config(), LookupOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.discover(ctx); err != nil {
		t.Fatal(err)
	}
	for gr, w := range want {
		if got, ok := l.served[gr]; !ok || !reflect.DeepEqual(got, w) {
			t.Errorf("%s: discovered %+v (%v), client-go %+v", gr, got, ok, w)
		}
	}
	for gr := range l.served {
		if _, ok := want[gr]; !ok {
			t.Errorf("%s discovered, not by client-go", gr)
		}
	}
	if len(l.failed) != 0 {
		t.Errorf("failed groups %v", l.failed)
	}
	other, err := l.discoverVersions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(other, wantOther) {
		t.Errorf("other versions %v, client-go %v", other, wantOther)
	}
}

// TestDiscoveryFaults: a group version whose discovery fails makes its
// resources an error wrapping ErrGroupUnavailable while the others are
// answered; a failure of the group list itself is an error naming it.
func TestDiscoveryFaults(t *testing.T) {
	c := testcluster.Get(t)
	ctx := context.Background()
	unavailable := func(path string) testcluster.Fault {
		return func(r *http.Request, _ int) (int, http.Header, string, bool) {
			return 503, nil, testcluster.Status(503, "ServiceUnavailable", "down"), r.URL.Path == path
		}
	}
	deployments := schema.GroupResource{Group: "apps", Resource: "deployments"}
	pods := schema.GroupResource{Resource: "pods"}
	tests := []struct {
		name      string
		fault     testcluster.Fault
		gr        schema.GroupResource
		wantErr   string // empty: answered
		wantGroup bool   // the error wraps ErrGroupUnavailable
	}{
		{"group version down: its resource", unavailable("/apis/apps/v1"), deployments, "GET /apis/apps/v1", true},
		{"group version down: another group's resource", unavailable("/apis/apps/v1"), pods, "", false},
		{"group list down", unavailable("/apis"), pods, "GET /apis", false},
		{"core versions down", unavailable("/api"), pods, "GET /api", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, _ := c.FaultProxy(t, tt.fault)
			l, err := NewLookup(cfg, LookupOptions{})
			if err != nil {
				t.Fatal(err)
			}
			_, err = l.List(ctx, tt.gr, "")
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("List(%s) = %v, want an error saying %q", tt.gr, err, tt.wantErr)
			}
			if errors.Is(err, ErrGroupUnavailable) != tt.wantGroup {
				t.Errorf("List(%s) = %v: wraps ErrGroupUnavailable %v, want %v", tt.gr, err, !tt.wantGroup, tt.wantGroup)
			}
		})
	}
}

// TestDiscoveryCancelledQuestion: a question cancelled while discovery
// asks the group versions leaves no group marked unavailable: the next
// question discovers again and is answered.
func TestDiscoveryCancelledQuestion(t *testing.T) {
	c := testcluster.Get(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg, _ := c.FaultProxy(t, func(r *http.Request, _ int) (int, http.Header, string, bool) {
		if r.URL.Path == "/apis/apps/v1" {
			cancel() // before the server answers: the client's request ends with the context
		}
		return 0, nil, "", false
	})
	l, err := NewLookup(cfg, LookupOptions{})
	if err != nil {
		t.Fatal(err)
	}
	deployments := schema.GroupResource{Group: "apps", Resource: "deployments"}
	if _, err := l.List(ctx, deployments, ""); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled List = %v, want context.Canceled", err)
	}
	if _, err := l.List(context.Background(), deployments, ""); err != nil {
		t.Fatalf("List after a cancelled one: %v", err)
	}
}
