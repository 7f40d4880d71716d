package aws

import (
	"context"
	"encoding/base64"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadCustomerKeySecret(t *testing.T) {
	key := strings.Repeat("K", 32)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer sa-token" {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		switch r.URL.Path {
		case "/api/v1/namespaces/velero/secrets/sse":
			_, _ = w.Write([]byte(`{"kind":"Secret","data":{"key":"` + base64.StdEncoding.EncodeToString([]byte(key)) +
				`","short":"` + base64.StdEncoding.EncodeToString([]byte("abc")) + `"}}`))
		default:
			http.Error(w, `{"kind":"Status","code":404}`, http.StatusNotFound)
		}
	}))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	host, port, _ := net.SplitHostPort(u.Host)
	sa := t.TempDir()
	if err := os.WriteFile(filepath.Join(sa, "token"), []byte("sa-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	k := inCluster{host: host, port: port, saDir: sa, namespace: "velero", client: srv.Client()}

	got, err := readCustomerKeySecret(context.Background(), "sse/key", k)
	if err != nil || string(got) != key {
		t.Fatalf("readCustomerKeySecret = %q, %v; want the 32-byte key", got, err)
	}
	for _, tc := range []struct {
		ref     string
		k       inCluster
		wantErr string
		invalid bool
	}{
		{"sse/short", k, "holds 3 bytes, want exactly 32", true},
		{"sse/other", k, `has no key "other"`, false},
		{"gone/key", k, "404", false},
		{"sse", k, "secretName/key", true},
		{"sse/key", inCluster{host: host, port: port, saDir: sa, client: srv.Client()}, "VELERO_NAMESPACE is not set", false},
		{"sse/key", inCluster{namespace: "velero"}, "not running in a Kubernetes pod", false},
	} {
		_, err := readCustomerKeySecret(context.Background(), tc.ref, tc.k)
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("readCustomerKeySecret(%q) error = %v; want %q", tc.ref, err, tc.wantErr)
			continue
		}
		if errors.Is(err, ErrInvalidConfig) != tc.invalid {
			t.Errorf("readCustomerKeySecret(%q): errors.Is(ErrInvalidConfig) = %v; want %v", tc.ref, !tc.invalid, tc.invalid)
		}
		if strings.Contains(err.Error(), key) {
			t.Errorf("error %q leaks the key", err)
		}
	}
}
