package aws

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rigging-dev/rigging/providers/aws/internal/awsconf"
)

// inCluster is how a pod reaches the Kubernetes API: the service's address
// from the environment and the service-account token and CA from the mounted
// directory. Tests point it at an httptest server.
type inCluster struct {
	host, port string // KUBERNETES_SERVICE_HOST, KUBERNETES_SERVICE_PORT
	saDir      string // holds token and ca.crt
	namespace  string // VELERO_NAMESPACE
	client     *http.Client
}

func defaultInCluster() inCluster {
	return inCluster{
		host:      os.Getenv("KUBERNETES_SERVICE_HOST"),
		port:      os.Getenv("KUBERNETES_SERVICE_PORT"),
		saDir:     "/var/run/secrets/kubernetes.io/serviceaccount",
		namespace: os.Getenv("VELERO_NAMESPACE"),
	}
}

// readCustomerKeySecret reads the SSE-C key named by ref ("secretName/key")
// from a Secret in $VELERO_NAMESPACE through the in-cluster API, as
// velero-plugin-for-aws does for customerKeyEncryptionSecret. It talks to the
// API with net/http rather than client-go so the provider stays small. The
// key's bytes never appear in an error.
func readCustomerKeySecret(ctx context.Context, ref string, k inCluster) ([]byte, error) {
	const key = KeyCustomerKeyEncryptionSecret
	name, field, ok := strings.Cut(ref, "/")
	if !ok || name == "" || field == "" || strings.Contains(field, "/") {
		return nil, fmt.Errorf("%w: %s: %q is not of the form secretName/key", awsconf.ErrInvalidConfig, key, ref)
	}
	if k.namespace == "" {
		return nil, fmt.Errorf("%s: VELERO_NAMESPACE is not set; it names the namespace of secret %q", key, name)
	}
	if k.host == "" || k.port == "" {
		return nil, fmt.Errorf("%s: not running in a Kubernetes pod (KUBERNETES_SERVICE_HOST/PORT unset); use %s outside a cluster", key, KeyCustomerKeyEncryptionFile)
	}
	token, err := os.ReadFile(filepath.Join(k.saDir, "token"))
	if err != nil {
		return nil, fmt.Errorf("%s: read the service-account token: %w", key, err)
	}
	client := k.client
	if client == nil {
		ca, err := os.ReadFile(filepath.Join(k.saDir, "ca.crt"))
		if err != nil {
			return nil, fmt.Errorf("%s: read the service-account CA: %w", key, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(ca) {
			return nil, fmt.Errorf("%s: no PEM certificate in %s", key, filepath.Join(k.saDir, "ca.crt"))
		}
		client = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		}}
	}
	u := url.URL{
		Scheme: "https",
		Host:   net.JoinHostPort(k.host, k.port),
		Path:   "/api/v1/namespaces/" + url.PathEscape(k.namespace) + "/secrets/" + url.PathEscape(name),
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s: get secret %s/%s: %w", key, k.namespace, name, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("%s: get secret %s/%s: %w", key, k.namespace, name, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: get secret %s/%s: %s", key, k.namespace, name, resp.Status)
	}
	var secret struct {
		Data map[string][]byte `json:"data"` // base64 in JSON, decoded by encoding/json
	}
	if err := json.Unmarshal(body, &secret); err != nil {
		return nil, fmt.Errorf("%s: decode secret %s/%s: %w", key, k.namespace, name, err)
	}
	v, ok := secret.Data[field]
	if !ok {
		return nil, fmt.Errorf("%s: secret %s/%s has no key %q", key, k.namespace, name, field)
	}
	if len(v) != customerKeySize {
		return nil, fmt.Errorf("%w: %s: secret %s/%s key %q holds %d bytes, want exactly %d", awsconf.ErrInvalidConfig, key, k.namespace, name, field, len(v), customerKeySize)
	}
	return v, nil
}
