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
	)
	flag.StringVar(&output, "o", "text", "output: text (Markdown) or json")
	flag.StringVar(&docs, "docs", "", "write benchmarks.json, bench-per-call.svg and BENCHMARKS.md's generated region into this directory")
	flag.StringVar(&items, "items", "", "manifests to back up in the backup group (gen-large.sh's output)")
	flag.StringVar(&velo, "velero-child", "", "the velerochild binary (required)")
	flag.IntVar(&cfg.Rounds, "rounds", 5, "interleaved rounds per group")
	flag.IntVar(&cfg.Calls, "calls", 1000, "Execute calls per case and round")
	flag.Int64Var(&objectMiB, "object-mib", 256, "MiB per PutObject/GetObject")
	flag.StringVar(&groups, "groups", "", "comma-separated groups to run (default all: "+strings.Join(bench.Groups, ",")+")")
	flag.StringVar(&render, "render", "", "only re-render --docs from this benchmarks.json (no measuring)")
	flag.Parse()
	if render != "" {
		return rerender(render, docs)
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
	host := func(name, pluginDir string) (*measure.Child, error) {
		cmd := exec.Command(velo, "host", "--plugin-dir", pluginDir, "--discovery-dir", dirs["discovery"],
			"--object-size", strconv.FormatInt(cfg.ObjectSize, 10))
		cmd.Stderr = os.Stderr
		return measure.StartChild(name, cmd)
	}
	vv, err := host("Velero host → Velero plugin", dirs["velero"])
	if err != nil {
		return err
	}
	defer vv.Close()
	vr, err := host("Velero host → rigging plugin", dirs["rigging"])
	if err != nil {
		return err
	}
	defer vr.Close()

	rv, err := bench.CatalogManager(ctx, dirs["velero"], "")
	if err != nil {
		return err
	}
	defer rv.Close()
	a, err := rv.BackupItemAction(ctx, bench.ActionName)
	if err != nil {
		return fmt.Errorf("rigging host → Velero plugin: %w", err)
	}
	rvCall, err := bench.ExecuteCall(ctx, bench.RiggingVelero, a, 1)
	if err != nil {
		return err
	}

	cfg.Extra = func(group string) []measure.Case {
		switch group {
		case "per-call":
			return []measure.Case{rvCall.Case(), vv.Case(bench.VeleroVelero, "exec"), vr.Case(bench.VeleroRigging, "exec")}
		case "throughput":
			var cs []measure.Case
			for _, g := range bench.Concurrency {
				cs = append(cs, vv.Case(bench.Parallel(bench.VeleroVelero, g), "exec-c"+strconv.Itoa(g)))
			}
			return cs
		case "object":
			return []measure.Case{vv.Case(bench.Put(bench.VeleroVelero), "put"), vv.Case(bench.Get(bench.VeleroVelero), "get")}
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
