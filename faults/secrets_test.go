package faults

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/rigging-dev/rigging/manager"

	_ "github.com/rigging-dev/rigging/providers/aws"
	"github.com/rigging-dev/rigging/providers/filesystem"
)

// Secrets the test plants; none may appear in any log record, error
// message or metric.
const (
	secretAccessKey = "fAuLtS/SeCrEt+AcCeSs/KeY0123456789abcdef"
	sseCustomerKey  = "faults-SSE-C-key-never-log-32byt" // 32 bytes
	configSecret    = "faults-config-secret-hunter2"
	accessKeyID     = "AKIAFAULTSKEYID00001"
)

// TestCredentialsNeverLeak runs the velero.io/aws and rigging.dev/filesystem
// stores through the Manager, with secret-bearing configuration (a
// credentials file, an SSE-C key file, an unknown key holding a secret
// value), against an S3 endpoint that refuses every request (and against
// the CI's S3 server with a wrong secret when RIGGING_S3_ENDPOINT is set),
// with a debug-level slog handler and a Prometheus registry capturing
// everything. The secret key, the SSE-C key and the secret config value must
// appear nowhere. The access key ID, which S3 itself echoes in its error
// documents, is counted and reported.
func TestCredentialsNeverLeak(t *testing.T) {
	dir := t.TempDir()
	creds := filepath.Join(dir, "credentials")
	writeFile(t, creds, fmt.Sprintf("[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n", accessKeyID, secretAccessKey))
	ssec := filepath.Join(dir, "sse-c.key")
	writeFile(t, ssec, sseCustomerKey)

	// An S3 endpoint that refuses everything the way S3 does, echoing the
	// access key ID and the string to sign (never the secret: S3 does not
	// have it in the request).
	var requests int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests++
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>SignatureDoesNotMatch</Code>`+
			`<Message>The request signature we calculated does not match the signature you provided.</Message>`+
			`<AWSAccessKeyId>%s</AWSAccessKeyId><StringToSign>%s</StringToSign></Error>`, accessKeyID, r.Header.Get("Authorization"))
	}))
	defer srv.Close()

	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	reg := prometheus.NewRegistry()
	m := manager.New(manager.Options{Logger: log, Metrics: reg, Timeouts: nil})
	defer m.Close()
	ctx := context.Background()
	var errs []string
	record := func(what string, err error) {
		if err != nil {
			errs = append(errs, what+": "+err.Error())
		}
	}

	endpoints := []struct{ name, url, region string }{{"refusing endpoint", srv.URL, "us-east-1"}}
	if e := os.Getenv("RIGGING_S3_ENDPOINT"); e != "" {
		endpoints = append(endpoints, struct{ name, url, region string }{"CI S3 server, wrong secret", e, os.Getenv("RIGGING_S3_REGION")})
	} else {
		t.Log("RIGGING_S3_ENDPOINT unset: only the refusing endpoint is used (CI sets it: `eval \"$(bash .ci/s3.sh)\"`)")
	}
	for _, ep := range endpoints {
		for _, cfg := range []map[string]string{
			{"bucket": "b", "region": ep.region, "s3Url": ep.url, "s3ForcePathStyle": "true", "credentialsFile": creds, "customerKeyEncryptionFile": ssec},
			{"bucket": "b", "region": ep.region, "s3Url": ep.url, "s3ForcePathStyle": "true", "credentialsFile": creds, "secretAccessKey": configSecret},
		} {
			s, err := m.ObjectStore(ctx, "velero.io/aws")
			if err != nil {
				t.Fatal(err)
			}
			err = s.Init(ctx, cfg)
			record(ep.name+" Init", err)
			if err != nil {
				continue
			}
			record("put", s.PutObject(ctx, "b", "backups/x/velero-backup.json", strings.NewReader("{}")))
			_, err = s.ObjectExists(ctx, "b", "backups/x/velero-backup.json")
			record("exists", err)
			if rc, err := s.GetObject(ctx, "b", "backups/x/velero-backup.json"); err == nil {
				_, err = io.Copy(io.Discard, rc)
				rc.Close()
				record("read", err)
			} else {
				record("get", err)
			}
			_, err = s.ListObjects(ctx, "b", "backups/")
			record("list", err)
			_, err = s.ListCommonPrefixes(ctx, "b", "", "/")
			record("prefixes", err)
			record("delete", s.DeleteObject(ctx, "b", "backups/x/velero-backup.json"))
			u, err := s.CreateSignedURL(ctx, "b", "backups/x/x.tar.gz", time.Minute)
			record("sign", err)
			if strings.Contains(u, secretAccessKey) {
				t.Errorf("signed URL holds the secret key")
			}
		}
	}
	for _, cfg := range []map[string]string{
		{"root": filepath.Join(dir, "fs"), "credentialsFile": creds, "bucket": "b"},
		{"root": filepath.Join(dir, "fs2"), "password": configSecret},
	} {
		s, err := m.ObjectStore(ctx, filesystem.Name)
		if err != nil {
			t.Fatal(err)
		}
		err = s.Init(ctx, cfg)
		record("filesystem Init", err)
		if err == nil {
			record("filesystem put", s.PutObject(ctx, "b", "k", strings.NewReader(configSecret)))
			_, err = s.GetObject(ctx, "b", "../escape")
			record("filesystem get", err)
		}
	}

	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var metrics bytes.Buffer
	for _, mf := range families {
		if _, err := expfmt.MetricFamilyToText(&metrics, mf); err != nil {
			t.Fatal(err)
		}
	}
	joinedErrs := strings.Join(errs, "\n")
	if requests == 0 {
		t.Errorf("the refusing endpoint saw no request: the test exercised nothing")
	}
	t.Logf("%d requests refused; %d errors, %d bytes of logs, %d bytes of metrics captured", requests, len(errs), logs.Len(), metrics.Len())
	for _, secret := range []string{secretAccessKey, sseCustomerKey, base64.StdEncoding.EncodeToString([]byte(sseCustomerKey)), configSecret} {
		for where, text := range map[string]string{"logs": logs.String(), "errors": joinedErrs, "metrics": metrics.String()} {
			if strings.Contains(text, secret) {
				t.Errorf("secret %q found in %s", secret, where)
			}
		}
	}
	for where, text := range map[string]string{"logs": logs.String(), "errors": joinedErrs, "metrics": metrics.String()} {
		if n := strings.Count(text, accessKeyID); n > 0 {
			t.Logf("access key ID appears %d times in %s (S3's own error documents carry it)", n, where)
		}
	}
	if testing.Verbose() {
		t.Logf("errors:\n%s", joinedErrs)
	}
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
