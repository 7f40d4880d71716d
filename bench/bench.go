// Package bench is rigging's benchmark harness: it measures
// BackupItemAction Execute on the same ~2.2 KiB pod and ~1.4 KiB Backup
// (package fixture) as a direct call, through the registry.Manager
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
	"github.com/rigging-dev/rigging/internal/ujson"
	"github.com/rigging-dev/rigging/registry"
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
	rpc     *registry.Manager // Manager whose plugins all come from PluginBinary
}

func (s *suite) close() {
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
}

// rpcManager returns the Manager over a catalog holding PluginBinary.
func (s *suite) rpcManager() (*registry.Manager, error) {
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
	m, err := catalogManager(s.ctx, dir, "")
	if err != nil {
		return nil, err
	}
	s.closers = append(s.closers, func() { m.Close() })
	s.rpc = m
	return m, nil
}

// Call is one named way to make one Execute call (or its floor).
type Call struct {
	Name string
	Do   func() error
	// Scale multiplies the batch size: in-process calls are thousands of
	// times cheaper than RPC ones, so their batches are longer.
	Scale int
}

// ExecuteCall returns a Call named name of a's Execute on fresh fixtures,
// after one warm-up call (which starts a plugin process). Each batch runs
// scale times the requested count.
func ExecuteCall(ctx context.Context, name string, a rigging.BackupItemAction, scale int) (Call, error) {
	return executeCall(ctx, name, a, scale)
}

// Case returns the measure.Case timing c one call at a time.
func (c Call) Case() measure.Case {
	return measure.Case{Name: c.Name, Run: func(n int) (measure.Sample, error) { return measure.Calls(n*c.Scale, c.Do) }}
}

func executeCall(ctx context.Context, name string, a rigging.BackupItemAction, scale int) (Call, error) {
	item, b, err := Fixtures()
	if err != nil {
		return Call{}, err
	}
	call := func() error {
		out, extra, err := a.Execute(ctx, item, b)
		if err == nil && (out == nil || len(extra) != 2) {
			err = fmt.Errorf("%s Execute returned %d additional items, want the pod's 2 claims", ActionName, len(extra))
		}
		return err
	}
	if err := call(); err != nil {
		return Call{}, fmt.Errorf("%s: %w", name, err)
	}
	return Call{Name: name, Do: call, Scale: scale}, nil
}

// Calls returns the per-call paths this configuration can run: direct,
// in-process Manager, Manager over in-memory gRPC, Manager to a plugin
// subprocess, and the gRPC and unix-socket floors. Run closes what they
// hold; other callers call Close.
func (s *suite) calls() ([]Call, error) {
	ctx := s.ctx
	var out []Call
	add := func(name string, a rigging.BackupItemAction, err error, scale int) error {
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		c, err := executeCall(ctx, name, a, scale)
		out = append(out, c)
		return err
	}
	e, ok := registry.Default.Lookup(rigging.KindBackupItemAction, ActionName)
	if !ok {
		return nil, fmt.Errorf("%w: BackupItemAction %s is not compiled in", rigging.ErrPluginNotFound, ActionName)
	}
	v, err := e.New(discard)
	if err != nil {
		return nil, err
	}
	if err := add(Direct, v.(rigging.BackupItemAction), nil, 50); err != nil {
		return nil, err
	}
	for _, withBackup := range []bool{true, false} {
		codec, err := jsonCodecCall(withBackup)
		if err != nil {
			return nil, err
		}
		out = append(out, codec)
	}
	out = append(out, ujsonItemCall())
	m := registry.NewManager(registry.Options{Logger: hostLog})
	s.closers = append(s.closers, func() { m.Close() })
	a, err := m.BackupItemAction(ctx, ActionName)
	if err := add(InProcess, a, err, 50); err != nil {
		return nil, err
	}
	mm, stop, err := inMemoryManager()
	if err != nil {
		return nil, err
	}
	s.closers = append(s.closers, stop)
	a, err = mm.BackupItemAction(ctx, ActionName)
	if err := add(InMemoryGRPC, a, err, 1); err != nil {
		return nil, err
	}
	if s.cfg.PluginBinary != "" && !s.cfg.RPCInChildren {
		rm, err := s.rpcManager()
		if err != nil {
			return nil, err
		}
		a, err := rm.BackupItemAction(ctx, ActionName)
		if err := add(RiggingRigging, a, err, 1); err != nil {
			return nil, err
		}
	}
	if s.cfg.FloorCommand != nil {
		f, err := startFloor(s.cfg.FloorCommand)
		if err != nil {
			return nil, err
		}
		s.closers = append(s.closers, f.close)
		buf := make([]byte, 64<<10)
		out = append(out,
			Call{Name: FloorGRPC, Do: func() error { return f.grpcCall(ctx) }, Scale: 1},
			Call{Name: FloorUnix, Do: func() error { return f.rawCall(buf) }, Scale: 1})
	}
	return out, nil
}

func (s *suite) perCall() ([]measure.Case, int, int, error) {
	calls, err := s.calls()
	if err != nil {
		return nil, 0, 0, err
	}
	cases := make([]measure.Case, len(calls))
	for i, c := range calls {
		cases[i] = c.Case()
	}
	return cases, s.cfg.Rounds, s.cfg.Calls, nil
}

// Calls returns the per-call paths of cfg (see Run) for callers that time
// them their own way (Go benchmarks); close releases their processes.
func Calls(ctx context.Context, cfg Config) (calls []Call, close func(), err error) {
	cfg.defaults()
	if cfg.PluginBinary != "" {
		os.Setenv(EnvPlugins, "1")
	}
	s := &suite{cfg: cfg, ctx: ctx}
	calls, err = s.calls()
	if err != nil {
		s.close()
		return nil, nil, err
	}
	return calls, s.close, nil
}

func (s *suite) throughput() ([]measure.Case, int, int, error) {
	ctx := s.ctx
	item, b, err := Fixtures()
	if err != nil {
		return nil, 0, 0, err
	}
	var cases []measure.Case
	if s.cfg.PluginBinary != "" && !s.cfg.RPCInChildren {
		rm, err := s.rpcManager()
		if err != nil {
			return nil, 0, 0, err
		}
		a, err := rm.BackupItemAction(ctx, ActionName)
		if err != nil {
			return nil, 0, 0, err
		}
		for _, g := range Concurrency {
			cases = append(cases, measure.Case{Name: Parallel(RiggingRigging, g), Run: func(n int) (measure.Sample, error) {
				return measure.Parallel(g, n, func() error { _, _, err := a.Execute(ctx, item, b); return err })
			}})
		}
	}
	if s.cfg.FloorCommand != nil {
		f, err := startFloor(s.cfg.FloorCommand)
		if err != nil {
			return nil, 0, 0, err
		}
		s.closers = append(s.closers, f.close)
		for _, g := range Concurrency {
			cases = append(cases, measure.Case{Name: Parallel(FloorGRPC, g), Run: func(n int) (measure.Sample, error) {
				return measure.Parallel(g, n, func() error { return f.grpcCall(ctx) })
			}})
		}
	}
	return cases, s.cfg.Rounds, s.cfg.Calls, nil
}

func (s *suite) objects() ([]measure.Case, int, int, error) {
	var cases []measure.Case
	if s.cfg.PluginBinary != "" && !s.cfg.RPCInChildren {
		rm, err := s.rpcManager()
		if err != nil {
			return nil, 0, 0, err
		}
		if cases, err = ObjectCases(s.ctx, rm, RiggingRigging, s.cfg.ObjectSize); err != nil {
			return nil, 0, 0, err
		}
	}
	if s.cfg.FloorCommand != nil {
		f, err := startFloor(s.cfg.FloorCommand)
		if err != nil {
			return nil, 0, 0, err
		}
		s.closers = append(s.closers, f.close)
		fc, err := f.streamCases(s.ctx, s.cfg.ObjectSize)
		if err != nil {
			return nil, 0, 0, err
		}
		cases = append(cases, fc...)
	}
	return cases, s.cfg.Rounds, 1, nil
}

// ObjectCases returns the PutObject and GetObject cases of NullStore as m
// reaches it, each moving size bytes per operation.
func ObjectCases(ctx context.Context, m *registry.Manager, path string, size int64) ([]measure.Case, error) {
	st, err := m.ObjectStore(ctx, NullStore)
	if err != nil {
		return nil, err
	}
	if err := st.Init(ctx, nil); err != nil {
		return nil, err
	}
	put := func() (int64, error) {
		return size, st.PutObject(ctx, "bench", "object", fixture.Zeros(size))
	}
	get := func() (int64, error) {
		r, err := st.GetObject(ctx, "bench", SizeKey(size))
		if err != nil {
			return 0, err
		}
		defer r.Close()
		n, err := io.Copy(io.Discard, r)
		if err == nil && n != size {
			err = fmt.Errorf("got %d bytes, want %d", n, size)
		}
		return n, err
	}
	once := func(fn func() (int64, error)) func(int) (measure.Sample, error) {
		return func(n int) (measure.Sample, error) {
			var all measure.Sample
			for range n {
				smp, err := measure.Once(fn)
				if err != nil {
					return all, err
				}
				all = merge(all, smp)
			}
			return all, nil
		}
	}
	return []measure.Case{{Name: Put(path), Run: once(put)}, {Name: Get(path), Run: once(get)}}, nil
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

func (s *suite) discovery() ([]measure.Case, int, int, error) {
	if s.cfg.PluginBinary == "" {
		return nil, 0, 0, nil
	}
	dir, err := os.MkdirTemp("", "rigging-bench-discovery-")
	if err != nil {
		return nil, 0, 0, err
	}
	s.closers = append(s.closers, func() { os.RemoveAll(dir) })
	plugins := filepath.Join(dir, "plugins")
	if err := os.Mkdir(plugins, 0o755); err != nil {
		return nil, 0, 0, err
	}
	for i := range DiscoveryBinarys {
		bin := s.cfg.DiscoveryBinary
		if bin == "" {
			bin = s.cfg.PluginBinary
		}
		if err := linkBinary(bin, filepath.Join(plugins, fmt.Sprintf("plugin-%02d", i))); err != nil {
			return nil, 0, 0, err
		}
	}
	cache := filepath.Join(dir, "cache.json")
	discover := func(cold bool) func(int) (measure.Sample, error) {
		return func(n int) (measure.Sample, error) {
			var all measure.Sample
			for range n {
				if cold {
					os.Remove(cache)
				}
				smp, err := measure.Once(func() (int64, error) {
					c, err := Discover(s.ctx, plugins, cache)
					if err == nil {
						err = c.Close()
					}
					return 0, err
				})
				if err != nil {
					return all, err
				}
				all = merge(all, smp)
			}
			return all, nil
		}
	}
	// Fill the cache once so the first warm round is warm.
	c, err := Discover(s.ctx, plugins, cache)
	if err != nil {
		return nil, 0, 0, err
	}
	c.Close()
	return []measure.Case{{Name: DiscoveryCold, Run: discover(true)}, {Name: DiscoveryWarm, Run: discover(false)}}, s.cfg.Rounds, 1, nil
}

func (s *suite) firstCall() ([]measure.Case, int, int, error) {
	if s.cfg.PluginBinary == "" {
		return nil, 0, 0, nil
	}
	dir, err := os.MkdirTemp("", "rigging-bench-firstcall-")
	if err != nil {
		return nil, 0, 0, err
	}
	s.closers = append(s.closers, func() { os.RemoveAll(dir) })
	if err := linkBinary(s.cfg.PluginBinary, filepath.Join(dir, "rigging-plugins")); err != nil {
		return nil, 0, 0, err
	}
	cache := filepath.Join(dir, "..", filepath.Base(dir)+".cache.json")
	s.closers = append(s.closers, func() { os.Remove(cache) })
	item, b, err := Fixtures()
	if err != nil {
		return nil, 0, 0, err
	}
	one := func() (measure.Sample, error) {
		m, err := catalogManager(s.ctx, dir, cache) // warm after the first
		if err != nil {
			return measure.Sample{}, err
		}
		defer m.Close()
		t := time.Now()
		a, err := m.BackupItemAction(s.ctx, ActionName)
		if err == nil {
			_, _, err = a.Execute(s.ctx, item, b)
		}
		return sampleOf(time.Since(t)), err
	}
	if _, err := one(); err != nil { // fills the cache
		return nil, 0, 0, err
	}
	run := func(n int) (measure.Sample, error) {
		var all measure.Sample
		for range n {
			smp, err := one()
			if err != nil {
				return all, err
			}
			all = merge(all, smp)
		}
		return all, nil
	}
	return []measure.Case{{Name: FirstCall, Run: run}}, s.cfg.Rounds, 2, nil
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

// ujsonItemCall is rigging's item JSON work of one Execute when the action
// changes the item, in-process with no transport: the host encodes the
// item, the plugin decodes it and encodes the changed item, the host
// decodes it, all with internal/ujson (the Backup is encoded and decoded
// once per backup; an unchanged item skips the last two steps).
func ujsonItemCall() Call {
	item, _, _ := Fixtures()
	do := func() error {
		ij, err := ujson.Marshal(item.Object)
		if err != nil {
			return err
		}
		pi, err := ujson.Unmarshal(ij)
		if err != nil {
			return err
		}
		oj, err := ujson.Marshal(pi)
		if err != nil {
			return err
		}
		_, err = ujson.Unmarshal(oj)
		return err
	}
	return Call{Name: JSONUjsonItem, Do: do, Scale: 1}
}

// jsonCodecCall is the JSON work of one Execute over Velero's protocol
// with the standard codecs (encoding/json, apimachinery's unstructured
// JSON: what Velero's host and framework use), in-process with no
// transport: the host encodes the item and the
// Backup, the plugin decodes both and encodes the returned item, the host
// decodes it. It is the part of the RPC paths that no transport can remove
// while the wire carries JSON. Without withBackup it leaves the Backup out
// (what remains once host and plugin encode and decode it once per backup).
func jsonCodecCall(withBackup bool) (Call, error) {
	name := JSONCodec
	if !withBackup {
		name = JSONCodecItem
	}
	item, b, err := Fixtures()
	if err != nil {
		return Call{}, err
	}
	do := func() error {
		ij, err := json.Marshal(item.Object)
		if err != nil {
			return err
		}
		if withBackup {
			bj, err := json.Marshal(b)
			if err != nil {
				return err
			}
			var pb rigging.Backup
			if err := json.Unmarshal(bj, &pb); err != nil {
				return err
			}
		}
		pi := &unstructured.Unstructured{}
		if err := pi.UnmarshalJSON(ij); err != nil {
			return err
		}
		oj, err := json.Marshal(pi.Object)
		if err != nil {
			return err
		}
		return (&unstructured.Unstructured{}).UnmarshalJSON(oj)
	}
	return Call{Name: name, Do: do, Scale: 1}, do()
}
