package aws

import (
	"errors"
	"fmt"
	"net/http"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/providers/aws/internal/awsconf"
)

// Sentinel errors of the object store, for errors.Is.
var (
	// ErrInvalidConfig marks an Init error caused by the config: an unknown
	// key or a malformed value. The message names the key.
	ErrInvalidConfig = awsconf.ErrInvalidConfig
	// ErrBucketNotFound marks an operation on a bucket that does not exist
	// (S3 code NoSuchBucket).
	ErrBucketNotFound = errors.New("bucket does not exist")
	// ErrAccessDenied marks a request S3 refused for its credentials: an
	// unknown access key, a wrong secret, an expired token, or a missing
	// permission.
	ErrAccessDenied = errors.New("access denied: check the credentials (credentialsFile, profile) and the bucket policy")
)

// OpError is a failed object-store operation. It names the plugin, the
// operation, the bucket and the key (or prefix), and wraps the SDK's error,
// so errors.As to smithy.APIError still yields S3's error code. A missing
// key also matches rigging.ErrNotFound, a missing bucket ErrBucketNotFound,
// and a credentials problem ErrAccessDenied.
type OpError struct {
	Op     string // "put", "get", "head", "list", "list prefixes", "delete", "sign"
	Bucket string
	Key    string // the key, or the prefix of a list
	Err    error
}

// Error implements error: "plugin velero.io/aws: get s3://bucket/key: <cause>".
func (e *OpError) Error() string {
	msg := fmt.Sprintf("plugin %s: %s s3://%s/%s: ", Name, e.Op, e.Bucket, e.Key)
	if s := e.kind(); s != nil && !errors.Is(e.Err, s) {
		msg += s.Error() + ": "
	}
	return msg + e.Err.Error()
}

// Unwrap returns the cause and, where one applies, the sentinel it matches.
func (e *OpError) Unwrap() []error {
	if s := e.kind(); s != nil {
		return []error{e.Err, s}
	}
	return []error{e.Err}
}

// Code returns S3's error code ("NoSuchKey", "AccessDenied", …), or "" when
// the failure did not come from S3.
func (e *OpError) Code() string {
	var ae smithy.APIError
	if errors.As(e.Err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func (e *OpError) kind() error {
	switch {
	case isNoSuchBucket(e.Err):
		return ErrBucketNotFound
	case isNotFoundKey(e.Err):
		return rigging.ErrNotFound
	case isAccessDenied(e.Err):
		return ErrAccessDenied
	}
	return nil
}

func isNoSuchBucket(err error) bool {
	var nb *types.NoSuchBucket
	if errors.As(err, &nb) {
		return true
	}
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == "NoSuchBucket"
}

// isNotFoundKey reports a missing key: NoSuchKey from GET, or the bare 404
// (NotFound) a HEAD gets.
func isNotFoundKey(err error) bool {
	if isNoSuchBucket(err) {
		return false
	}
	var nk *types.NoSuchKey
	var nf *types.NotFound
	if errors.As(err, &nk) || errors.As(err, &nf) {
		return true
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "NoSuchKey", "NotFound":
			return true
		}
	}
	var re *awshttp.ResponseError
	return errors.As(err, &re) && re.HTTPStatusCode() == http.StatusNotFound && !errors.As(err, &ae)
}

func isAccessDenied(err error) bool {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "AccessDenied", "Forbidden",
			"InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken", "TokenRefreshRequired",
			"XAdminUserNotFound": // versitygw's answer (with a 404) to an unknown access key
			return true
		}
	}
	var re *awshttp.ResponseError
	return errors.As(err, &re) && re.HTTPStatusCode() == http.StatusForbidden
}

// isCode reports whether err carries S3 error code code.
func isCode(err error, code string) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == code
}
