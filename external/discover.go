package external

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/manager"
	"github.com/rigging-dev/rigging/registry"
)

// Discover scans opts.Dir for plugin binaries as Velero does (recursively;
// a file is a candidate when any execute bit is set or its name ends in
// .exe), asks each for its plugins (in parallel, each within ProbeTimeout;
// answers cached by stat identity in CacheFile) and returns the catalog. A
// binary that fails is recorded in Problems and skipped, unless
// opts.Strict, which makes any problem an error wrapping ErrBrokenPlugin.
func Discover(ctx context.Context, opts Options) (*Catalog, error) {
	return newCatalog(opts, func(c *Catalog) error { return c.discover(ctx) })
}

// discover fills c from its plugin directory (Discover).
func (c *Catalog) discover(ctx context.Context) error {
	opts := &c.opts
	bins, err := c.scan()
	if err != nil {
		return err
	}
	cache := loadCache(opts.CacheFile, opts.Logger)
	answers := make([][]listedPlugin, len(bins))
	errs := make([]error, len(bins))
	sem := make(chan struct{}, opts.Parallelism)
	var wg sync.WaitGroup
	for i, b := range bins {
		if e, ok := cache.lookup(b); ok {
			answers[i] = e
			continue
		}
		wg.Go(func() {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				errs[i] = ctx.Err()
				return
			}
			defer func() { <-sem }()
			answers[i], errs[i] = c.probe(ctx, b.Path)
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		// Cancelled: the probes were cut short, their answers are not the
		// binaries'.
		return fmt.Errorf("plugin discovery: %w", context.Cause(ctx))
	}
	fresh := diskCache{Version: cacheVersion}
	for i, b := range bins {
		if errs[i] != nil {
			c.problem(b.Path, errs[i])
			continue
		}
		if err := validate(answers[i], opts.MaxPluginsPerBinary); err != nil {
			c.problem(b.Path, err)
			continue
		}
		fresh.Entries = append(fresh.Entries, cacheEntry{binaryID: b, Plugins: answers[i]})
		for _, id := range answers[i] {
			k := registry.Key{Kind: rigging.Kind(id.Kind), Name: rigging.Name(id.Name)}
			if prev, dup := c.byKey[k]; dup {
				c.problem(b.Path, fmt.Errorf("%s %s is already provided by %s; skipped", id.Kind, id.Name, prev))
				continue
			}
			c.byKey[k] = b.Path
			c.plugins = append(c.plugins, manager.Info{Kind: k.Kind, Name: k.Name, Source: b.Path})
		}
	}
	if opts.CacheFile != "" {
		if err := fresh.save(opts.CacheFile); err != nil {
			opts.Logger.Warn("cannot write plugin cache", "file", opts.CacheFile, "err", err)
		}
	}
	if opts.Strict && len(c.problems) > 0 {
		return fmt.Errorf("%w: %w", ErrBrokenPlugin, errors.Join(asErrors(c.problems)...))
	}
	return nil
}

// OpenBinary returns the catalog of one plugin binary, asked for its
// plugins now (no directory scan, no cache, no permission checks): what
// rigging verify uses to drive a vendor's binary.
func OpenBinary(ctx context.Context, path string, opts Options) (*Catalog, error) {
	opts.Dir = filepath.Dir(path)
	return newCatalog(opts, func(c *Catalog) error {
		ids, err := c.probe(ctx, path)
		if err == nil {
			err = validate(ids, c.opts.MaxPluginsPerBinary)
		}
		if err == nil && ctx.Err() != nil {
			err = context.Cause(ctx)
		}
		if err != nil {
			return fmt.Errorf("%w: %s: %w", ErrBrokenPlugin, path, err)
		}
		for _, id := range ids {
			k := registry.Key{Kind: rigging.Kind(id.Kind), Name: rigging.Name(id.Name)}
			c.byKey[k] = path
			c.plugins = append(c.plugins, manager.Info{Kind: k.Kind, Name: k.Name, Source: path})
		}
		return nil
	})
}

func asErrors(ps []Problem) []error {
	out := make([]error, len(ps))
	for i, p := range ps {
		out[i] = p
	}
	return out
}

func (c *Catalog) problem(path string, err error) {
	c.opts.Logger.Warn("skipping plugin binary", "path", path, "err", err)
	c.problems = append(c.problems, Problem{Path: path, Err: err})
}

// scan lists the candidate binaries in lexical order, with their identity.
func (c *Catalog) scan() ([]binaryID, error) {
	dir := c.opts.Dir
	if dir == "" {
		return nil, nil
	}
	fi, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("plugin directory: %w", err)
	}
	if fi.Mode().Perm()&0o002 != 0 && !c.opts.AllowWritable {
		return nil, fmt.Errorf("plugin directory %s is writable by any user (mode %s); refusing to run binaries from it", dir, fi.Mode().Perm())
	}
	var out []binaryID
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if info.Mode().Perm()&0o111 == 0 && !strings.HasSuffix(path, ".exe") {
			c.opts.Logger.Warn("skipping non-executable file in plugin directory", "path", path)
			return nil
		}
		st, err := os.Stat(path)
		if err != nil {
			c.problem(path, err)
			return nil
		}
		if st.Mode().Perm()&0o002 != 0 && !c.opts.AllowWritable {
			c.problem(path, fmt.Errorf("writable by any user (mode %s); refused", st.Mode().Perm()))
			return nil
		}
		if c.opts.Checksums != nil {
			if _, ok := c.opts.Checksums[path]; !ok {
				c.problem(path, errors.New("no SHA-256 checksum pinned for this binary; refused"))
				return nil
			}
		}
		ino, ctime := inodeCtime(st)
		out = append(out, binaryID{Path: path, Size: st.Size(), Inode: ino, MTime: st.ModTime().UnixNano(), CTime: ctime})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("plugin directory %s: %w", dir, err)
	}
	return out, nil
}

// probe starts a binary, asks for its plugins and stops it.
func (c *Catalog) probe(ctx context.Context, path string) ([]listedPlugin, error) {
	opts := &c.opts
	ctx, cancel := context.WithTimeout(ctx, opts.ProbeTimeout)
	defer cancel()
	client, run, cc, _, err := c.launch(ctx, path, opts.Logger, c.secure(path), opts.ProbeTimeout, nil)
	if err != nil {
		return nil, err
	}
	defer func() {
		if ctx.Err() != nil {
			run.kill() // timed out or cancelled: no grace
		}
		stopClient(client, run, cc, opts.StopGrace)
	}()
	return listPlugins(ctx, cc)
}

// validate checks a ListPlugins answer as Velero's host does (known kinds,
// valid fully-qualified names, no duplicates) and that it lists at most max
// plugins.
func validate(ids []listedPlugin, limit int) error {
	if len(ids) > limit {
		return fmt.Errorf("ListPlugins: %w: %d plugins listed, at most %d allowed per binary (Options.MaxPluginsPerBinary)", ErrTooManyPlugins, len(ids), limit)
	}
	seen := map[listedPlugin]bool{}
	for _, id := range ids {
		if _, err := rigging.ParseKind(id.Kind); err != nil {
			return fmt.Errorf("ListPlugins: %w", err)
		}
		if !strings.Contains(id.Name, "/") {
			return fmt.Errorf("ListPlugins: %s %q: %w: want <dns-subdomain>/<name>", id.Kind, id.Name, rigging.ErrInvalidName)
		}
		if _, err := rigging.ParseName(id.Name); err != nil {
			return fmt.Errorf("ListPlugins: %s: %w", id.Kind, err)
		}
		if seen[id] {
			return fmt.Errorf("ListPlugins: %s %s listed twice", id.Kind, id.Name)
		}
		seen[id] = true
	}
	return nil
}

// listedPlugin is one plugin a binary lists.
type listedPlugin struct {
	Kind string `json:"kind"`
	Name string `json:"name"`
}

// binaryID is a binary's identity as stat reports it.
type binaryID struct {
	Path  string `json:"path"`
	Size  int64  `json:"size"`
	Inode uint64 `json:"inode"`
	MTime int64  `json:"mtime"`
	CTime int64  `json:"ctime"`
}

const cacheVersion = 1

type diskCache struct {
	Version int          `json:"version"`
	Entries []cacheEntry `json:"entries"`
}

type cacheEntry struct {
	binaryID
	Plugins []listedPlugin `json:"plugins"`
}

func loadCache(path string, log interface{ Warn(string, ...any) }) diskCache {
	var c diskCache
	if path == "" {
		return c
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return c
	}
	if err := json.Unmarshal(b, &c); err != nil || c.Version != cacheVersion {
		log.Warn("ignoring unreadable plugin cache", "file", path, "err", err)
		return diskCache{}
	}
	return c
}

func (c diskCache) lookup(b binaryID) ([]listedPlugin, bool) {
	for _, e := range c.Entries {
		if e.binaryID == b {
			return e.Plugins, true
		}
	}
	return nil, false
}

func (c diskCache) save(path string) error {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".plugin-cache-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// LoadChecksums reads a sha256sum-format file ("<hex digest>  <path>" per
// line) into Options.Checksums form. Relative paths are taken relative to
// dir.
func LoadChecksums(file, dir string) (map[string][]byte, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("checksums: %w", err)
	}
	defer f.Close()
	out := map[string][]byte{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		sum, path, ok := strings.Cut(line, " ")
		path = strings.TrimLeft(strings.TrimSpace(path), "*")
		d, err := hex.DecodeString(sum)
		if !ok || err != nil || len(d) != 32 || path == "" {
			return nil, fmt.Errorf("checksums %s:%d: want \"<sha256 hex>  <path>\"", file, n)
		}
		if !filepath.IsAbs(path) {
			path = filepath.Join(dir, path)
		}
		out[path] = d
	}
	return out, sc.Err()
}
