package cluster_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/rigging-dev/rigging/cluster"
	"github.com/rigging-dev/rigging/internal/testcluster"
)

// TestLookupFaults: answers the API server gives under load (429, 503 with
// Retry-After) are retried with client-go's backoff; an expired continue
// token (410) restarts the list; a server that goes away mid-list is an
// error naming the resource. Every answer that comes back is the whole
// list.
func TestLookupFaults(t *testing.T) {
	c := testcluster.Get(t)
	ctx := context.Background()
	ref, err := cluster.NewLookup(c.Config(), cluster.LookupOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want, err := ref.List(ctx, grSecrets, "")
	if err != nil || len(want) < 5 {
		t.Fatalf("reference list: %d secrets, %v", len(want), err)
	}
	const secrets = "/api/v1/secrets"
	retryAfter := http.Header{"Retry-After": {"1"}}
	tests := []struct {
		name    string
		fault   testcluster.Fault
		wantErr []string // empty: the list must come back whole
	}{
		{"429 with Retry-After", func(r *http.Request, n int) (int, http.Header, string, bool) {
			return 429, retryAfter, testcluster.Status(429, "TooManyRequests", "slow down"), r.URL.Path == secrets && n == 1
		}, nil},
		{"503 with Retry-After mid-list", func(r *http.Request, n int) (int, http.Header, string, bool) {
			return 503, retryAfter, testcluster.Status(503, "ServiceUnavailable", "busy"), r.URL.Path == secrets && n == 2
		}, nil},
		{"continue token expired", func(r *http.Request, n int) (int, http.Header, string, bool) {
			return 410, nil, testcluster.Status(410, "Expired", "the provided continue parameter is too old"), r.URL.Path == secrets && r.URL.Query().Get("continue") != "" && n == 2
		}, nil},
		{"server gone mid-list", func(r *http.Request, n int) (int, http.Header, string, bool) {
			if r.URL.Path == secrets && n >= 2 {
				panic(http.ErrAbortHandler) // the connection drops
			}
			return 0, nil, "", false
		}, []string{"list secrets in all namespaces"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, _ := c.FaultProxy(t, tt.fault)
			l, err := cluster.NewLookup(cfg, cluster.LookupOptions{PageSize: 2})
			if err != nil {
				t.Fatal(err)
			}
			got, err := l.List(ctx, grSecrets, "")
			if len(tt.wantErr) > 0 {
				if err == nil {
					t.Fatalf("List = %d secrets, want an error", len(got))
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not say %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("List = %d secrets, want %d", len(got), len(want))
			}
			for i := range got {
				if got[i].GetNamespace() != want[i].GetNamespace() || got[i].GetName() != want[i].GetName() {
					t.Errorf("secret %d = %s/%s, want %s/%s", i, got[i].GetNamespace(), got[i].GetName(), want[i].GetNamespace(), want[i].GetName())
				}
			}
		})
	}
}
