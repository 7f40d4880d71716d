package aws

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/external"
)

// s3Env is the S3 server the integration tests use, from the variables
// .ci/s3.sh prints.
type s3Env struct {
	endpoint, access, secret, region string
}

// needS3 returns the test server's coordinates, or skips the test loudly
// when RIGGING_S3_ENDPOINT is unset.
func needS3(t testing.TB) s3Env {
	t.Helper()
	e := s3Env{
		endpoint: os.Getenv("RIGGING_S3_ENDPOINT"),
		access:   os.Getenv("RIGGING_S3_ACCESS_KEY"),
		secret:   os.Getenv("RIGGING_S3_SECRET_KEY"),
		region:   os.Getenv("RIGGING_S3_REGION"),
	}
	if e.endpoint == "" {
		t.Skip("SKIPPED: no S3 server. RIGGING_S3_ENDPOINT is unset; start one with `eval \"$(bash .ci/s3.sh)\"` " +
			"from the repository root (installs and runs versitygw on 127.0.0.1) and run the tests again. CI always sets it.")
	}
	if e.access == "" || e.secret == "" {
		t.Fatal("RIGGING_S3_ENDPOINT is set but RIGGING_S3_ACCESS_KEY or RIGGING_S3_SECRET_KEY is not; use the exports of .ci/s3.sh")
	}
	if e.region == "" {
		e.region = "us-east-1"
	}
	return e
}

// credentialsFile writes an AWS shared credentials file holding access and
// secret under profile "default" and returns its path.
func (e s3Env) credentialsFile(t testing.TB, access, secret string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "credentials")
	body := fmt.Sprintf("[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n", access, secret)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// config is the location config of a store on the test server, as a Velero
// user writes it for MinIO-like stores, plus extra.
func (e s3Env) config(t testing.TB, bucket string, extra map[string]string) map[string]string {
	c := map[string]string{
		KeyBucket:           bucket,
		KeyPrefix:           "velero",
		KeyRegion:           e.region,
		KeyS3URL:            e.endpoint,
		KeyS3ForcePathStyle: "true",
		KeyCredentialsFile:  e.credentialsFile(t, e.access, e.secret),
	}
	for k, v := range extra {
		c[k] = v
	}
	return c
}

// client is a plain SDK client for test setup (buckets) and cross-checks.
func (e s3Env) client() *s3.Client {
	return s3.New(s3.Options{
		Region:       e.region,
		BaseEndpoint: aws.String(e.endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(e.access, e.secret, ""),
	})
}

// bucket creates a fresh bucket for t and empties and removes it afterwards.
func (e s3Env) bucket(t testing.TB) string {
	t.Helper()
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := "rigging-" + strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(t.Name()))
	if len(name) > 50 {
		name = name[:50]
	}
	name = strings.TrimRight(name, "-") + "-" + hex.EncodeToString(b[:])
	c := e.client()
	ctx := context.Background()
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("create bucket %s: %v", name, err)
	}
	t.Cleanup(func() {
		p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(name)})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Logf("cleanup: list %s: %v", name, err)
				return
			}
			for _, o := range page.Contents {
				if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(name), Key: o.Key}); err != nil {
					t.Logf("cleanup: delete %s/%s: %v", name, aws.ToString(o.Key), err)
				}
			}
		}
		if _, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(name)}); err != nil {
			t.Logf("cleanup: delete bucket %s: %v", name, err)
		}
	})
	return name
}

// store returns an initialized ObjectStore on bucket of the test server.
func (e s3Env) store(t testing.TB, bucket string, extra map[string]string) *ObjectStore {
	t.Helper()
	o := NewObjectStore(nil)
	if err := o.Init(context.Background(), e.config(t, bucket, extra)); err != nil {
		t.Fatalf("Init: %v", err)
	}
	return o
}

// pluginStore returns velero.io/aws served by a subprocess of the plugin
// binary bin (pluginBinary's), initialised on bucket of the test server;
// the process stops when the test ends.
func (e s3Env) pluginStore(t testing.TB, bin, bucket string) rigging.ObjectStore {
	t.Helper()
	ctx := context.Background()
	cat, err := external.OpenBinary(ctx, bin, external.Options{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cat.Close() })
	v, err := cat.Open(ctx, rigging.KindObjectStore, rigging.MustParseName(Name))
	if err != nil {
		t.Fatal(err)
	}
	o := v.(rigging.ObjectStore)
	if err := o.Init(ctx, e.config(t, bucket, nil)); err != nil {
		t.Fatalf("Init: %v", err)
	}
	return o
}
