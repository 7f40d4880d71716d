package rigginghost

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/manager"
)

// awsPlugin is the real velero-plugin-for-aws, installed as the issue
// says (go install ...@v1.14.3) into dir.
func awsPlugin(t *testing.T, dir string) string {
	t.Helper()
	cmd := exec.Command("go", "install", "github.com/vmware-tanzu/velero-plugin-for-aws/velero-plugin-for-aws@v1.14.3")
	cmd.Env = append(os.Environ(), "GOBIN="+dir, "GOFLAGS=")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go install velero-plugin-for-aws: %v\n%s", err, b)
	}
	return filepath.Join(dir, "velero-plugin-for-aws")
}

// TestVeleroPluginForAWS: rigging discovers the real AWS plugin
// (velero.io/aws, ObjectStore and VolumeSnapshotter, sourced from the
// binary) and drives every ObjectStore method against a real S3 server.
func TestVeleroPluginForAWS(t *testing.T) {
	dir := t.TempDir()
	bin := awsPlugin(t, dir)
	m, cat := newManager(t, dir)
	var got []string
	for _, p := range cat.Plugins() {
		if p.Source != bin {
			t.Errorf("%s %s: source %s, want %s", p.Kind, p.Name, p.Source, bin)
		}
		got = append(got, string(p.Kind)+" "+string(p.Name))
	}
	if want := []string{"VolumeSnapshotter velero.io/aws", "ObjectStore velero.io/aws"}; !slices.Equal(got, want) {
		t.Errorf("plugins %q, want %q", got, want)
	}
	for _, p := range m.Plugins() {
		if p.Name == "velero.io/aws" && (p.Transport != manager.TransportGRPC || !p.Active) {
			t.Errorf("Manager lists %+v", p)
		}
	}

	endpoint, key, secret, region := os.Getenv("RIGGING_S3_ENDPOINT"), os.Getenv("RIGGING_S3_ACCESS_KEY"), os.Getenv("RIGGING_S3_SECRET_KEY"), os.Getenv("RIGGING_S3_REGION")
	if endpoint == "" {
		t.Skip("SKIPPING the S3 half: RIGGING_S3_ENDPOINT is not set (run `eval \"$(bash .ci/s3.sh)\"` first; CI does)")
	}
	ctx := context.Background()
	bucket := "rigging-interop-" + strings.ToLower(strings.ReplaceAll(time.Now().Format("150405.000000"), ".", ""))
	client := s3.New(s3.Options{Region: region, BaseEndpoint: aws.String(endpoint), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(key, secret, "")})
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatalf("create bucket: %v", err)
	}
	// The plugin takes its credentials from the environment, which the
	// host passes to the plugin process.
	t.Setenv("AWS_ACCESS_KEY_ID", key)
	t.Setenv("AWS_SECRET_ACCESS_KEY", secret)

	s, err := m.ObjectStore(ctx, "aws")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Init(ctx, map[string]string{"bucket": bucket, "prefix": "", "region": region, "s3Url": endpoint, "s3ForcePathStyle": "true"}); err != nil {
		t.Fatal(err)
	}
	body := bytes.Repeat([]byte("velero-plugin-for-aws through rigging\n"), 3000) // 114 KB: 7 chunks
	for _, k := range []string{"backups/b1/b1.tar.gz", "backups/b2/velero-backup.json"} {
		if err := s.PutObject(ctx, bucket, k, bytes.NewReader(body)); err != nil {
			t.Fatalf("put %s: %v", k, err)
		}
	}
	if ok, err := s.ObjectExists(ctx, bucket, "backups/b1/b1.tar.gz"); !ok || err != nil {
		t.Errorf("exists %v %v", ok, err)
	}
	if ok, err := s.ObjectExists(ctx, bucket, "backups/none"); ok || err != nil {
		t.Errorf("missing exists %v %v", ok, err)
	}
	rc, err := s.GetObject(ctx, bucket, "backups/b1/b1.tar.gz")
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(b, body) {
		t.Errorf("get: %d bytes %v", len(b), err)
	}
	if p, err := s.ListCommonPrefixes(ctx, bucket, "backups/", "/"); err != nil || !slices.Equal(p, []string{"backups/b1/", "backups/b2/"}) {
		t.Errorf("prefixes %v %v", p, err)
	}
	if k, err := s.ListObjects(ctx, bucket, "backups/b2/"); err != nil || !slices.Equal(k, []string{"backups/b2/velero-backup.json"}) {
		t.Errorf("keys %v %v", k, err)
	}
	if u, err := s.CreateSignedURL(ctx, bucket, "backups/b1/b1.tar.gz", 10*time.Minute); err != nil || !strings.Contains(u, "X-Amz-Expires=600") {
		t.Errorf("signed URL %q %v (ttl must arrive as 10m)", u, err)
	}
	for _, k := range []string{"backups/b1/b1.tar.gz", "backups/b2/velero-backup.json"} {
		if err := s.DeleteObject(ctx, bucket, k); err != nil {
			t.Errorf("delete %s: %v", k, err)
		}
	}
	if k, err := s.ListObjects(ctx, bucket, ""); err != nil || len(k) != 0 {
		t.Errorf("after delete: %v %v", k, err)
	}
	_ = rigging.KindObjectStore
}
