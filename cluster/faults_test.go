package cluster_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"

	"k8s.io/client-go/rest"

	"github.com/rigging-dev/rigging/cluster"
	"github.com/rigging-dev/rigging/internal/testcluster"
)

// faultProxy stands between a Lookup and the test API server and answers
// some requests itself: fault is asked first for every request and
// returns false to pass it on.
type faultProxy struct {
	mu    sync.Mutex
	fault func(r *http.Request, n int) (status int, header http.Header, body string, ok bool)
	n     map[string]int // requests per path
}

func newFaultProxy(t *testing.T, c *testcluster.Cluster, fault func(r *http.Request, n int) (int, http.Header, string, bool)) *rest.Config {
	t.Helper()
	target, err := url.Parse(c.Config().Host)
	if err != nil {
		t.Fatal(err)
	}
	rt, err := rest.TransportFor(c.Config())
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.Transport = rt
	fp := &faultProxy{fault: fault, n: map[string]int{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fp.mu.Lock()
		fp.n[r.URL.Path]++
		n := fp.n[r.URL.Path]
		fp.mu.Unlock()
		if status, h, body, ok := fp.fault(r, n); ok {
			for k, v := range h {
				w.Header()[k] = v
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_, _ = w.Write([]byte(body))
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return &rest.Config{Host: srv.URL, QPS: -1, WarningHandler: rest.NoWarnings{}}
}

// status is the body of an API server's error answer.
func status(code int, reason, msg string) string {
	return `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"` + msg + `","reason":"` + reason + `","code":` + strconv.Itoa(code) + `}`
}

// TestLookupFaults: answers the API server gives under load (429, 503 with
// Retry-After) are retried with client-go's backoff; an expired continue
// token (410) restarts the list; a server that goes away mid-list is an
// error naming the resource, and the next question reads again. Every
// answer that comes back is the whole list.
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
		fault   func(r *http.Request, n int) (int, http.Header, string, bool)
		wantErr []string // empty: the list must come back whole
	}{
		{"429 with Retry-After", func(r *http.Request, n int) (int, http.Header, string, bool) {
			return 429, retryAfter, status(429, "TooManyRequests", "slow down"), r.URL.Path == secrets && n == 1
		}, nil},
		{"503 with Retry-After mid-list", func(r *http.Request, n int) (int, http.Header, string, bool) {
			return 503, retryAfter, status(503, "ServiceUnavailable", "busy"), r.URL.Path == secrets && n == 2
		}, nil},
		{"continue token expired", func(r *http.Request, n int) (int, http.Header, string, bool) {
			return 410, nil, status(410, "Expired", "the provided continue parameter is too old"), r.URL.Path == secrets && r.URL.Query().Get("continue") != "" && n == 2
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
			cfg := newFaultProxy(t, c, tt.fault)
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
