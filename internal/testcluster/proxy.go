package testcluster

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Fault decides how the proxy answers the n-th request (counted per URL
// path, from 1): ok false passes it on to the API server; ok true answers
// with status, header and body instead. It may panic with
// http.ErrAbortHandler to drop the connection.
type Fault func(r *http.Request, n int) (status int, header http.Header, body string, ok bool)

// Status is the JSON body of an API server's error answer, for a Fault.
func Status(code int, reason, msg string) string {
	return `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":` + strconv.Quote(msg) + `,"reason":"` + reason + `","code":` + strconv.Itoa(code) + `}`
}

// FaultProxy starts a plain-HTTP proxy on loopback in front of the API
// server, as the admin, that lets fault answer requests in its place; it is
// stopped when t ends. It returns the client configuration of the proxy
// and the path of a kubeconfig for it (context "faulty").
func (c *Cluster) FaultProxy(t testing.TB, fault Fault) (*rest.Config, string) {
	t.Helper()
	target, err := url.Parse(c.config.Host)
	if err != nil {
		t.Fatal(err)
	}
	rt, err := rest.TransportFor(c.config)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.Transport = rt
	var mu sync.Mutex
	counts := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		counts[r.URL.Path]++
		n := counts[r.URL.Path]
		mu.Unlock()
		if code, h, body, ok := fault(r, n); ok {
			for k, v := range h {
				w.Header()[k] = v
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(code)
			_, _ = w.Write([]byte(body))
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)

	kc := clientcmdapi.NewConfig()
	kc.Clusters["faulty"] = &clientcmdapi.Cluster{Server: srv.URL}
	kc.AuthInfos["faulty"] = &clientcmdapi.AuthInfo{}
	kc.Contexts["faulty"] = &clientcmdapi.Context{Cluster: "faulty", AuthInfo: "faulty"}
	kc.CurrentContext = "faulty"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		t.Fatal(err)
	}
	return &rest.Config{Host: srv.URL, QPS: -1, WarningHandler: rest.NoWarnings{}}, path
}
