package cluster

import (
	"net/http"
	"testing"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// TestKindOf: a request is named by its verb and resource as the API
// server's request info names it.
func TestKindOf(t *testing.T) {
	tests := []struct {
		method, path, watch string
		want                RequestKind
	}{
		{"GET", "/api", "", RequestKind{Verb: "discover"}},
		{"GET", "/api/v1", "", RequestKind{Verb: "discover"}},
		{"GET", "/apis", "", RequestKind{Verb: "discover"}},
		{"GET", "/apis/apps/v1", "", RequestKind{Verb: "discover"}},
		{"GET", "/api/v1/pods", "", RequestKind{"list", schema.GroupResource{Resource: "pods"}}},
		{"GET", "/api/v1/namespaces/shop/pods", "", RequestKind{"list", schema.GroupResource{Resource: "pods"}}},
		{"GET", "/api/v1/namespaces/shop/pods/web-0", "", RequestKind{"get", schema.GroupResource{Resource: "pods"}}},
		{"GET", "/api/v1/namespaces/shop/pods", "true", RequestKind{"watch", schema.GroupResource{Resource: "pods"}}},
		{"GET", "/api/v1/namespaces", "", RequestKind{"list", schema.GroupResource{Resource: "namespaces"}}},
		{"GET", "/api/v1/namespaces/shop", "", RequestKind{"get", schema.GroupResource{Resource: "namespaces"}}},
		{"PUT", "/api/v1/namespaces/shop/finalize", "", RequestKind{"update", schema.GroupResource{Resource: "namespaces/finalize"}}},
		{"PATCH", "/api/v1/namespaces/shop/pods/web-0/status", "", RequestKind{"patch", schema.GroupResource{Resource: "pods/status"}}},
		{"GET", "/apis/apps/v1/deployments", "", RequestKind{"list", schema.GroupResource{Group: "apps", Resource: "deployments"}}},
		{"POST", "/apis/apps/v1/namespaces/shop/deployments", "", RequestKind{"create", schema.GroupResource{Group: "apps", Resource: "deployments"}}},
		{"DELETE", "/apis/apps/v1/namespaces/shop/deployments/web", "", RequestKind{"delete", schema.GroupResource{Group: "apps", Resource: "deployments"}}},
		{"DELETE", "/apis/apps/v1/namespaces/shop/deployments", "", RequestKind{"deletecollection", schema.GroupResource{Group: "apps", Resource: "deployments"}}},
		{"GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/foos.example.com", "", RequestKind{"get", schema.GroupResource{Group: "apiextensions.k8s.io", Resource: "customresourcedefinitions"}}},
		{"GET", "/version", "", RequestKind{"get", schema.GroupResource{Resource: "/version"}}},
	}
	for _, tt := range tests {
		if got := kindOf(tt.method, tt.path, tt.watch); got != tt.want {
			t.Errorf("%s %s (watch %q) = %+v, want %+v", tt.method, tt.path, tt.watch, got, tt.want)
		}
	}
}

// TestRequestCounts: the counter counts every request through the
// transport it wraps, by kind; the total, the sum per verb and the lines
// of the debug log follow from the counts.
func TestRequestCounts(t *testing.T) {
	var c RequestCounter
	rt := c.Wrap(roundTripperFunc(func(*http.Request) (*http.Response, error) { return &http.Response{StatusCode: 200}, nil }))
	for _, path := range []string{"/api/v1", "/apis", "/api/v1/pods", "/api/v1/namespaces/a/pods", "/api/v1/namespaces/a/pods/p", "/apis/apps/v1/deployments"} {
		req, err := http.NewRequest(http.MethodGet, "https://example.invalid"+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := rt.RoundTrip(req); err != nil {
			t.Fatal(err)
		}
	}
	counts := c.Counts()
	if got := counts.Total(); got != 6 {
		t.Errorf("Total = %d, want 6", got)
	}
	if got, want := counts.String(), "6 (discover 2, get 1, list 3)"; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
	wantDetail := []string{"discover =2", "get pods=1", "list deployments.apps=1", "list pods=2"}
	if got := counts.Detail(); len(got) != len(wantDetail) {
		t.Errorf("Detail = %q, want %q", got, wantDetail)
	} else {
		for i := range got {
			if got[i] != wantDetail[i] {
				t.Errorf("Detail = %q, want %q", got, wantDetail)
				break
			}
		}
	}
	// A snapshot is a copy: later requests do not change it.
	counts[RequestKind{Verb: "list"}] = 100
	if c.Counts().Total() != 6 {
		t.Error("changing a snapshot changed the counter")
	}
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
