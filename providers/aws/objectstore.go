package aws

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/providers/aws/internal/awsconf"
	"github.com/rigging-dev/rigging/registry"
)

// Name is the plugin name the object store and the EBS volume snapshotter
// register under, as velero-plugin-for-aws does.
const Name = "velero.io/aws"

// Upload tuning. A body of unknown length is buffered one part at a time per
// concurrent upload, so PutObject holds at most about
// UploadPartSize*UploadConcurrency bytes of it, whatever its size; S3's limit
// of 10,000 parts puts the largest object at UploadPartSize*10,000 (156 GiB).
const (
	UploadPartSize    = 16 << 20
	UploadConcurrency = 4
)

func init() {
	registry.Register(Name, func(log *slog.Logger) (rigging.ObjectStore, error) {
		return NewObjectStore(log), nil
	})
}

// ObjectStore is the velero.io/aws object store: Amazon S3 or any
// S3-compatible store, configured with velero-plugin-for-aws's keys. It is
// safe for concurrent use once Init has returned.
type ObjectStore struct {
	log *slog.Logger

	mu      sync.Mutex  // serializes Init
	inited  atomic.Bool // set once Init has filled the fields below
	cfg     storeConfig
	client  *s3.Client
	presign *s3.PresignClient
	upload  *manager.Uploader
}

// NewObjectStore returns an ObjectStore that logs to log (nil: slog.Default()).
// Call Init before anything else.
func NewObjectStore(log *slog.Logger) *ObjectStore {
	if log == nil {
		log = slog.Default()
	}
	return &ObjectStore{log: log}
}

// Init validates config (see the Key constants; an unknown key or malformed
// value is an error wrapping ErrInvalidConfig that names the key), resolves
// credentials (reading a credentialsFile's now), reads the SSE-C key of
// customerKeyEncryptionSecret from the Kubernetes API, and, when neither
// region nor s3Url is set, asks S3 for the bucket's region; it sends no other
// request. A failed Init may be retried; a second Init after a successful one
// fails with rigging.ErrAlreadyInitialized.
func (o *ObjectStore) Init(ctx context.Context, config map[string]string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.inited.Load() {
		return fmt.Errorf("plugin %s: init: %w", Name, rigging.ErrAlreadyInitialized)
	}
	if err := o.init(ctx, config); err != nil {
		return fmt.Errorf("plugin %s: init: %w", Name, err)
	}
	o.inited.Store(true)
	return nil
}

func (o *ObjectStore) init(ctx context.Context, config map[string]string) error {
	c, err := parseConfig(config)
	if err != nil {
		return err
	}
	if c.secretRef != "" {
		key, err := readCustomerKeySecret(ctx, c.secretRef, defaultInCluster())
		if err != nil {
			return err
		}
		c.sseCustomerKey, c.sseCustomerMD5 = encodeCustomerKey(key)
	}
	if c.signatureV1 {
		o.log.Warn("signatureVersion \"1\" is accepted for compatibility; requests and signed URLs use SigV4, as velero-plugin-for-aws v1.14 does")
	}
	awsCfg, err := awsconf.Load(ctx, c.conf)
	if err != nil {
		return err
	}
	if c.s3URL == "" && c.region == "" {
		region, err := manager.GetBucketRegion(ctx, newS3Client(awsCfg, "", c.forcePathStyle), c.bucket,
			func(so *s3.Options) { so.Region = "us-east-1" })
		var nf manager.BucketNotFound
		switch {
		case errors.As(err, &nf):
			return fmt.Errorf("discover the region of bucket %q: %w", c.bucket, ErrBucketNotFound)
		case err != nil:
			return fmt.Errorf("discover the region of bucket %q (set %s to skip this): %w", c.bucket, KeyRegion, err)
		case region == "":
			return fmt.Errorf("discover the region of bucket %q: S3 did not say (no x-amz-bucket-region header); set %s", c.bucket, KeyRegion)
		}
		o.log.Debug("discovered bucket region", "bucket", c.bucket, "region", region)
		awsCfg.Region = region
		c.region = region
	}
	if awsCfg.Region == "" {
		// S3-compatible stores usually ignore the region, but SigV4 needs one.
		awsCfg.Region = "us-east-1"
	}
	o.cfg = c
	o.client = newS3Client(awsCfg, c.s3URL, c.forcePathStyle)
	o.upload = manager.NewUploader(o.client, func(u *manager.Uploader) {
		u.PartSize = UploadPartSize
		u.Concurrency = UploadConcurrency
	})
	presignFrom := o.client
	if c.publicURL != "" {
		presignFrom = newS3Client(awsCfg, c.publicURL, c.forcePathStyle)
	}
	o.presign = s3.NewPresignClient(presignFrom)
	return nil
}

func newS3Client(cfg aws.Config, endpoint string, pathStyle bool) *s3.Client {
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.UsePathStyle = pathStyle
		// Checksums only when asked for: many S3-compatible stores reject
		// the SDK's default trailing checksums (velero#9951).
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	})
}

// ready reports whether Init has succeeded. The atomic store at the end of
// Init publishes the fields it set to every caller that sees it.
func (o *ObjectStore) ready(op, bucket, key string) error {
	if !o.inited.Load() {
		return &OpError{Op: op, Bucket: bucket, Key: key, Err: rigging.ErrNotInitialized}
	}
	return nil
}

// PutObject uploads body to key, in parts of UploadPartSize with up to
// UploadConcurrency parts in flight when it is larger than one part; memory
// use is bounded by those two numbers, not by the body's size. A failed
// multipart upload is aborted, so no partial object becomes visible. The
// configured tagging, server-side encryption and checksum algorithm apply.
// body need not be seekable: a pipe, a socket or stdin uploads as any
// reader of unknown length does.
func (o *ObjectStore) PutObject(ctx context.Context, bucket, key string, body io.Reader) error {
	if err := o.ready("put", bucket, key); err != nil {
		return err
	}
	in := &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: uploadBody(body)}
	if o.cfg.tagging != "" {
		in.Tagging = aws.String(o.cfg.tagging)
	}
	switch {
	case o.cfg.kmsKeyID != "":
		in.ServerSideEncryption = types.ServerSideEncryptionAwsKms
		in.SSEKMSKeyId = aws.String(o.cfg.kmsKeyID)
	case o.cfg.sseCustomerKey != "":
		in.SSECustomerAlgorithm, in.SSECustomerKey, in.SSECustomerKeyMD5 = o.sseC()
	case o.cfg.sse != "":
		in.ServerSideEncryption = types.ServerSideEncryption(o.cfg.sse)
	}
	in.ChecksumAlgorithm = o.cfg.checksum
	if _, err := o.upload.Upload(ctx, in); err != nil {
		return o.fail("put", bucket, key, err)
	}
	return nil
}

// uploadBody returns body as the upload manager may take it. The manager
// sizes any io.Seeker by seeking, and reads parts of an io.ReaderAt in
// place; an *os.File on a pipe, a socket or a terminal has both methods but
// fails them ("seek /dev/stdin: illegal seek"). A seeker that cannot report
// its position is therefore handed over as a plain reader, which the
// manager buffers one part at a time.
func uploadBody(body io.Reader) io.Reader {
	s, ok := body.(io.Seeker)
	if !ok {
		return body
	}
	if _, err := s.Seek(0, io.SeekCurrent); err != nil {
		return struct{ io.Reader }{body}
	}
	return body
}

// sseC returns the SSE-C request fields, or nils when SSE-C is off.
func (o *ObjectStore) sseC() (alg, key, md5 *string) {
	if o.cfg.sseCustomerKey == "" {
		return nil, nil, nil
	}
	return aws.String("AES256"), aws.String(o.cfg.sseCustomerKey), aws.String(o.cfg.sseCustomerMD5)
}

// ObjectExists sends a HEAD for key: (true, nil) when it exists, (false, nil)
// when S3 answers 404, and an error for anything else (403, a missing
// bucket, the network).
func (o *ObjectStore) ObjectExists(ctx context.Context, bucket, key string) (bool, error) {
	if err := o.ready("head", bucket, key); err != nil {
		return false, err
	}
	in := &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}
	in.SSECustomerAlgorithm, in.SSECustomerKey, in.SSECustomerKeyMD5 = o.sseC()
	_, err := o.client.HeadObject(ctx, in)
	if err == nil {
		return true, nil
	}
	if !isNotFoundKey(err) {
		return false, o.fail("head", bucket, key, err)
	}
	// A HEAD answer has no body, so a missing bucket looks like a missing
	// key, and some S3-compatible stores answer a HEAD with an unknown access
	// key with a bare 404 too. A one-key list of the same name has a body
	// with S3's error code: it tells these apart. A list refused for lack of
	// s3:ListBucket leaves the answer "missing key".
	_, lerr := o.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{
		Bucket: aws.String(bucket), Prefix: aws.String(key), MaxKeys: aws.Int32(1),
	})
	switch {
	case lerr == nil, isCode(lerr, "AccessDenied"):
	default: // NoSuchBucket, bad credentials, the network
		return false, o.fail("head", bucket, key, lerr)
	}
	return false, nil
}

// GetObject opens key for streaming; nothing is buffered beyond what the
// caller reads. A missing key is an error matching rigging.ErrNotFound.
func (o *ObjectStore) GetObject(ctx context.Context, bucket, key string) (io.ReadCloser, error) {
	if err := o.ready("get", bucket, key); err != nil {
		return nil, err
	}
	in := &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}
	in.SSECustomerAlgorithm, in.SSECustomerKey, in.SSECustomerKeyMD5 = o.sseC()
	out, err := o.client.GetObject(ctx, in)
	if err != nil {
		return nil, o.fail("get", bucket, key, err)
	}
	return out.Body, nil
}

// ListCommonPrefixes returns the full common prefixes (each ending in
// delimiter) under prefix, following continuation tokens past S3's 1000 keys
// per page, in S3's (lexicographic) order.
func (o *ObjectStore) ListCommonPrefixes(ctx context.Context, bucket, prefix, delimiter string) ([]string, error) {
	if err := o.ready("list prefixes", bucket, prefix); err != nil {
		return nil, err
	}
	var out []string
	p := s3.NewListObjectsV2Paginator(o.client, &s3.ListObjectsV2Input{
		Bucket: aws.String(bucket), Prefix: aws.String(prefix), Delimiter: aws.String(delimiter),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, o.fail("list prefixes", bucket, prefix, err)
		}
		for _, cp := range page.CommonPrefixes {
			out = append(out, aws.ToString(cp.Prefix))
		}
	}
	return out, nil
}

// ListObjects returns every key under prefix, following continuation tokens.
// Keys come in reverse lexicographic order, as velero-plugin-for-aws returns
// them, so a deleter removes "dir/file" before a "dir/" placeholder object.
func (o *ObjectStore) ListObjects(ctx context.Context, bucket, prefix string) ([]string, error) {
	if err := o.ready("list", bucket, prefix); err != nil {
		return nil, err
	}
	var out []string
	p := s3.NewListObjectsV2Paginator(o.client, &s3.ListObjectsV2Input{
		Bucket: aws.String(bucket), Prefix: aws.String(prefix),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, o.fail("list", bucket, prefix, err)
		}
		for _, obj := range page.Contents {
			out = append(out, aws.ToString(obj.Key))
		}
	}
	slices.Sort(out)
	slices.Reverse(out)
	return out, nil
}

// DeleteObject deletes key; S3 reports success for a missing key, and so does
// this.
func (o *ObjectStore) DeleteObject(ctx context.Context, bucket, key string) error {
	if err := o.ready("delete", bucket, key); err != nil {
		return err
	}
	_, err := o.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil && !isNotFoundKey(err) {
		return o.fail("delete", bucket, key, err)
	}
	return nil
}

// CreateSignedURL presigns (SigV4, query string) a GET of key valid for ttl,
// against publicUrl when set, else the endpoint requests go to. It sends no
// request. S3 caps ttl at 7 days.
func (o *ObjectStore) CreateSignedURL(ctx context.Context, bucket, key string, ttl time.Duration) (string, error) {
	if err := o.ready("sign", bucket, key); err != nil {
		return "", err
	}
	in := &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}
	in.SSECustomerAlgorithm, in.SSECustomerKey, in.SSECustomerKeyMD5 = o.sseC()
	req, err := o.presign.PresignGetObject(ctx, in, s3.WithPresignExpires(ttl))
	if err != nil {
		return "", o.fail("sign", bucket, key, err)
	}
	return req.URL, nil
}

// fail wraps err in an *OpError and logs nothing: the host's middleware logs
// failed calls once.
func (o *ObjectStore) fail(op, bucket, key string, err error) error {
	return &OpError{Op: op, Bucket: bucket, Key: key, Err: err}
}

var _ rigging.ObjectStore = (*ObjectStore)(nil)
