package rigging

import (
	"context"
	"io"
	"time"
)

// ObjectStore stores backups: Velero's velero.ObjectStore with a context first
// on every method (velero-protocol.md §2.3). A host creates one instance per
// storage location and calls Init once before anything else.
//
// Implementations must be safe for concurrent use once Init has returned.
type ObjectStore interface {
	// Init configures the store. config is the storage location's config plus
	// "bucket" and "prefix" (and "caCert", "credentialsFile" where set). An
	// unknown key or a malformed value is an error naming the key.
	Init(ctx context.Context, config map[string]string) error
	// PutObject stores body under key, replacing any object there. It reads
	// body to io.EOF and must not retain it after returning; a body that fails
	// to read leaves no partial object visible. body may be any reader,
	// including an *os.File that cannot seek (a pipe, a socket, stdin).
	PutObject(ctx context.Context, bucket, key string, body io.Reader) error
	// ObjectExists reports whether key exists. A missing key is (false, nil);
	// any other failure is an error.
	ObjectExists(ctx context.Context, bucket, key string) (bool, error)
	// GetObject opens key for reading. The caller must Close the reader;
	// closing it early releases the stream. A missing key gives an error that
	// matches ErrNotFound.
	GetObject(ctx context.Context, bucket, key string) (io.ReadCloser, error)
	// ListCommonPrefixes returns the full prefixes (each ending in delimiter)
	// of the keys under prefix that contain delimiter after prefix, as S3's
	// ListObjectsV2 CommonPrefixes: for keys "b/x/1" and "b/y/2", prefix "b/"
	// and delimiter "/" give ["b/x/", "b/y/"].
	ListCommonPrefixes(ctx context.Context, bucket, prefix, delimiter string) ([]string, error)
	// ListObjects returns every key that starts with prefix.
	ListObjects(ctx context.Context, bucket, prefix string) ([]string, error)
	// DeleteObject removes key. Deleting a missing key is not an error.
	DeleteObject(ctx context.Context, bucket, key string) error
	// CreateSignedURL returns a URL that lets its holder GET key for ttl.
	CreateSignedURL(ctx context.Context, bucket, key string, ttl time.Duration) (string, error)
}
