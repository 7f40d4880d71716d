package aws

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/rigging-dev/rigging"
)

func TestS3EveryMethod(t *testing.T) {
	e := needS3(t)
	ctx := context.Background()
	bucket := e.bucket(t)
	o := e.store(t, bucket, nil)

	objects := map[string]string{
		"velero/backups/b1/velero-backup.json": `{"kind":"Backup"}`,
		"velero/backups/b1/b1.tar.gz":          "tarball",
		"velero/backups/b2/velero-backup.json": `{"kind":"Backup","name":"b2"}`,
		"velero/restores/r1/restore-r1-logs":   "logs",
		"velero/empty":                         "",
	}
	for k, v := range objects {
		if err := o.PutObject(ctx, bucket, k, strings.NewReader(v)); err != nil {
			t.Fatalf("PutObject %s: %v", k, err)
		}
	}
	for k, want := range objects {
		ok, err := o.ObjectExists(ctx, bucket, k)
		if err != nil || !ok {
			t.Errorf("ObjectExists(%s) = %v, %v; want true, nil", k, ok, err)
		}
		rc, err := o.GetObject(ctx, bucket, k)
		if err != nil {
			t.Fatalf("GetObject %s: %v", k, err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || string(got) != want {
			t.Errorf("GetObject(%s) = %q, %v; want %q", k, got, err, want)
		}
	}

	if ok, err := o.ObjectExists(ctx, bucket, "velero/backups/nope"); err != nil || ok {
		t.Errorf("ObjectExists(missing) = %v, %v; want false, nil", ok, err)
	}
	_, err := o.GetObject(ctx, bucket, "velero/backups/nope")
	if !errors.Is(err, rigging.ErrNotFound) {
		t.Errorf("GetObject(missing) error = %v; want one matching rigging.ErrNotFound", err)
	}
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "NoSuchKey" {
		t.Errorf("GetObject(missing): errors.As smithy.APIError gives %v; want code NoSuchKey", ae)
	}
	if !strings.Contains(err.Error(), bucket) || !strings.Contains(err.Error(), "velero/backups/nope") || !strings.Contains(err.Error(), "plugin velero.io/aws: get") {
		t.Errorf("GetObject(missing) error %q does not name the plugin, operation, bucket and key", err)
	}

	prefixes, err := o.ListCommonPrefixes(ctx, bucket, "velero/backups/", "/")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"velero/backups/b1/", "velero/backups/b2/"}; !slices.Equal(prefixes, want) {
		t.Errorf("ListCommonPrefixes = %q; want %q", prefixes, want)
	}
	top, err := o.ListCommonPrefixes(ctx, bucket, "velero/", "/")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"velero/backups/", "velero/restores/"}; !slices.Equal(top, want) {
		t.Errorf("ListCommonPrefixes(velero/) = %q; want %q", top, want)
	}

	keys, err := o.ListObjects(ctx, bucket, "velero/backups/b1/")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"velero/backups/b1/velero-backup.json", "velero/backups/b1/b1.tar.gz"}; !slices.Equal(keys, want) {
		t.Errorf("ListObjects = %q; want %q (reverse order)", keys, want)
	}

	// Replacing an object.
	if err := o.PutObject(ctx, bucket, "velero/empty", strings.NewReader("now full")); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, o, bucket, "velero/empty"); got != "now full" {
		t.Errorf("after overwrite got %q", got)
	}

	if err := o.DeleteObject(ctx, bucket, "velero/backups/b1/b1.tar.gz"); err != nil {
		t.Fatal(err)
	}
	if ok, err := o.ObjectExists(ctx, bucket, "velero/backups/b1/b1.tar.gz"); err != nil || ok {
		t.Errorf("after delete ObjectExists = %v, %v", ok, err)
	}
	if err := o.DeleteObject(ctx, bucket, "velero/backups/b1/b1.tar.gz"); err != nil {
		t.Errorf("deleting a missing key: %v; want nil", err)
	}
}

func readAll(t *testing.T, o *ObjectStore, bucket, key string) string {
	t.Helper()
	rc, err := o.GetObject(context.Background(), bucket, key)
	if err != nil {
		t.Fatalf("GetObject %s: %v", key, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	return string(b)
}

// TestS3PaginationPast1000 puts more keys than S3 returns in one page (1000)
// and checks both list calls follow the continuation tokens.
func TestS3PaginationPast1000(t *testing.T) {
	e := needS3(t)
	ctx := context.Background()
	bucket := e.bucket(t)
	o := e.store(t, bucket, nil)

	const n = 1105 // keys, and also common prefixes
	const workers = 16
	keys := make(chan string)
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Go(func() {
			for k := range keys {
				if err := o.PutObject(ctx, bucket, k, strings.NewReader(k)); err != nil {
					errs <- err
					for range keys { // drain so the producer finishes
					}
					return
				}
			}
		})
	}
	var want, wantPrefixes []string
	for i := range n {
		p := fmt.Sprintf("velero/backups/b%04d/", i)
		k := p + "velero-backup.json"
		want = append(want, k)
		wantPrefixes = append(wantPrefixes, p)
		keys <- k
	}
	close(keys)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("PutObject: %v", err)
	}

	got, err := o.ListObjects(ctx, bucket, "velero/backups/")
	if err != nil {
		t.Fatal(err)
	}
	slices.Reverse(want)
	if !slices.Equal(got, want) {
		t.Errorf("ListObjects returned %d keys, want %d (first %q, last %q)", len(got), len(want), first(got), last(got))
	}
	prefixes, err := o.ListCommonPrefixes(ctx, bucket, "velero/backups/", "/")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(prefixes, wantPrefixes) {
		t.Errorf("ListCommonPrefixes returned %d prefixes, want %d (first %q, last %q)", len(prefixes), len(wantPrefixes), first(prefixes), last(prefixes))
	}
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

func last(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[len(s)-1]
}

func TestS3SignedURL(t *testing.T) {
	e := needS3(t)
	ctx := context.Background()
	bucket := e.bucket(t)
	o := e.store(t, bucket, nil)
	body := []byte("signed content\n")
	key := "velero/backups/b1/b1-logs.gz"
	if err := o.PutObject(ctx, bucket, key, bytes.NewReader(body)); err != nil {
		t.Fatal(err)
	}
	u, err := o.CreateSignedURL(ctx, bucket, key, 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(u, e.endpoint+"/"+bucket+"/") || !strings.Contains(u, "X-Amz-Signature=") || !strings.Contains(u, "X-Amz-Expires=600") {
		t.Errorf("signed URL %s: want a path-style SigV4 URL on %s expiring in 600s", u, e.endpoint)
	}
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Equal(got, body) {
		t.Errorf("GET signed URL: %s %q; want 200 %q", resp.Status, got, body)
	}

	// The signature covers the key: the same query on another key is refused.
	other := strings.Replace(u, "b1-logs.gz", "b1.tar.gz", 1)
	resp, err = http.Get(other)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("GET with the signature of another key: %s; want 403", resp.Status)
	}

	// publicUrl changes where the URL points, not what it signs for.
	pub := e.store(t, bucket, map[string]string{KeyPublicURL: "https://backups.example.com:9000"})
	pu, err := pub.CreateSignedURL(ctx, bucket, key, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(pu, "https://backups.example.com:9000/"+bucket+"/"+key+"?") {
		t.Errorf("signed URL with publicUrl = %s; want it on https://backups.example.com:9000", pu)
	}
}

func TestS3WrongCredentials(t *testing.T) {
	e := needS3(t)
	ctx := context.Background()
	bucket := e.bucket(t)
	for _, tc := range []struct {
		name, access, secret string
		codes                []string // S3's, and versitygw's own for an unknown key
	}{
		{"unknown access key", "AKIANOTAREALKEY00000", e.secret, []string{"InvalidAccessKeyId", "XAdminUserNotFound"}},
		{"wrong secret", e.access, "wrong-secret-wrong-secret-wrong-secret00", []string{"SignatureDoesNotMatch"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := e.config(t, bucket, map[string]string{KeyCredentialsFile: e.credentialsFile(t, tc.access, tc.secret)})
			o := NewObjectStore(nil)
			if err := o.Init(ctx, cfg); err != nil {
				t.Fatalf("Init: %v (Init sends no request when region is set, so it should succeed)", err)
			}
			err := o.PutObject(ctx, bucket, "velero/x", strings.NewReader("x"))
			if !errors.Is(err, ErrAccessDenied) {
				t.Fatalf("PutObject with %s: %v; want an error matching ErrAccessDenied", tc.name, err)
			}
			var ae smithy.APIError
			if !errors.As(err, &ae) || !slices.Contains(tc.codes, ae.ErrorCode()) {
				t.Errorf("error code = %v; want one of %s", ae, tc.codes)
			}
			for _, s := range []string{"credentials", bucket, "velero/x", "put"} {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %q", err, s)
				}
			}
			if strings.Contains(err.Error(), tc.secret) {
				t.Errorf("error %q contains the secret key", err)
			}
			if _, err := o.ObjectExists(ctx, bucket, "velero/x"); !errors.Is(err, ErrAccessDenied) {
				t.Errorf("ObjectExists with %s: %v; want ErrAccessDenied, not a silent false", tc.name, err)
			}
		})
	}
}

func TestS3MissingBucket(t *testing.T) {
	e := needS3(t)
	ctx := context.Background()
	const bucket = "rigging-no-such-bucket-7f3a"
	o := e.store(t, bucket, nil)
	calls := map[string]func() error{
		"put": func() error { return o.PutObject(ctx, bucket, "velero/k", strings.NewReader("x")) },
		"get": func() error { _, err := o.GetObject(ctx, bucket, "velero/k"); return err },
		"head": func() error {
			ok, err := o.ObjectExists(ctx, bucket, "velero/k")
			if ok {
				return errors.New("ObjectExists says true")
			}
			return err
		},
		"list":          func() error { _, err := o.ListObjects(ctx, bucket, "velero/"); return err },
		"list prefixes": func() error { _, err := o.ListCommonPrefixes(ctx, bucket, "velero/", "/"); return err },
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			err := call()
			if !errors.Is(err, ErrBucketNotFound) {
				t.Fatalf("%s on a missing bucket: %v; want an error matching ErrBucketNotFound", name, err)
			}
			if errors.Is(err, rigging.ErrNotFound) {
				t.Errorf("a missing bucket must not read as a missing key: %v", err)
			}
			if !strings.Contains(err.Error(), "bucket does not exist") || !strings.Contains(err.Error(), bucket) {
				t.Errorf("error %q does not say the bucket %s does not exist", err, bucket)
			}
		})
	}
}

// TestS3FailedPutLeavesNothing checks that a body failing mid-way (after
// more than one part) aborts the upload: no object appears.
func TestS3FailedPutLeavesNothing(t *testing.T) {
	e := needS3(t)
	ctx := context.Background()
	bucket := e.bucket(t)
	o := e.store(t, bucket, nil)
	boom := errors.New("disk went away")
	body := io.MultiReader(io.LimitReader(zeros{}, UploadPartSize+1<<20), errReader{boom})
	err := o.PutObject(ctx, bucket, "velero/partial", body)
	if !errors.Is(err, boom) {
		t.Fatalf("PutObject = %v; want the body's error", err)
	}
	if ok, err := o.ObjectExists(ctx, bucket, "velero/partial"); err != nil || ok {
		t.Errorf("after a failed put ObjectExists = %v, %v; want false, nil", ok, err)
	}
	uploads, err := e.client().ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatal(err)
	}
	if len(uploads.Uploads) != 0 {
		t.Errorf("%d multipart uploads left behind; want the failed one aborted", len(uploads.Uploads))
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }
