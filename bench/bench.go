// Package bench is rigging's benchmark harness: it measures
// BackupItemAction Execute on the same ~2.2 KiB pod and ~1.4 KiB Backup
// (package fixture) as a direct call, through the manager.Manager
// in-process, through the Manager over an in-memory gRPC connection, and
// from the Manager to a rigging plugin subprocess, next to the floors of
// its transports (a bare gRPC unary call and a bare unix-socket round trip
// to another process); it also measures throughput at 1, 8 and 64
// goroutines, object streams, discovery of 10 plugin binaries cold and
// warm, first-call latency and a 10 000-item backup in-process against the
// same actions over RPC. Cases of a group run interleaved, in rounds, so
// that a busy shared machine slows them alike; Report holds the results
// and the ratios of docs/benchmarks.json.
//
// `rigging bench` runs it; the interop module's bench program adds the
// Velero paths (which cannot be linked into this module's binaries).
package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/bench/fixture"
	"github.com/rigging-dev/rigging/bench/measure"
	"github.com/rigging-dev/rigging/builtin/pod"
	"github.com/rigging-dev/rigging/manager"
)

// Result names. The Velero paths (added by the interop bench program) use
// the same scheme: "<host>-<plugin>" per call, "-cG" for G goroutines,
// "put-"/"get-" for object streams.
const (
	Direct           = "direct"
	InProcess        = "inproc"
	InMemoryGRPC     = "inproc-grpc"
	RiggingRigging   = "rigging-rigging"
	RiggingVelero    = "rigging-velero"
	VeleroVelero     = "velero-velero"
	VeleroRigging    = "velero-rigging"
	FloorGRPC        = "floor-grpc"
	FloorUnix        = "floor-unix"
	JSONCodec        = "json-codec"
	JSONCodecItem    = "json-codec-item"
	JSONUjsonItem    = "json-ujson-item"
	DiscoveryCold    = "discovery-cold-rigging"
	DiscoveryWarm    = "discovery-warm-rigging"
	DiscoveryVelero  = "discovery-velero"
	FirstCall        = "firstcall-rigging"
	FirstCallVelero  = "firstcall-velero"
	BackupInProcess  = "backup-inproc"
	BackupRPC        = "backup-rpc"
	ActionName       = pod.Name // the BackupItemAction every path calls
	DiscoveryBinarys = 10
)

// BackupSleep1 and BackupSleep2 back up the items in-process with
// SleepAction added, with 1 and 2 item-block workers (issue 15).
const (
	BackupSleep1 = "backup-sleep-w1"
	BackupSleep2 = "backup-sleep-w2"
)

// Concurrency is the goroutine counts of the throughput group.
var Concurrency = []int{1, 8, 64}

// Parallel names the throughput result of path at g goroutines.
func Parallel(path string, g int) string { return fmt.Sprintf("%s-c%d", path, g) }

// Put and Get name the object-stream results of path.
func Put(path string) string { return "put-" + path }

// Get names the GetObject result of path.
func Get(path string) string { return "get-" + path }

// Config says what to run. Zero values mean the documented defaults.
type Config struct {
	// PluginBinary is a binary that serves rigging's compiled-in plugins
	// (velero.io/pod among them) when started by a plugin host, and the
	// benchmark plugins when EnvPlugins=1: the rigging binary, or a test
	// binary whose TestMain does the same. Empty: RPC paths are skipped.
	PluginBinary string
	// DiscoveryBinary is copied 10 times (as plugin-00 .. plugin-09) for
	// the discovery group. Empty: PluginBinary.
	DiscoveryBinary string
	// FloorCommand returns the command that runs ServeFloor in dir. Nil:
	// the floors are skipped.
	FloorCommand func(dir string) *exec.Cmd
	// Rounds of every group (default 5) and Execute calls per case and
	// round (default 1000; in-process cases run 50 times more).
	Rounds, Calls int
	// ObjectSize is the size of each PutObject/GetObject (default 256 MiB).
	ObjectSize int64
	// Items are the objects of the backup benchmark (gen-large.sh's 10 000);
	// empty: the backup group is skipped.
	Items []*unstructured.Unstructured
	// Groups limits the run to these groups (see Groups); empty: all.
	Groups []string
	// Progress receives one line per group as it starts; nil: discarded.
	Progress io.Writer
	// RPCInChildren leaves out the rigging→rigging cases of the per-call,
	// throughput and object groups: the caller measures them in a separate
	// host process (HostOps), as the Velero host paths are, and adds them
	// with Extra.
	RPCInChildren bool
	// Extra adds cases to a group (the interop program adds its Velero
	// paths this way): called with the group's name, returns more cases.
	Extra func(group string) []measure.Case
}

// Groups of cases, in run order.
var Groups = []string{"per-call", "throughput", "object", "discovery", "firstcall", "backup"}

func (c *Config) defaults() {
	if c.Rounds <= 0 {
		c.Rounds = 5
	}
	if c.Calls <= 0 {
		c.Calls = 1000
	}
	if c.ObjectSize <= 0 {
		c.ObjectSize = 256 << 20
	}
	if c.Progress == nil {
		c.Progress = io.Discard
	}
}

func (c *Config) wants(group string) bool {
	if len(c.Groups) == 0 {
		return true
	}
	for _, g := range c.Groups {
		if g == group {
			return true
		}
	}
	return false
}

// Fixtures returns fresh decoded copies of the pod and the Backup.
func Fixtures() (*unstructured.Unstructured, *rigging.Backup, error) {
	item := &unstructured.Unstructured{}
	if err := item.UnmarshalJSON(fixture.Compact(fixture.PodJSON)); err != nil {
		return nil, nil, fmt.Errorf("fixture pod: %w", err)
	}
	b := &rigging.Backup{}
	if err := json.Unmarshal(fixture.Compact(fixture.BackupJSON), b); err != nil {
		return nil, nil, fmt.Errorf("fixture backup: %w", err)
	}
	return item, b, nil
}

var discard = slog.New(slog.DiscardHandler)

// hostLog is the logger of the hosts the harness measures: level info with
// the output thrown away, as Velero's host in the harness (logrus at info,
// written to io.Discard), so both hosts pay for the records they would
// write, the plugin's own log lines included.
var hostLog = slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))

// Run runs the configured groups and returns the report.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg.defaults()
	if cfg.PluginBinary != "" {
		os.Setenv(EnvPlugins, "1") // inherited by every plugin process started below
	}
	rep := &Report{Machine: ThisMachine(), Ratios: map[string]float64{}, Missing: map[string]string{}}
	s := &suite{cfg: cfg, ctx: ctx}
	defer s.close()
	steps := []struct {
		group string
		cases func() ([]measure.Case, int, int, error) // cases, rounds, n
	}{
		{"per-call", s.perCall},
		{"throughput", s.throughput},
		{"object", s.objects},
		{"discovery", s.discovery},
		{"firstcall", s.firstCall},
		{"backup", s.backup},
	}
	for _, st := range steps {
		if !cfg.wants(st.group) {
			continue
		}
		fmt.Fprintf(cfg.Progress, "bench: %s\n", st.group)
		cases, rounds, n, err := st.cases()
		if err != nil {
			return nil, fmt.Errorf("bench %s: %w", st.group, err)
		}
		if cfg.Extra != nil {
			cases = append(cases, cfg.Extra(st.group)...)
		}
		if len(cases) == 0 {
			continue
		}
		res, err := measure.Interleave(cases, rounds, n)
		if err != nil {
			return nil, fmt.Errorf("bench %s: %w", st.group, err)
		}
		rep.Results = append(rep.Results, res...)
	}
	rep.computeRatios()
	return rep, nil
}

// suite holds what the groups share: the Managers, the plugin processes.
type suite struct {
	cfg     Config
	ctx     context.Context
	closers []func()
	rpc     *manager.Manager // Manager whose plugins all come from PluginBinary
}

func (s *suite) close() {
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
}

// rpcManager returns the Manager over a catalog holding PluginBinary.
func (s *suite) rpcManager() (*manager.Manager, error) {
	if s.rpc != nil {
		return s.rpc, nil
	}
	dir, err := os.MkdirTemp("", "rigging-bench-plugins-")
	if err != nil {
		return nil, err
	}
	s.closers = append(s.closers, func() { os.RemoveAll(dir) })
	if err := linkBinary(s.cfg.PluginBinary, filepath.Join(dir, "rigging-plugins")); err != nil {
		return nil, err
	}
	if err := s.shareItems(dir); err != nil {
		return nil, err
	}
	m, err := catalogManager(s.ctx, dir, "")
	if err != nil {
		return nil, err
	}
	s.closers = append(s.closers, func() { m.Close() })
	s.rpc = m
	return m, nil
}

// shareItems gives the plugin processes started after it the benchmark's
// items as their Lookup (EnvLookup, inherited): written to dir as a JSON
// array, unless EnvLookup is set already or there are no items.
func (s *suite) shareItems(dir string) error {
	if len(s.cfg.Items) == 0 || os.Getenv(EnvLookup) != "" {
		return nil
	}
	data, err := json.Marshal(s.cfg.Items)
	if err != nil {
		return fmt.Errorf("bench: items for the plugin processes' Lookup: %w", err)
	}
	path := filepath.Join(dir, "lookup.json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return fmt.Errorf("bench: items for the plugin processes' Lookup: %w", err)
	}
	if err := os.Setenv(EnvLookup, path); err != nil {
		return err
	}
	s.closers = append(s.closers, func() { os.Unsetenv(EnvLookup) })
	return nil
}

// merge adds b to a.
func merge(a, b measure.Sample) measure.Sample {
	a.N += b.N
	a.Lat = append(a.Lat, b.Lat...)
	a.WallNs += b.WallNs
	a.Mallocs += b.Mallocs
	a.AllocBytes += b.AllocBytes
	a.CPUNs += b.CPUNs
	a.ChildCPUNs += b.ChildCPUNs
	a.Bytes += b.Bytes
	return a
}

// sampleOf is a Sample of one operation timed by the caller.
func sampleOf(d time.Duration) measure.Sample {
	return measure.Sample{N: 1, Lat: []int64{d.Nanoseconds()}, WallNs: d.Nanoseconds()}
}

// linkBinary makes dst a hard link to src, or a copy across file systems.
func linkBinary(src, dst string) error {
	if err := os.Link(src, dst); err == nil {
		return nil
	}
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("plugin binary: %w", err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return fmt.Errorf("plugin binary: %w", err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("plugin binary: copy to %s: %w", dst, err)
	}
	return out.Close()
}
