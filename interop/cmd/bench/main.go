// Command bench measures rigging's plugin paths and Velero's side by side
// in one run, interleaved: everything `rigging bench` measures (direct
// call, Manager in-process, Manager over in-memory gRPC, rigging host →
// rigging plugin, the gRPC and unix-socket floors, throughput, object
// streams, discovery, first call, the backup), plus rigging host →
// Velero-framework plugin, Velero host (clientmgmt) → Velero-framework
// plugin and Velero host → rigging plugin.
//
// Velero's generated protocol code and rigging's cannot be linked into one
// binary, so this program links rigging only, and the Velero host and
// plugin are the velerochild binary (./velerochild) in child processes that
// answer over package measure's line protocol. This binary also serves as
// the rigging plugin and as the floor server (bench.ServeIfChild).
//
//	go build -o bin/bench ./cmd/bench && go build -o bin/velerochild ./cmd/bench/velerochild
//	bin/bench --velero-child bin/velerochild --items DIR --docs ../docs
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"

	"github.com/rigging-dev/rigging/bench"
	"github.com/rigging-dev/rigging/bench/measure"
	_ "github.com/rigging-dev/rigging/builtin/all"
	"github.com/rigging-dev/rigging/manifest"
)

func main() {
	if bench.ServeIfChild() {
		return
	}
	if len(os.Args) > 1 && os.Args[1] == "host" {
		if err := riggingHost(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "bench host:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		cfg                       bench.Config
		output, docs, items, velo string
		objectMiB                 int64
		groups, render            string
		rigging                   string
		rssDirs                   []string
		rssRuns                   int
		rssCluster                bool
		rssWorkers                []int
	)
	flag.StringVar(&output, "o", "text", "output: text (Markdown) or json")
	flag.StringVar(&docs, "docs", "", "write benchmarks.json, bench-per-call.svg and BENCHMARKS.md's generated region into this directory")
	flag.StringVar(&items, "items", "", "manifests to back up in the backup group (gen-large.sh's output)")
	flag.StringVar(&velo, "velero-child", "", "the velerochild binary (required)")
	flag.IntVar(&cfg.Rounds, "rounds", 5, "interleaved rounds per group")
	flag.IntVar(&cfg.Calls, "calls", 1000, "Execute calls per case and round")
	flag.Int64Var(&objectMiB, "object-mib", 256, "MiB per PutObject/GetObject")
	flag.StringVar(&groups, "groups", "", "comma-separated groups to run (default all: "+strings.Join(bench.Groups, ",")+")")
	flag.StringVar(&rigging, "rigging", "", "the rigging binary whose peak RSS --rss measures")
	flag.Func("rss", "manifests (gen-large.sh's output) whose backup by --rigging is measured for peak RSS; repeatable", func(v string) error {
		rssDirs = append(rssDirs, v)
		return nil
	})
	flag.IntVar(&rssRuns, "rss-runs", 3, "child processes per --rss set (the median is reported)")
	flag.BoolVar(&rssCluster, "rss-cluster", false, "also measure the --rss sets backed up from the test API server ($RIGGING_TESTCLUSTER_BIN, else bin/testcluster), seeded once with their union")
	flag.Func("rss-cluster-workers", "--workers of the --rss-cluster backups, comma-separated (default 1,2)", func(v string) error {
		for _, f := range strings.Split(v, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < 0 {
				return fmt.Errorf("%q: want a number of workers (0: the default)", f)
			}
			rssWorkers = append(rssWorkers, n)
		}
		return nil
	})
	flag.StringVar(&render, "render", "", "only re-render --docs from this benchmarks.json (no measuring)")
	flag.Parse()
	if render != "" {
		return rerender(render, docs)
	}
	if len(rssDirs) > 0 && rigging == "" {
		return fmt.Errorf("--rss needs --rigging (the rigging binary)")
	}
	if velo == "" {
		return fmt.Errorf("--velero-child is required (go build -o bin/velerochild ./cmd/bench/velerochild)")
	}
	if output != "text" && output != "json" {
		return fmt.Errorf("-o %q: want text or json", output)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	self, err := os.Executable()
	if err != nil {
		return err
	}
	if velo, err = filepath.Abs(velo); err != nil {
		return err
	}
	os.Setenv(bench.EnvPlugins, "1") // the rigging plugin processes serve the null store
	cfg.ObjectSize = objectMiB << 20
	cfg.PluginBinary = self
	cfg.DiscoveryBinary = velo // both hosts discover the same 10 Velero-framework binaries
	cfg.FloorCommand = bench.FloorCommand(self)
	cfg.Progress = os.Stderr
	if groups != "" {
		cfg.Groups = strings.Split(groups, ",")
	}
	if items != "" {
		if cfg.Items, err = manifest.Load(items); err != nil {
			return err
		}
	}

	work, err := os.MkdirTemp("", "rigging-interop-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	dirs := map[string]string{"velero": filepath.Join(work, "velero"), "rigging": filepath.Join(work, "rigging"), "discovery": filepath.Join(work, "discovery")}
	for _, d := range dirs {
		if err := os.Mkdir(d, 0o755); err != nil {
			return err
		}
	}
	if err := bench.LinkBinary(velo, filepath.Join(dirs["velero"], "velero-bench-plugins")); err != nil {
		return err
	}
	if err := bench.LinkBinary(self, filepath.Join(dirs["rigging"], "rigging-bench-plugins")); err != nil {
		return err
	}
	for i := range bench.DiscoveryBinarys {
		if err := bench.LinkBinary(velo, filepath.Join(dirs["discovery"], fmt.Sprintf("plugin-%02d", i))); err != nil {
			return err
		}
	}
	// Every host runs in a process of its own, Velero's (velerochild host)
	// and rigging's (this binary, host): the same conditions for both.
	host := func(name, bin, pluginDir string) (*measure.Child, error) {
		cmd := exec.Command(bin, "host", "--plugin-dir", pluginDir, "--discovery-dir", dirs["discovery"],
			"--object-size", strconv.FormatInt(cfg.ObjectSize, 10))
		cmd.Stderr = os.Stderr
		return measure.StartChild(name, cmd)
	}
	children := map[string]*measure.Child{}
	for _, h := range []struct{ name, bin, dir string }{
		{bench.VeleroVelero, velo, dirs["velero"]},
		{bench.VeleroRigging, velo, dirs["rigging"]},
		{bench.RiggingRigging, self, dirs["rigging"]},
		{bench.RiggingVelero, self, dirs["velero"]},
	} {
		c, err := host(h.name, h.bin, h.dir)
		if err != nil {
			return err
		}
		defer c.Close()
		children[h.name] = c
	}
	vv, rr := children[bench.VeleroVelero], children[bench.RiggingRigging]
	cfg.RPCInChildren = true

	cfg.Extra = func(group string) []measure.Case {
		switch group {
		case "per-call":
			var cs []measure.Case
			for _, name := range []string{bench.RiggingRigging, bench.RiggingVelero, bench.VeleroVelero, bench.VeleroRigging} {
				cs = append(cs, children[name].Case(name, "exec"))
			}
			// The ideal host (bench.IdealCall) on both plugins: what no
			// host can beat over gRPC.
			cs = append(cs, children[bench.RiggingVelero].Case(bench.Ideal("velero"), "exec-ideal"),
				rr.Case(bench.Ideal("rigging"), "exec-ideal"))
			return cs
		case "throughput":
			var cs []measure.Case
			for _, g := range bench.Concurrency {
				op := "exec-c" + strconv.Itoa(g)
				cs = append(cs, rr.Case(bench.Parallel(bench.RiggingRigging, g), op), vv.Case(bench.Parallel(bench.VeleroVelero, g), op))
			}
			return cs
		case "object":
			return []measure.Case{
				rr.Case(bench.Put(bench.RiggingRigging), "put"), vv.Case(bench.Put(bench.VeleroVelero), "put"),
				rr.Case(bench.Get(bench.RiggingRigging), "get"), vv.Case(bench.Get(bench.VeleroVelero), "get"),
			}
		case "discovery":
			return []measure.Case{vv.Case(bench.DiscoveryVelero, "discovery")}
		case "firstcall":
			return []measure.Case{vv.Case(bench.FirstCallVelero, "firstcall")}
		}
		return nil
	}
	rep, err := bench.Run(ctx, cfg)
	if err != nil {
		return err
	}
	rep.Command = "interop/cmd/bench " + strings.Join(os.Args[1:], " ")
	if len(rssWorkers) == 0 {
		rssWorkers = []int{1, 2}
	}
	if rep.Memory, err = memory(ctx, rigging, rssDirs, rssRuns, rssCluster, rssWorkers); err != nil {
		return err
	}
	if docs != "" {
		if err := bench.WriteDocs(docs, rep); err != nil {
			return err
		}
	}
	if output == "json" {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	fmt.Print(rep.Markdown())
	return nil
}

// memory measures the peak RSS of rigging backing up each of dirs, from
// the manifests, then, with cluster, from the test API server with each
// of workers.
func memory(ctx context.Context, rigging string, dirs []string, runs int, cluster bool, workers []int) ([]bench.MemoryRow, error) {
	if len(dirs) == 0 {
		return nil, nil
	}
	fmt.Fprintln(os.Stderr, "bench: memory")
	var sets []bench.MemorySet
	for _, d := range dirs {
		items, err := manifest.Load(d)
		if err != nil {
			return nil, fmt.Errorf("--rss %s: %w", d, err)
		}
		sets = append(sets, bench.MemorySet{Dir: d, Items: len(items)})
	}
	rows, err := bench.MeasureMemory(ctx, rigging, sets, runs)
	if err != nil || !cluster {
		return rows, err
	}
	fmt.Fprintln(os.Stderr, "bench: memory from the test API server (seeding takes minutes)")
	more, err := bench.MeasureClusterMemory(ctx, rigging, sets, workers, runs)
	return append(rows, more...), err
}

// rerender rewrites the docs from a saved report, recomputing the ratios.
func rerender(path, docs string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var rep bench.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	rep.Recompute()
	if docs == "" {
		fmt.Print(rep.Markdown())
		return nil
	}
	return bench.WriteDocs(docs, &rep)
}

// riggingHost is this binary as a rigging host process: it drives the
// plugins of --plugin-dir through a Manager and answers the bench
// program's requests (bench.HostOps) on stdin and stdout.
func riggingHost(args []string) error {
	fs := flag.NewFlagSet("host", flag.ContinueOnError)
	dir := fs.String("plugin-dir", "", "plugin directory")
	size := fs.Int64("object-size", 256<<20, "bytes per PutObject/GetObject")
	fs.String("discovery-dir", "", "unused (velerochild's flag)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if path := os.Getenv("RIGGING_BENCH_HOST_CPUPROFILE"); path != "" {
		// A CPU profile per rigging host process, written when the bench
		// program closes its input.
		if f, err := os.Create(fmt.Sprintf("%s.%d", path, os.Getpid())); err == nil && pprof.StartCPUProfile(f) == nil {
			defer pprof.StopCPUProfile()
		}
	}
	ops, closeAll, err := bench.HostOps(context.Background(), *dir, *size)
	if err != nil {
		return err
	}
	defer closeAll()
	return measure.ServeChild(os.Stdin, os.Stdout, ops)
}
