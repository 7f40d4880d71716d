package aws

import (
	"context"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/registry"
)

// staticCreds writes a credentials file and returns its path.
func staticCreds(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "credentials")
	if err := os.WriteFile(p, []byte("[default]\naws_access_key_id = AKIDTEST\naws_secret_access_key = s3cr3t-value\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestInitConfig(t *testing.T) {
	creds := staticCreds(t)
	dir := t.TempDir()
	key32 := filepath.Join(dir, "key32")
	key31 := filepath.Join(dir, "key31")
	if err := os.WriteFile(key32, []byte(strings.Repeat("k", 32)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key31, []byte(strings.Repeat("k", 31)), 0o600); err != nil {
		t.Fatal(err)
	}
	base := func(kv ...string) map[string]string {
		c := map[string]string{
			KeyBucket: "b", KeyPrefix: "p", KeyRegion: "us-west-2",
			KeyS3URL: "http://127.0.0.1:1", KeyCredentialsFile: creds,
		}
		for i := 0; i < len(kv); i += 2 {
			c[kv[i]] = kv[i+1]
		}
		return c
	}
	tests := []struct {
		name    string
		config  map[string]string
		wantErr string // substring; "" means success
		invalid bool   // the error wraps ErrInvalidConfig
	}{
		{name: "minimal", config: base()},
		{name: "every key", config: base(
			KeyPublicURL, "https://public.example.com", KeyS3ForcePathStyle, "true", KeyProfile, "default",
			KeyEnableSharedConfig, "true", KeyInsecureSkipTLSVerify, "false", KeyKMSKeyID, "alias/velero",
			KeyServerSideEncryption, "aws:kms", KeyTagging, "team=storage&env=prod",
			KeyChecksumAlgorithm, "SHA256", KeySignatureVersion, "4")},
		{name: "caCert is accepted as Velero adds it", config: base(KeyCACert, tlsServerPEM(t))},
		{name: "single tag", config: base(KeyTagging, "team=storage")},
		{name: "empty checksum turns checksums off", config: base(KeyChecksumAlgorithm, "")},
		{name: "signature version 1 is accepted", config: base(KeySignatureVersion, "1")},
		{name: "SSE-C key file", config: base(KeyCustomerKeyEncryptionFile, key32)},

		{name: "unknown key", config: base("s3URL", "http://x"), wantErr: `unknown key(s) "s3URL"`, invalid: true},
		{name: "two unknown keys", config: base("zz", "1", "aa", "2"), wantErr: `"aa", "zz"`, invalid: true},
		{name: "bad bool", config: base(KeyS3ForcePathStyle, "yes"), wantErr: `s3ForcePathStyle: "yes" is not a boolean`, invalid: true},
		{name: "bad insecure", config: base(KeyInsecureSkipTLSVerify, "maybe"), wantErr: "insecureSkipTLSVerify", invalid: true},
		{name: "bad enableSharedConfig", config: base(KeyEnableSharedConfig, "1x"), wantErr: "enableSharedConfig", invalid: true},
		{name: "s3Url without scheme", config: base(KeyS3URL, "minio:9000"), wantErr: `s3Url: "minio:9000" is not an http:// or https:// URL`, invalid: true},
		{name: "publicUrl ftp", config: base(KeyPublicURL, "ftp://x"), wantErr: "publicUrl", invalid: true},
		{name: "s3Url password not echoed", config: base(KeyS3URL, "s3://user:s3cr3t-value@minio:9000"), wantErr: `s3Url: "s3://user:xxxxx@minio:9000" is not an http:// or https:// URL`, invalid: true},
		{name: "malformed s3Url not echoed", config: base(KeyS3URL, "http://user:s3cr3t-value@[bad"), wantErr: "s3Url: not a valid URL", invalid: true},
		{name: "bad checksum", config: base(KeyChecksumAlgorithm, "CRC16"), wantErr: `checksumAlgorithm: "CRC16"`, invalid: true},
		{name: "bad signature version", config: base(KeySignatureVersion, "2"), wantErr: "signatureVersion", invalid: true},
		{name: "two SSE methods", config: base(KeyKMSKeyID, "k", KeyCustomerKeyEncryptionFile, key32), wantErr: "use only one of kmsKeyId", invalid: true},
		{name: "short SSE-C key", config: base(KeyCustomerKeyEncryptionFile, key31), wantErr: "exactly 32 bytes", invalid: true},
		{name: "missing SSE-C key file", config: base(KeyCustomerKeyEncryptionFile, filepath.Join(dir, "nope")), wantErr: "customerKeyEncryptionFile", invalid: true},
		{name: "eleven tags", config: base(KeyTagging, "a=1&b=2&c=3&d=4&e=5&f=6&g=7&h=8&i=9&j=10&k=11"), wantErr: "at most 10", invalid: true},
		{name: "long tag key", config: base(KeyTagging, strings.Repeat("k", 129)+"=v"), wantErr: "longer than 128", invalid: true},
		{name: "long tag value", config: base(KeyTagging, "k="+strings.Repeat("v", 257)), wantErr: "longer than 256", invalid: true},
		{name: "bad tag encoding", config: base(KeyTagging, "a=%zz"), wantErr: "tagging", invalid: true},
		{name: "duplicate tag", config: base(KeyTagging, "a=1&a=2"), wantErr: `tag "a" is given 2 times`, invalid: true},
		{name: "bad caCert", config: base(KeyCACert, "not a pem"), wantErr: "caCert: no PEM certificate"},
		{name: "missing credentials file", config: base(KeyCredentialsFile, filepath.Join(dir, "nope")), wantErr: "credentialsFile"},
		{name: "no bucket, region or endpoint", config: map[string]string{KeyCredentialsFile: creds}, wantErr: "bucket is required", invalid: true},
		{name: "secret ref malformed", config: base(KeyCustomerKeyEncryptionSecret, "justaname"), wantErr: "secretName/key", invalid: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := NewObjectStore(nil).Init(context.Background(), tc.config)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Init: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Init error = %v; want it to contain %q", err, tc.wantErr)
			}
			if !strings.HasPrefix(err.Error(), "plugin velero.io/aws: init: ") {
				t.Errorf("error %q does not start with the plugin name", err)
			}
			if got := errors.Is(err, ErrInvalidConfig); got != tc.invalid {
				t.Errorf("errors.Is(err, ErrInvalidConfig) = %v; want %v", got, tc.invalid)
			}
			if strings.Contains(err.Error(), "s3cr3t-value") {
				t.Errorf("error %q leaks the secret key", err)
			}
		})
	}
}

func TestInitTwiceAndCallsBeforeInit(t *testing.T) {
	ctx := context.Background()
	o := NewObjectStore(nil)
	if err := o.PutObject(ctx, "b", "k", strings.NewReader("x")); !errors.Is(err, rigging.ErrNotInitialized) {
		t.Errorf("PutObject before Init: %v; want ErrNotInitialized", err)
	}
	if _, err := o.ObjectExists(ctx, "b", "k"); !errors.Is(err, rigging.ErrNotInitialized) {
		t.Errorf("ObjectExists before Init: %v; want ErrNotInitialized", err)
	}
	if _, err := o.CreateSignedURL(ctx, "b", "k", time.Minute); !errors.Is(err, rigging.ErrNotInitialized) {
		t.Errorf("CreateSignedURL before Init: %v; want ErrNotInitialized", err)
	}
	cfg := map[string]string{KeyBucket: "b", KeyRegion: "us-east-1", KeyS3URL: "http://127.0.0.1:1", KeyCredentialsFile: staticCreds(t)}
	if err := o.Init(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	if err := o.Init(ctx, cfg); !errors.Is(err, rigging.ErrAlreadyInitialized) {
		t.Errorf("second Init: %v; want ErrAlreadyInitialized", err)
	}
}

func TestRegistered(t *testing.T) {
	e, ok := registry.Default.Lookup(rigging.KindObjectStore, rigging.MustParseName(Name))
	if !ok {
		t.Fatalf("%s is not registered as an ObjectStore", Name)
	}
	v, err := e.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := v.(*ObjectStore); !ok {
		t.Errorf("factory returned %T", v)
	}
}

// TestRegionDiscovery points the SDK's S3 endpoint (AWS_ENDPOINT_URL_S3, as
// a user could) at a fake answering HeadBucket, and checks later requests are
// signed for the region it names, and that a missing bucket or a missing
// answer fail Init clearly.
func TestRegionDiscovery(t *testing.T) {
	var heads atomic.Int32
	var lastAuth atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lastAuth.Store(r.Header.Get("Authorization"))
		if r.Method == http.MethodHead {
			switch r.URL.Path {
			case "/mybucket":
				heads.Add(1)
				w.Header().Set("X-Amz-Bucket-Region", "eu-west-3")
				return
			case "/silent":
				return
			}
		}
		w.WriteHeader(http.StatusNotFound)
	}))
	defer srv.Close()
	t.Setenv("AWS_ENDPOINT_URL_S3", srv.URL)
	t.Setenv("AWS_REGION", "")
	creds := staticCreds(t)
	initStore := func(bucket string) (*ObjectStore, error) {
		o := NewObjectStore(nil)
		return o, o.Init(context.Background(), map[string]string{
			KeyBucket: bucket, KeyS3ForcePathStyle: "true", KeyCredentialsFile: creds,
		})
	}
	o, err := initStore("mybucket")
	if err != nil {
		t.Fatal(err)
	}
	if heads.Load() != 1 {
		t.Fatalf("Init sent %d HeadBucket requests; want 1", heads.Load())
	}
	if _, err := o.GetObject(context.Background(), "mybucket", "k"); err == nil {
		t.Fatal("GetObject on the fake: want an error")
	}
	if auth, _ := lastAuth.Load().(string); !strings.Contains(auth, "/eu-west-3/s3/aws4_request") {
		t.Errorf("request after discovery signed with %q; want the eu-west-3 scope", auth)
	}
	if _, err := initStore("nobucket"); !errors.Is(err, ErrBucketNotFound) || !strings.Contains(err.Error(), `"nobucket"`) {
		t.Errorf("discovery on a missing bucket: %v; want ErrBucketNotFound naming it", err)
	}
	if _, err := initStore("silent"); err == nil || !strings.Contains(err.Error(), "set region") {
		t.Errorf("discovery without x-amz-bucket-region: %v; want an error asking for region", err)
	}
}

func TestCheckTagging(t *testing.T) {
	for _, ok := range []string{"a=b", "a=b&c=d", "a=", "k%20x=v%26y"} {
		if err := checkTagging(ok); err != nil {
			t.Errorf("checkTagging(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"=v", "a=1&a=2", "%zz=1"} {
		if err := checkTagging(bad); err == nil {
			t.Errorf("checkTagging(%q) = nil; want an error", bad)
		}
	}
}

// tlsServerPEM returns the PEM certificate of a throwaway TLS test server.
func tlsServerPEM(t *testing.T) string {
	srv := httptest.NewTLSServer(http.NotFoundHandler())
	srv.Close()
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}))
}

// TestTLSSettings checks caCert and insecureSkipTLSVerify reach the HTTP
// client: a server with a self-signed certificate is trusted with either and
// refused with neither.
func TestTLSSettings(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchKey</Code><Message>missing</Message></Error>`))
	}))
	defer srv.Close()
	caPEM := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}))
	for _, tc := range []struct {
		name   string
		extra  map[string]string
		wantOK bool
	}{
		{"caCert", map[string]string{KeyCACert: caPEM}, true},
		{"insecureSkipTLSVerify", map[string]string{KeyInsecureSkipTLSVerify: "true"}, true},
		{"neither", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := map[string]string{KeyBucket: "b", KeyRegion: "us-east-1", KeyS3URL: srv.URL,
				KeyS3ForcePathStyle: "true", KeyCredentialsFile: staticCreds(t)}
			for k, v := range tc.extra {
				cfg[k] = v
			}
			o := NewObjectStore(nil)
			if err := o.Init(context.Background(), cfg); err != nil {
				t.Fatal(err)
			}
			_, err := o.GetObject(context.Background(), "b", "k")
			if tc.wantOK != errors.Is(err, rigging.ErrNotFound) {
				t.Errorf("GetObject over TLS = %v; want TLS to succeed: %v", err, tc.wantOK)
			}
		})
	}
}
