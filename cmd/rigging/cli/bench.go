package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/rigging-dev/rigging/bench"
	"github.com/rigging-dev/rigging/manifest"
	"github.com/rigging-dev/rigging/registry"
)

// A plugin process started by `rigging bench` (it inherits the variable)
// also serves the benchmark plugins; other rigging processes never do.
func init() {
	if os.Getenv(bench.EnvPlugins) == "1" {
		bench.RegisterPlugins(registry.Default)
	}
}

func newBenchCommand(*globalFlags) *cobra.Command {
	var (
		output, items, docs string
		groups              []string
		cfg                 bench.Config
		objectMiB           int64
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure plugin calls in-process, over gRPC and through a plugin process",
		Long: `Measure BackupItemAction Execute (velero.io/pod on a 2.2 KiB pod and a 1.4 KiB
Backup) as a direct call, through the plugin Manager in-process, through the
Manager over in-memory gRPC, and from the Manager to this binary started as a
plugin process, next to a raw gRPC call and a raw unix-socket round trip of
the same bytes to another process; then throughput at 1, 8 and 64 goroutines,
PutObject/GetObject streams, discovery of 10 plugin binaries cold and warm,
first-call latency, and (with --items) a backup in-process against the same
actions over RPC. Cases of a group run interleaved, in rounds.

The comparison with Velero's own host and plugins needs Velero's code, which
cannot share a binary with rigging's: 'make bench' runs it (interop module).`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "text" && output != "json" {
				return usageErrorf("-o %q: want text or json", output)
			}
			for _, gr := range groups {
				if !containsString(bench.Groups, gr) {
					return usageErrorf("--group %q: want one of %s", gr, strings.Join(bench.Groups, ", "))
				}
			}
			self, err := os.Executable()
			if err != nil {
				return fmt.Errorf("bench: find this binary: %w", err)
			}
			cfg.PluginBinary = self
			cfg.FloorCommand = bench.FloorCommand(self, "bench", "floor")
			cfg.ObjectSize = objectMiB << 20
			cfg.Groups = groups
			cfg.Progress = cmd.ErrOrStderr()
			if items != "" {
				if cfg.Items, err = manifest.Load(items); err != nil {
					return fmt.Errorf("bench: --items: %w", err)
				}
			}
			rep, err := bench.Run(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			rep.Command = "rigging " + strings.Join(os.Args[1:], " ")
			if docs != "" {
				if err := bench.WriteDocs(docs, rep); err != nil {
					return fmt.Errorf("bench: --docs: %w", err)
				}
			}
			if output == "json" {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(rep)
			}
			_, err = fmt.Fprint(cmd.OutOrStdout(), rep.Markdown())
			return err
		},
	}
	f := cmd.Flags()
	f.StringVarP(&output, "output", "o", "text", "output format: text (Markdown tables) or json (docs/benchmarks.json's format)")
	f.IntVar(&cfg.Rounds, "rounds", 5, "interleaved rounds per group")
	f.IntVar(&cfg.Calls, "calls", 1000, "Execute calls per case and round (in-process cases run 50x more)")
	f.Int64Var(&objectMiB, "object-mib", 256, "size of each PutObject/GetObject in MiB")
	f.StringVar(&items, "items", "", "manifests (file or directory) to back up in the backup group; none: the group is skipped")
	f.StringSliceVar(&groups, "group", nil, "run only these groups ("+strings.Join(bench.Groups, ", ")+")")
	f.StringVar(&docs, "docs", "", "also write benchmarks.json, bench-per-call.svg and the generated part of BENCHMARKS.md into this directory")
	cmd.AddCommand(&cobra.Command{
		Use:    "floor",
		Short:  "Serve the transport floors (started by rigging bench)",
		Hidden: true,
		Args:   args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir := os.Getenv(bench.EnvFloor)
			if dir == "" {
				return usageErrorf("floor is started by rigging bench (%s is not set)", bench.EnvFloor)
			}
			return bench.ServeFloor(dir, cmd.InOrStdin(), cmd.OutOrStdout())
		},
	})
	return cmd
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
