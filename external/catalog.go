package external

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	goplugin "github.com/hashicorp/go-plugin"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/manager"
	"github.com/rigging-dev/rigging/registry"
)

// Options configure discovery and supervision. Zero values mean the
// documented defaults.
type Options struct {
	// Dir is the plugin directory, scanned recursively for executables as
	// Velero does. A missing directory holds no plugins.
	Dir string
	// Strict makes any discovery problem (a binary that fails to start or
	// answers badly, a duplicate plugin) fatal; by default such a binary is
	// reported in Problems and skipped.
	Strict bool
	// CacheFile keeps the ListPlugins answers keyed by each binary's stat
	// identity (path, size, inode, mtime, ctime), so a start with unchanged
	// binaries launches nothing. "": no cache.
	CacheFile string
	// Args are passed to every plugin process (Velero passes its server
	// flags, e.g. --log-level=debug, --features=EnableCSI).
	Args []string
	// Logger receives the catalog's logs and the plugins' re-emitted log
	// lines. Nil: slog.Default().
	Logger *slog.Logger
	// ProbeTimeout bounds starting a binary and asking it for its plugins
	// during discovery. Default 10s.
	ProbeTimeout time.Duration
	// StartTimeout bounds a plugin's start-up handshake at first use.
	// Default 1m (Velero's).
	StartTimeout time.Duration
	// StopGrace is how long Close waits after go-plugin's graceful
	// Shutdown before killing a process. Default 2s (Velero's).
	StopGrace time.Duration
	// MaxCrashes crashes within CrashWindow quarantine a binary. Defaults
	// 5 and 1m.
	MaxCrashes  int
	CrashWindow time.Duration
	// Parallelism bounds concurrent probes. Default GOMAXPROCS.
	Parallelism int
	// Checksums pins binaries by SHA-256 (go-plugin's SecureConfig): path
	// (as found in Dir) to digest. Non-nil: a binary without an entry is
	// refused. Load a sha256sum-format file with LoadChecksums.
	Checksums map[string][]byte
	// AutoMTLS asks go-plugin to negotiate mutual TLS on the plugin
	// connection. go-plugin servers (Velero's framework and rigging's SDK)
	// support it; Velero's own host never enables it. A plugin whose
	// handshake carries no server certificate (a server that does not
	// implement AutoMTLS) is stopped and started again without TLS, with a
	// warning, over its private socket; the catalog remembers that binary
	// and starts it without TLS from then on. RequireMTLS refuses it
	// instead.
	AutoMTLS bool
	// RequireMTLS (with AutoMTLS) makes a plugin that does not negotiate
	// mutual TLS fail to start instead of falling back to plaintext.
	// Without AutoMTLS it is a conflict: Discover and OpenBinary fail with
	// ErrConflictingOptions.
	RequireMTLS bool
	// EnvAllow restricts the plugin processes' environment: nil passes the
	// host's whole environment (go-plugin's and Velero's behaviour);
	// non-nil passes only the variables named (an entry ending in "*"
	// matches a prefix, as "AWS_*"), plus what go-plugin sets itself (its
	// magic cookie, PLUGIN_PROTOCOL_VERSIONS, PLUGIN_MIN_PORT,
	// PLUGIN_MAX_PORT, PLUGIN_UNIX_SOCKET_DIR, PLUGIN_CLIENT_CERT).
	EnvAllow []string
	// MaxPluginsPerBinary caps how many plugins one binary may list; a
	// binary listing more is a Problem naming the count. Default 1000.
	MaxPluginsPerBinary int
	// AllowWritable accepts a plugin directory or binary writable by users
	// other than its owner; by default such binaries are refused.
	AllowWritable bool
	// MemoryLimit (bytes; 0, the default: none) holds each plugin process
	// to that much data memory (RLIMIT_DATA, set before the host reads the
	// plugin's handshake: heap and private writable mappings, inherited by
	// what the plugin starts; a Go plugin's runtime takes about 130 MiB of
	// it at start, most of it never touched). A process that dies
	// reporting a failed allocation (a Go plugin's "out of memory", or its
	// runtime's fault on one) fails its call, without a retry, with an
	// error naming the binary and the limit that matches ErrMemoryLimit
	// (not rigging.ErrPluginUnavailable), and restarts at the next call
	// (the death counts towards MaxCrashes); any other death under a limit
	// mentions it. Linux only: elsewhere every start fails.
	MemoryLimit int64
}

// check reports options that contradict each other.
func (o *Options) check() error {
	if o.RequireMTLS && !o.AutoMTLS {
		return fmt.Errorf("%w: RequireMTLS is set without AutoMTLS (mutual TLS is only negotiated with AutoMTLS)", ErrConflictingOptions)
	}
	if o.MemoryLimit < 0 {
		return fmt.Errorf("memory limit %d: want a positive number of bytes, or 0 for none", o.MemoryLimit)
	}
	return nil
}

// maxSocketDir is the longest socket directory that leaves room for the
// socket names made in it (go-plugin's "plugin" and up to 20 digits): a
// unix socket path holds at most 104 bytes on macOS and the BSDs, 108 on
// Linux.
const maxSocketDir = 104 - len("/plugin") - 20 - 1

// makeSocketDir creates a catalog's private (0700) socket directory, in
// TMPDIR, or in /tmp when TMPDIR is too deep for a socket path to fit (a
// bind there would fail with "invalid argument").
func makeSocketDir() (string, error) {
	base := os.TempDir()
	if len(base)+len("/rigging-plugins-")+10 > maxSocketDir && runtime.GOOS != "windows" {
		base = "/tmp"
	}
	dir, err := os.MkdirTemp(base, "rigging-plugins-")
	if err != nil {
		return "", fmt.Errorf("plugin socket directory: %w", err)
	}
	return dir, nil
}

func (o *Options) defaults() {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.ProbeTimeout <= 0 {
		o.ProbeTimeout = 10 * time.Second
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = time.Minute
	}
	if o.StopGrace <= 0 {
		o.StopGrace = 2 * time.Second
	}
	if o.MaxCrashes <= 0 {
		o.MaxCrashes = 5
	}
	if o.CrashWindow <= 0 {
		o.CrashWindow = time.Minute
	}
	if o.Parallelism <= 0 {
		o.Parallelism = runtime.GOMAXPROCS(0)
	}
	if o.MaxPluginsPerBinary <= 0 {
		o.MaxPluginsPerBinary = DefaultMaxPluginsPerBinary
	}
}

// DefaultMaxPluginsPerBinary is the default of Options.MaxPluginsPerBinary.
const DefaultMaxPluginsPerBinary = 1000

// environ returns the environment a plugin process starts with (go-plugin
// appends its own variables, and the host's environment unless EnvAllow
// is set).
func (c *Catalog) environ() []string {
	var env []string
	if c.opts.EnvAllow != nil {
		for _, kv := range os.Environ() {
			name, _, _ := strings.Cut(kv, "=")
			if envAllowed(c.opts.EnvAllow, name) {
				env = append(env, kv)
			}
		}
	}
	if c.sockDir != "" {
		// The plugin's go-plugin server creates its unix socket in the
		// catalog's private (0700) directory instead of the shared /tmp.
		env = append(env, "PLUGIN_UNIX_SOCKET_DIR="+c.sockDir)
	}
	return env
}

func envAllowed(allow []string, name string) bool {
	for _, a := range allow {
		if p, ok := strings.CutSuffix(a, "*"); ok && strings.HasPrefix(name, p) || a == name {
			return true
		}
	}
	return false
}

// Problem is a binary discovery could not use, and why.
type Problem struct {
	Path string
	Err  error
}

func (p Problem) Error() string { return p.Path + ": " + p.Err.Error() }

// Unwrap returns Err, so the error Strict discovery returns matches the
// problems' causes (ErrTooManyPlugins, ErrNoMTLS, ...).
func (p Problem) Unwrap() error { return p.Err }

// Catalog is the set of external plugins found in a plugin directory. It
// implements manager.Catalog: Open returns clients backed by one supervised
// process per binary, started at first use. Safe for concurrent use.
type Catalog struct {
	opts     Options
	plugins  []manager.Info
	byKey    map[registry.Key]string // -> binary path
	problems []Problem

	// sockDir is the private (0700) directory of the plugins' sockets,
	// removed by Close.
	sockDir string
	// plainOnly holds the paths (keys) of binaries found not to negotiate
	// AutoMTLS: they are started without TLS from then on.
	plainOnly sync.Map
	// backups encodes the Backup of every client's action requests.
	backups backupEncoder

	mu     sync.Mutex
	procs  map[string]*process
	closed bool
}

// Plugins lists the plugins found, with the binary's path as Source.
func (c *Catalog) Plugins() []manager.Info { return slices.Clone(c.plugins) }

// Problems lists the binaries discovery skipped and why.
func (c *Catalog) Problems() []Problem { return slices.Clone(c.problems) }

// Open returns a new client of plugin (kind, name), implementing kind's
// interface. Its process starts at its first call.
func (c *Catalog) Open(_ context.Context, kind rigging.Kind, name rigging.Name) (any, error) {
	path, ok := c.byKey[registry.Key{Kind: kind, Name: name}]
	if !ok {
		return nil, fmt.Errorf("%w: %s %s in plugin directory %s", rigging.ErrPluginNotFound, kind, name, c.opts.Dir)
	}
	p, err := c.process(path)
	if err != nil {
		return nil, err
	}
	return newClient(kind, name, &supervisedInvoker{p: p, name: name}, &c.backups)
}

// process returns the supervised process of binary path, made once.
func (c *Catalog) process(path string) (*process, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClosed
	}
	p := c.procs[path]
	if p == nil {
		p = &process{path: path, cat: c, log: c.opts.Logger, sec: c.secure(path)}
		c.procs[path] = p
	}
	return p, nil
}

// Start starts the process of every binary that provides plugins and is
// not running yet, in parallel (bounded by Parallelism), as a first call
// would. It returns the start errors, each naming its binary, joined.
func (c *Catalog) Start(ctx context.Context) error {
	paths := c.Binaries()
	errs := make([]error, len(paths))
	sem := make(chan struct{}, c.opts.Parallelism)
	var wg sync.WaitGroup
	for i, path := range paths {
		p, err := c.process(path)
		if err != nil {
			return err
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if _, _, err := p.conn(ctx); err != nil {
				errs[i] = fmt.Errorf("plugin binary %s: %w", path, err)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// ProcessStats returns the resource use of the process of every binary
// opened or started so far, by path (see manager.ProcessStats): resident
// memory and CPU time of its whole process group (Linux only: elsewhere
// Measured is false), restarts and the calls running now. It implements
// manager.ProcessReporter.
func (c *Catalog) ProcessStats() []manager.ProcessStats {
	c.mu.Lock()
	procs := slices.Collect(maps.Values(c.procs))
	c.mu.Unlock()
	out := make([]manager.ProcessStats, 0, len(procs))
	for _, p := range procs {
		out = append(out, p.stats())
	}
	slices.SortFunc(out, func(a, b manager.ProcessStats) int { return strings.Compare(a.Binary, b.Binary) })
	return out
}

func (c *Catalog) secure(path string) *goplugin.SecureConfig {
	sum, ok := c.opts.Checksums[path]
	if !ok {
		return nil
	}
	return &goplugin.SecureConfig{Checksum: sum, Hash: sha256.New()}
}

// Close stops every process the catalog started, in parallel: a graceful
// Shutdown, then a kill after StopGrace. Later calls fail with ErrClosed.
func (c *Catalog) Close() error {
	c.mu.Lock()
	c.closed = true
	procs := c.procs
	c.procs = map[string]*process{}
	c.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range procs {
		wg.Go(func() { p.stop(c.opts.StopGrace) })
	}
	wg.Wait()
	return os.RemoveAll(c.sockDir)
}

// newCatalog is the one constructor of a Catalog: it checks opts, applies
// the defaults and creates the socket directory, then runs fill (discovery);
// on any error it removes the directory and returns no catalog.
func newCatalog(opts Options, fill func(*Catalog) error) (*Catalog, error) {
	if err := opts.check(); err != nil {
		return nil, err
	}
	opts.defaults()
	dir, err := makeSocketDir()
	if err != nil {
		return nil, err
	}
	c := &Catalog{opts: opts, sockDir: dir, byKey: map[registry.Key]string{}, procs: map[string]*process{}}
	if err := fill(c); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return c, nil
}

// Binaries returns the paths of the binaries that provide plugins.
func (c *Catalog) Binaries() []string {
	var out []string
	for _, i := range c.plugins {
		if !slices.Contains(out, i.Source) {
			out = append(out, i.Source)
		}
	}
	slices.Sort(out)
	return out
}

func (c *Catalog) String() string {
	return fmt.Sprintf("plugin directory %s (%d plugins in %s)", c.opts.Dir, len(c.plugins), strings.Join(c.Binaries(), ", "))
}

var (
	_ manager.Catalog         = (*Catalog)(nil)
	_ manager.ProcessReporter = (*Catalog)(nil)
)
