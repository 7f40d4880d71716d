package filesystem

import (
	"errors"
	"fmt"
)

// Sentinel errors, for errors.Is.
var (
	// ErrInvalidConfig marks an Init error caused by the config: an unknown
	// key or an unusable root. The message names the key.
	ErrInvalidConfig = errors.New("invalid config")
	// ErrInvalidKey marks a bucket name, key or prefix that could leave its
	// bucket or cannot be a file name: empty, absolute, with "..", "." or
	// empty segments, with NUL, or a reserved temporary-file name; and a key
	// or prefix that is not valid UTF-8 (S3 keys are UTF-8).
	ErrInvalidKey = errors.New("invalid key")
)

// OpError is a failed operation. It names the plugin, the operation, the
// bucket and the key (or prefix) and wraps the cause, which matches
// rigging.ErrNotFound for a missing object and ErrInvalidKey for a rejected
// key.
type OpError struct {
	Op     string // "put", "exists", "get", "list", "list prefixes", "delete", "sign"
	Bucket string
	Key    string // the key, or the prefix of a list
	Err    error
}

// Error implements error: "plugin rigging.dev/filesystem: get bucket/key: <cause>".
func (e *OpError) Error() string {
	return fmt.Sprintf("plugin %s: %s %s/%s: %v", Name, e.Op, e.Bucket, e.Key, e.Err)
}

// Unwrap returns the cause.
func (e *OpError) Unwrap() error { return e.Err }
