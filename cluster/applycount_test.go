package cluster

import (
	"net/http"
	"testing"
)

func TestRequestVerb(t *testing.T) {
	for _, tc := range []struct{ method, path, want string }{
		{http.MethodPost, "/api/v1/namespaces/ns/configmaps", "create"},
		{http.MethodGet, "/api/v1/namespaces/ns/configmaps/cm", "get"},
		{http.MethodGet, "/api/v1/namespaces/ns/configmaps", "list"},
		{http.MethodGet, "/api/v1/namespaces/ns", "get"},
		{http.MethodGet, "/api/v1/namespaces", "list"},
		{http.MethodPost, "/api/v1/namespaces", "create"},
		{http.MethodGet, "/api/v1/persistentvolumes/pv-1", "get"},
		{http.MethodPut, "/api/v1/namespaces/ns/pods/p/status", "update"},
		{http.MethodPatch, "/apis/apps/v1/namespaces/ns/deployments/d", "patch"},
		{http.MethodGet, "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/x.example.com", "get"},
		{http.MethodDelete, "/apis/apps/v1/namespaces/ns/deployments/d", "delete"},
		{http.MethodGet, "/version", "discovery"},
		{http.MethodGet, "/apis", "discovery"},
		{http.MethodGet, "/apis/apps/v1", "discovery"},
		{http.MethodGet, "/api/v1", "discovery"},
	} {
		if got := requestVerb(tc.method, tc.path); got != tc.want {
			t.Errorf("%s %s: %s, want %s", tc.method, tc.path, got, tc.want)
		}
	}
}

func TestDefaultWorkers(t *testing.T) {
	for _, tc := range []struct {
		qps  float32
		want int
	}{{-1, 64}, {0, 4}, {20, 4}, {100, 4}, {101, 5}, {500, 20}, {1000, 40}, {5000, 64}} {
		if got := DefaultWorkers(tc.qps); got != tc.want {
			t.Errorf("DefaultWorkers(%v) = %d, want %d", tc.qps, got, tc.want)
		}
	}
}
