package aws

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/rigging-dev/rigging"
)

// TestS3PutFromPipe puts bodies read from an os.Pipe, as `rigging store put
// KEY -` reads stdin: an *os.File that has Seek and ReadAt methods but
// cannot seek. Each must upload, in process and across a plugin
// subprocess, and come back byte for byte; one larger than two parts must
// go up as a multipart upload (its ETag counts the parts).
func TestS3PutFromPipe(t *testing.T) {
	e := needS3(t)
	ctx := context.Background()
	bucket := e.bucket(t)
	stores := map[string]rigging.ObjectStore{"inproc": e.store(t, bucket, nil), "subprocess": e.pluginStore(t, pluginBinary(t), bucket)}

	for _, tc := range []struct {
		name  string
		size  int64
		parts string // the part count after the ETag's "-": "" for a single PUT
	}{
		{"empty", 0, ""},
		{"small", 100 << 10, ""},
		{"multipart", 2*UploadPartSize + 1<<20, "3"},
	} {
		for _, mode := range []string{"inproc", "subprocess"} {
			t.Run(tc.name+"/"+mode, func(t *testing.T) {
				key := "velero/pipe/" + tc.name + "-" + mode
				sum := putPipe(t, stores[mode], bucket, key, tc.size)
				rc, err := stores[mode].GetObject(ctx, bucket, key)
				if err != nil {
					t.Fatal(err)
				}
				h := sha256.New()
				n, err := io.Copy(h, rc)
				rc.Close()
				if err != nil || n != tc.size || !bytes.Equal(h.Sum(nil), sum) {
					t.Fatalf("read back %d bytes (err %v), sha256 equal %v; want the %d bytes put", n, err, bytes.Equal(h.Sum(nil), sum), tc.size)
				}
				head, err := e.client().HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
				if err != nil {
					t.Fatal(err)
				}
				etag := strings.Trim(aws.ToString(head.ETag), `"`)
				if _, got, _ := strings.Cut(etag, "-"); got != tc.parts {
					t.Errorf("ETag %s: want part count %q after the '-' (\"\": a single PUT)", etag, tc.parts)
				}
			})
		}
	}
}

// putPipe puts size bytes of the test pattern under key, read from an
// os.Pipe, and returns their SHA-256.
func putPipe(t *testing.T, o rigging.ObjectStore, bucket, key string, size int64) []byte {
	t.Helper()
	body, done := patternPipe(t, size)
	err := o.PutObject(context.Background(), bucket, key, body)
	sum, werr := done()
	if err != nil {
		t.Fatalf("PutObject from a pipe: %v", err)
	}
	if werr != nil {
		t.Fatalf("write the pipe: %v", werr)
	}
	return sum
}

// patternPipe returns the read end of an os.Pipe into which a goroutine
// writes size bytes of the test pattern. done closes the read end (a writer
// still blocked then fails), waits for the writer and returns the SHA-256 of
// what it wrote and its error.
func patternPipe(t testing.TB, size int64) (body *os.File, done func() ([]byte, error)) {
	t.Helper()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	wrote := make(chan error, 1)
	go func() {
		_, err := io.Copy(pw, io.TeeReader(newPatternReader(size), h))
		wrote <- errors.Join(err, pw.Close())
	}()
	return pr, func() ([]byte, error) {
		pr.Close()
		err := <-wrote
		return h.Sum(nil), err
	}
}
