package filesystem

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/registry"
)

// Name is the plugin name the store registers under.
const Name = "rigging.dev/filesystem"

// Config keys Init accepts.
const (
	// KeyRoot names the directory holding the buckets.
	KeyRoot = "root"
	// KeyBucket, KeyPrefix, KeyCACert and KeyCredentialsFile are what Velero
	// adds to every location's config; the store accepts and ignores them.
	KeyBucket          = "bucket"
	KeyPrefix          = "prefix"
	KeyCACert          = "caCert"
	KeyCredentialsFile = "credentialsFile"
)

var knownKeys = []string{KeyRoot, KeyBucket, KeyPrefix, KeyCACert, KeyCredentialsFile}

// tmpPrefix starts the name of every temporary file; no key segment may.
const tmpPrefix = ".rigging-tmp-"

// copyBufSize is the PutObject copy buffer; ctx is checked between chunks.
const copyBufSize = 64 << 10

const (
	dirMode  = 0o700
	fileMode = 0o600
)

func init() {
	registry.Register(Name, func(log *slog.Logger) (rigging.ObjectStore, error) {
		s := New()
		s.log = log
		return s, nil
	})
}

// DataDir returns the default root of the store: $RIGGING_HOME when set,
// else $XDG_DATA_HOME/rigging when XDG_DATA_HOME is an absolute path, else
// ~/.local/share/rigging. It returns "" when none of these can be determined
// (no home directory); Init then needs an explicit root.
func DataDir() string {
	if d := os.Getenv("RIGGING_HOME"); d != "" {
		return d
	}
	if d := os.Getenv("XDG_DATA_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "rigging")
	}
	home, err := os.UserHomeDir()
	if err != nil || home == "" {
		return ""
	}
	return filepath.Join(home, ".local", "share", "rigging")
}

// Store is the rigging.dev/filesystem object store. The zero value is not
// usable; call New, then Init. It is safe for concurrent use once Init has
// returned.
type Store struct {
	log *slog.Logger

	mu   sync.RWMutex
	dir  string   // absolute root directory, set by Init
	root *os.Root // the root directory, nil before Init and after Close
}

// New returns an uninitialised store.
func New() *Store { return &Store{log: slog.Default()} }

// Root returns the absolute root directory, "" before Init.
func (s *Store) Root() string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.dir
}

// Init configures the store (see the package documentation for the keys) and
// opens, creating it if needed, the root directory. A second Init fails with
// an error matching rigging.ErrAlreadyInitialized.
func (s *Store) Init(ctx context.Context, config map[string]string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("plugin %s: init: %w", Name, err)
	}
	for _, k := range slices.Sorted(maps.Keys(config)) {
		if !slices.Contains(knownKeys, k) {
			return fmt.Errorf("plugin %s: init: %w: unknown key %q (want one of %s)", Name, ErrInvalidConfig, k, strings.Join(knownKeys, ", "))
		}
	}
	dir := config[KeyRoot]
	if dir == "" {
		dir = DataDir()
		if dir == "" {
			return fmt.Errorf("plugin %s: init: %w: key %q is not set and there is no default data directory (set RIGGING_HOME or HOME)", Name, ErrInvalidConfig, KeyRoot)
		}
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("plugin %s: init: %w: key %q: %w", Name, ErrInvalidConfig, KeyRoot, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dir != "" {
		return fmt.Errorf("plugin %s: init: %w", Name, rigging.ErrAlreadyInitialized)
	}
	if err := os.MkdirAll(abs, dirMode); err != nil {
		return fmt.Errorf("plugin %s: init: key %q: create the root directory: %w", Name, KeyRoot, err)
	}
	root, err := os.OpenRoot(abs)
	if err != nil {
		return fmt.Errorf("plugin %s: init: key %q: %w", Name, KeyRoot, err)
	}
	s.dir, s.root = abs, root
	s.log.Debug("filesystem object store ready", "root", abs)
	return nil
}

// Close releases the root directory. Later calls fail with an error
// matching rigging.ErrNotInitialized (Init: rigging.ErrAlreadyInitialized).
// It implements rigging.Closer.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.root == nil {
		return nil
	}
	err := s.root.Close()
	s.root = nil
	return err
}

// bucketRoot opens bucket's directory as an os.Root, creating it when create
// is set. A missing bucket without create gives an error matching
// fs.ErrNotExist.
func (s *Store) bucketRoot(bucket string, create bool) (*os.Root, error) {
	if err := validateBucket(bucket); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.root == nil {
		return nil, rigging.ErrNotInitialized
	}
	if create {
		if err := s.root.Mkdir(bucket, dirMode); err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, err
		}
	}
	return s.root.OpenRoot(bucket)
}

// op wraps err in an *OpError.
func op(name, bucket, key string, err error) error {
	return &OpError{Op: name, Bucket: bucket, Key: key, Err: err}
}

// PutObject stores body under key (see the package documentation for the
// atomicity and the keys accepted: a key that is not valid UTF-8 gives an
// error matching ErrInvalidKey). It checks ctx between chunks of body; a cancelled context or a
// failing body leaves the previous object (if any) in place and no other
// trace beyond the bucket directory.
func (s *Store) PutObject(ctx context.Context, bucket, key string, body io.Reader) error {
	if err := validateKey(key); err != nil {
		return op("put", bucket, key, err)
	}
	if err := s.put(ctx, bucket, key, body); err != nil {
		return op("put", bucket, key, err)
	}
	return nil
}

func (s *Store) put(ctx context.Context, bucket, key string, body io.Reader) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	br, err := s.bucketRoot(bucket, true)
	if err != nil {
		return err
	}
	defer br.Close()
	dir := path.Dir(key)
	tmp, f, err := createTemp(br, dir)
	if err != nil {
		return err
	}
	committed := false
	defer func() {
		if !committed {
			f.Close()
			br.Remove(tmp)
			pruneEmptyDirs(br, dir)
		}
	}()
	if _, err := copyCtx(ctx, f, body); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := br.Rename(tmp, key); err != nil {
		if fi, serr := br.Lstat(key); serr == nil && fi.IsDir() {
			return fmt.Errorf("%w: the key is a prefix of other objects (a directory)", fs.ErrExist)
		}
		return err
	}
	committed = true
	return syncDir(br, dir)
}

// createTemp creates a temporary file in dir (creating dir), retrying when a
// concurrent DeleteObject removes the freshly created, still empty
// directory.
func createTemp(br *os.Root, dir string) (string, *os.File, error) {
	const maxAttempts = 10
	for attempt := 0; ; attempt++ {
		if dir != "." {
			err := br.MkdirAll(dir, dirMode)
			switch {
			case err == nil:
			case errors.Is(err, syscall.ENOTDIR) || errors.Is(err, fs.ErrExist):
				if obj := objectParent(br, dir); obj != "" {
					return "", nil, fmt.Errorf("%w: a parent of the key (%q) is an object, not a prefix", fs.ErrExist, obj)
				}
				if attempt < maxAttempts {
					continue // a concurrent put created the directory first
				}
				return "", nil, err
			case errors.Is(err, fs.ErrNotExist) && attempt < maxAttempts:
				continue // a parent was pruned while we created its child
			default:
				return "", nil, err
			}
		}
		tmp := path.Join(dir, tmpPrefix+rand.Text())
		f, err := br.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fileMode)
		if err == nil {
			return tmp, f, nil
		}
		if !errors.Is(err, fs.ErrNotExist) || attempt >= maxAttempts {
			return "", nil, err
		}
	}
}

// objectParent returns the first ancestor of dir (dir included) that exists
// and is not a directory, or "".
func objectParent(br *os.Root, dir string) string {
	for i := 0; i <= len(dir); i++ {
		if i < len(dir) && dir[i] != '/' {
			continue
		}
		fi, err := br.Stat(dir[:i])
		if err != nil {
			return ""
		}
		if !fi.IsDir() {
			return dir[:i]
		}
	}
	return ""
}

// copyCtx copies src to dst in chunks, checking ctx before each. Errors
// from src are wrapped with "read: ", those from dst with "write: ".
func copyCtx(ctx context.Context, dst io.Writer, src io.Reader) (int64, error) {
	buf := make([]byte, copyBufSize)
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		m, rerr := src.Read(buf)
		if m > 0 {
			wm, werr := dst.Write(buf[:m])
			n += int64(wm)
			if werr != nil {
				return n, fmt.Errorf("write: %w", werr)
			}
		}
		if rerr == io.EOF {
			return n, nil
		}
		if rerr != nil {
			return n, fmt.Errorf("read: %w", rerr)
		}
	}
}

// syncDir fsyncs a directory so that a rename in it is durable. A directory
// that is gone already (a concurrent DeleteObject of the new object pruned
// it) needs no sync.
func syncDir(br *os.Root, dir string) error {
	d, err := br.Open(dir)
	if err != nil {
		if isMissing(err) {
			return nil
		}
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return err
	}
	return nil
}

// ObjectExists reports whether key is an object. A missing key, a missing
// bucket, or a key that is a prefix (a directory) gives false and no error.
func (s *Store) ObjectExists(ctx context.Context, bucket, key string) (bool, error) {
	if err := validateKey(key); err != nil {
		return false, op("exists", bucket, key, err)
	}
	if err := ctx.Err(); err != nil {
		return false, op("exists", bucket, key, err)
	}
	br, err := s.bucketRoot(bucket, false)
	if err != nil {
		if isMissing(err) {
			return false, nil
		}
		return false, op("exists", bucket, key, err)
	}
	defer br.Close()
	fi, err := br.Stat(key)
	if err != nil {
		if isMissing(err) {
			return false, nil
		}
		return false, op("exists", bucket, key, err)
	}
	return fi.Mode().IsRegular(), nil
}

// isMissing reports an error that means "no such object": the path does not
// exist or a parent of it is a file.
func isMissing(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// GetObject opens key for streaming. A missing key, a missing bucket or a
// key that is a prefix gives an error matching rigging.ErrNotFound. Each Read
// of the result fails once ctx is done.
func (s *Store) GetObject(ctx context.Context, bucket, key string) (io.ReadCloser, error) {
	if err := validateKey(key); err != nil {
		return nil, op("get", bucket, key, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, op("get", bucket, key, err)
	}
	br, err := s.bucketRoot(bucket, false)
	if err != nil {
		if isMissing(err) {
			return nil, op("get", bucket, key, fmt.Errorf("%w: no bucket %q", rigging.ErrNotFound, bucket))
		}
		return nil, op("get", bucket, key, err)
	}
	defer br.Close()
	f, err := br.Open(key)
	if err != nil {
		if isMissing(err) {
			return nil, op("get", bucket, key, rigging.ErrNotFound)
		}
		return nil, op("get", bucket, key, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, op("get", bucket, key, err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, op("get", bucket, key, fmt.Errorf("%w: the key is a prefix, not an object", rigging.ErrNotFound))
	}
	return &ctxReader{ctx: ctx, f: f}, nil
}

// ctxReader is an object being read, bound to the caller's context.
type ctxReader struct {
	ctx context.Context
	f   *os.File
}

func (r *ctxReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.f.Read(p)
}

// WriteTo streams the object to w in chunks, checking the context between
// them; it lets io.Copy avoid a second buffer.
func (r *ctxReader) WriteTo(w io.Writer) (int64, error) {
	return copyCtx(r.ctx, w, r.f)
}

func (r *ctxReader) Close() error { return r.f.Close() }

// ListObjects returns every key of bucket that starts with prefix, sorted. A
// missing bucket has no keys. Files and directories whose names are not
// valid UTF-8 (put there by hand or by another tool: PutObject refuses such
// keys) are skipped, logged at debug level, rather than failing the list.
func (s *Store) ListObjects(ctx context.Context, bucket, prefix string) ([]string, error) {
	keys, err := s.list(ctx, bucket, prefix)
	if err != nil {
		return nil, op("list", bucket, prefix, err)
	}
	return keys, nil
}

// ListCommonPrefixes returns, sorted and without duplicates, the full
// prefixes of the keys under prefix that contain delimiter after prefix,
// each cut just after the first such delimiter: for keys "b/x/1", "b/x/2"
// and "b/y/2", prefix "b/" and delimiter "/" give ["b/x/", "b/y/"]. Any
// non-empty delimiter works; an empty one gives no prefixes, as S3 does.
//
// With delimiter "/" (what Velero always passes) only the directories at
// prefix's level are read, each until its first object, so listing
// "velero/" does not walk every file of a large kopia/ repository.
//
// As in ListObjects, files and directories whose names are not valid UTF-8
// are skipped (logged at debug level): they give no prefix and no error.
func (s *Store) ListCommonPrefixes(ctx context.Context, bucket, prefix, delimiter string) ([]string, error) {
	if delimiter == "/" {
		out, err := s.slashPrefixes(ctx, bucket, prefix)
		if err != nil {
			return nil, op("list prefixes", bucket, prefix, err)
		}
		return out, nil
	}
	keys, err := s.list(ctx, bucket, prefix)
	if err != nil {
		return nil, op("list prefixes", bucket, prefix, err)
	}
	if delimiter == "" {
		return []string{}, nil
	}
	out := []string{}
	for _, k := range keys {
		rest := k[len(prefix):]
		if i := strings.Index(rest, delimiter); i >= 0 {
			p := prefix + rest[:i+len(delimiter)]
			if len(out) == 0 || out[len(out)-1] != p {
				out = append(out, p)
			}
		}
	}
	// Keys are sorted, so equal prefixes are adjacent; prefixes of
	// different lengths can still come out of order ("a-/" after "a/").
	slices.Sort(out)
	return slices.Compact(out), nil
}

// openForList validates prefix and opens bucket for a list. It splits prefix
// at its last "/" into the directory to read ("." for none) and the partial
// name after it. A nil root means nothing to list: a missing bucket (nil
// error) or a failure.
func (s *Store) openForList(ctx context.Context, bucket, prefix string) (br *os.Root, dir, partial string, err error) {
	if err := validatePrefix(prefix); err != nil {
		return nil, "", "", err
	}
	if err := ctx.Err(); err != nil {
		return nil, "", "", err
	}
	br, err = s.bucketRoot(bucket, false)
	if err != nil {
		if isMissing(err) {
			err = nil
		}
		return nil, "", "", err
	}
	dir, partial = ".", prefix
	if i := strings.LastIndex(prefix, "/"); i >= 0 {
		dir, partial = prefix[:i], prefix[i+1:]
	}
	return br, dir, partial, nil
}

// slashPrefixes is ListCommonPrefixes for delimiter "/": the directories
// at prefix's level whose names continue prefix and that hold an object.
func (s *Store) slashPrefixes(ctx context.Context, bucket, prefix string) ([]string, error) {
	br, dir, partial, err := s.openForList(ctx, bucket, prefix)
	if br == nil {
		return []string{}, err
	}
	defer br.Close()
	entries, err := fs.ReadDir(br.FS(), dir)
	if err != nil {
		if isMissing(err) {
			return []string{}, nil
		}
		return nil, err
	}
	out := []string{}
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), partial) {
			continue
		}
		sub := path.Join(dir, e.Name())
		if !utf8.ValidString(e.Name()) {
			s.skipInvalidName(bucket, sub)
			continue
		}
		found, err := s.hasObject(ctx, br, bucket, sub)
		if err != nil {
			return nil, err
		}
		if found {
			out = append(out, sub+"/")
		}
	}
	slices.Sort(out) // "a-b/" sorts before "a/", unlike the directory names
	return out, nil
}

// hasObject reports whether the tree at dir (in bucket, opened as br) holds
// at least one object, that is a file ListObjects would show.
func (s *Store) hasObject(ctx context.Context, br *os.Root, bucket, dir string) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	found := false
	err := fs.WalkDir(br.FS(), dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !utf8.ValidString(d.Name()) {
			s.skipInvalidName(bucket, p)
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.Type().IsRegular() && !strings.HasPrefix(d.Name(), tmpPrefix) {
			found = true
			return fs.SkipAll
		}
		return nil
	})
	return found, err
}

// list walks the directory that prefix names (up to its last "/") and
// returns the sorted keys of regular files starting with prefix.
func (s *Store) list(ctx context.Context, bucket, prefix string) ([]string, error) {
	br, start, _, err := s.openForList(ctx, bucket, prefix)
	if br == nil {
		return []string{}, err
	}
	defer br.Close()
	keys := []string{}
	n := 0
	err = fs.WalkDir(br.FS(), start, func(p string, d fs.DirEntry, err error) error {
		if n++; n%256 == 0 {
			if cerr := ctx.Err(); cerr != nil {
				return cerr
			}
		}
		if err != nil {
			if p == start && isMissing(err) {
				return fs.SkipAll
			}
			return err
		}
		if d.IsDir() {
			// Skip directories that cannot hold a match.
			if p != "." && !strings.HasPrefix(p+"/", prefix) && !strings.HasPrefix(prefix, p+"/") {
				return fs.SkipDir
			}
			// Reading it would fail (os.Root's fs.FS takes UTF-8 paths
			// only) and it can hold no valid key anyway.
			if !utf8.ValidString(d.Name()) {
				s.skipInvalidName(bucket, p)
				return fs.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || strings.HasPrefix(d.Name(), tmpPrefix) {
			return nil
		}
		if strings.HasPrefix(p, prefix) {
			if !utf8.ValidString(d.Name()) {
				s.skipInvalidName(bucket, p)
				return nil
			}
			keys = append(keys, p)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.Sort(keys)
	return keys, nil
}

// skipInvalidName logs, at debug level, that a list skips the file or
// directory p of bucket because its name is not valid UTF-8.
func (s *Store) skipInvalidName(bucket, p string) {
	if s.log == nil {
		return
	}
	s.log.Debug("list skips an entry whose name is not valid UTF-8", "bucket", bucket, "path", p)
}

// DeleteObject removes key and then every directory that removal left empty,
// up to (not including) the bucket. A missing key, a missing bucket, or a key
// that is a prefix is not an error.
func (s *Store) DeleteObject(ctx context.Context, bucket, key string) error {
	if err := validateKey(key); err != nil {
		return op("delete", bucket, key, err)
	}
	if err := ctx.Err(); err != nil {
		return op("delete", bucket, key, err)
	}
	br, err := s.bucketRoot(bucket, false)
	if err != nil {
		if isMissing(err) {
			return nil
		}
		return op("delete", bucket, key, err)
	}
	defer br.Close()
	fi, err := br.Lstat(key)
	if err != nil {
		if isMissing(err) {
			return nil
		}
		return op("delete", bucket, key, err)
	}
	if fi.IsDir() {
		return nil
	}
	if err := br.Remove(key); err != nil && !isMissing(err) {
		return op("delete", bucket, key, err)
	}
	pruneEmptyDirs(br, path.Dir(key))
	return nil
}

// pruneEmptyDirs removes dir and its parents while they are empty, up to
// (not including) the bucket directory.
func pruneEmptyDirs(br *os.Root, dir string) {
	for d := dir; d != "."; d = path.Dir(d) {
		if br.Remove(d) != nil { // not empty, or already gone: stop
			return
		}
	}
}

// CreateSignedURL returns the file:// URL of key's file. The object need not
// exist; ttl is ignored (see the package documentation).
func (s *Store) CreateSignedURL(ctx context.Context, bucket, key string, ttl time.Duration) (string, error) {
	if err := validateKey(key); err != nil {
		return "", op("sign", bucket, key, err)
	}
	if err := validateBucket(bucket); err != nil {
		return "", op("sign", bucket, key, err)
	}
	if err := ctx.Err(); err != nil {
		return "", op("sign", bucket, key, err)
	}
	s.mu.RLock()
	dir, open := s.dir, s.root != nil
	s.mu.RUnlock()
	if !open {
		return "", op("sign", bucket, key, rigging.ErrNotInitialized)
	}
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(filepath.Join(dir, bucket, filepath.FromSlash(key)))}
	return u.String(), nil
}

// validateBucket checks that bucket is one directory name.
func validateBucket(bucket string) error {
	switch {
	case bucket == "":
		return fmt.Errorf("%w: bucket name is empty", ErrInvalidKey)
	case strings.ContainsAny(bucket, "/\\\x00"):
		return fmt.Errorf("%w: bucket name %q contains '/', '\\' or NUL", ErrInvalidKey, bucket)
	case bucket == "." || bucket == "..":
		return fmt.Errorf("%w: bucket name %q", ErrInvalidKey, bucket)
	case strings.HasPrefix(bucket, tmpPrefix):
		return fmt.Errorf("%w: bucket name %q starts with the reserved %q", ErrInvalidKey, bucket, tmpPrefix)
	}
	return nil
}

// validateKey checks that key names a file inside its bucket.
func validateKey(key string) error {
	if key == "" {
		return fmt.Errorf("%w: key is empty", ErrInvalidKey)
	}
	if err := validateSegments(key, false); err != nil {
		return err
	}
	if strings.HasPrefix(path.Base(key), tmpPrefix) {
		return fmt.Errorf("%w: key %q: names starting with %q are reserved for temporary files", ErrInvalidKey, key, tmpPrefix)
	}
	return nil
}

// validatePrefix checks a list prefix: like a key, except that it may be
// empty and its last segment may be partial (empty, ".", "..").
func validatePrefix(prefix string) error {
	return validateSegments(prefix, true)
}

func validateSegments(s string, partialLast bool) error {
	what := "key"
	if partialLast {
		what = "prefix"
	}
	switch {
	case !utf8.ValidString(s):
		return fmt.Errorf("%w: %s %q is not valid UTF-8 (S3 keys are UTF-8)", ErrInvalidKey, what, s)
	case strings.IndexByte(s, 0) >= 0:
		return fmt.Errorf("%w: %s %q contains NUL", ErrInvalidKey, what, s)
	case strings.HasPrefix(s, "/") || filepath.IsAbs(s):
		return fmt.Errorf("%w: %s %q is absolute", ErrInvalidKey, what, s)
	}
	segs := strings.Split(s, "/")
	for i, seg := range segs {
		if partialLast && i == len(segs)-1 {
			break
		}
		switch seg {
		case "":
			return fmt.Errorf("%w: %s %q has an empty segment", ErrInvalidKey, what, s)
		case ".", "..":
			return fmt.Errorf("%w: %s %q has a %q segment", ErrInvalidKey, what, s, seg)
		}
	}
	return nil
}

// Interface guards.
var (
	_ rigging.ObjectStore = (*Store)(nil)
	_ rigging.Closer      = (*Store)(nil)
	_ io.WriterTo         = (*ctxReader)(nil)
)
