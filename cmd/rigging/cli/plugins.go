package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/rigging-dev/rigging/manager"
)

// pluginJSON is one element of `rigging plugins -o json`.
type pluginJSON struct {
	Kind   string `json:"kind"`
	Name   string `json:"name"`
	Source string `json:"source"`
	Active bool   `json:"active"`
}

// processJSON is one element of `rigging plugins --stats -o json`.
type processJSON struct {
	Binary        string   `json:"binary"`
	Running       bool     `json:"running"`
	PID           int      `json:"pid,omitempty"`
	RSSBytes      *uint64  `json:"rss_bytes,omitempty"`   // absent where not measured
	CPUSeconds    *float64 `json:"cpu_seconds,omitempty"` // absent where not measured
	Restarts      uint64   `json:"restarts"`
	OpenCalls     int64    `json:"open_calls"`
	UptimeSeconds float64  `json:"uptime_seconds"`
}

func newPluginsCommand(g *globalFlags) *cobra.Command {
	var (
		output string
		stats  bool
	)
	cmd := &cobra.Command{
		Use:   "plugins",
		Short: "List the plugins: built-in and external, active and shadowed",
		Long: `List every plugin rigging can run, by kind (in Velero's order) and name.

SOURCE is "builtin" for a plugin compiled into this binary, or the path of the
external plugin binary that serves it. ACTIVE is false for a plugin shadowed by
one of the same kind and name from the other source: an external plugin
shadows a built-in unless --prefer-builtin is given.

With -o json the output is an array of objects with the keys kind, name,
source and active.

With --stats, the process of every plugin binary in --plugin-dir is started
(as a first call would start it; no plugin is called) and its resource use
printed: PID, resident memory (RSS) and CPU time of its process group (Linux;
"-" elsewhere), restarts, calls running, uptime. -o json prints an array of
objects with the keys binary, running, pid, rss_bytes, cpu_seconds, restarts,
open_calls and uptime_seconds. The same figures are served live as the
rigging_plugin_process_* metrics at --metrics-addr by every command, and logged
for each plugin process when a command ends with --log-level debug.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "table" && output != "json" {
				return usageErrorf("--output %q: want table or json", output)
			}
			if stats {
				return runPluginStats(cmd.Context(), g, cmd.OutOrStdout(), output)
			}
			m, err := newManager(cmd.Context(), g)
			if err != nil {
				return err
			}
			defer m.Close()
			return printPlugins(cmd.OutOrStdout(), m.Plugins(), output)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table or json")
	cmd.Flags().BoolVar(&stats, "stats", false, "start the process of every plugin binary in --plugin-dir and print its resource use (PID, RSS, CPU, restarts, open calls, uptime)")
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"table", "json"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func printPlugins(w io.Writer, plugins []manager.PluginInfo, output string) error {
	if output == "json" {
		out := make([]pluginJSON, 0, len(plugins))
		for _, p := range plugins {
			out = append(out, pluginJSON{Kind: p.Kind.String(), Name: p.Name.String(), Source: p.Source, Active: p.Active})
		}
		return writeJSON(w, out)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tNAME\tSOURCE\tACTIVE")
	for _, p := range plugins {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%t\n", p.Kind, p.Name, p.Source, p.Active)
	}
	return tw.Flush()
}

// processStarter is the external catalog's side `plugins --stats` uses.
type processStarter interface {
	manager.ProcessReporter
	Start(ctx context.Context) error
}

// runPluginStats starts the processes of --plugin-dir's binaries and
// prints their stats. A binary that fails to start is shown not running,
// and its error returned after the table.
func runPluginStats(ctx context.Context, g *globalFlags, w io.Writer, output string) error {
	if g.PluginDir == "" {
		return usageErrorf("--stats: no --plugin-dir: built-in plugins run inside rigging and have no process of their own")
	}
	src, err := externalSource(ctx, g)
	if err != nil {
		return err
	}
	if src == nil {
		return fmt.Errorf("--stats: no plugins in --plugin-dir %s", g.PluginDir)
	}
	cat, ok := src.(processStarter)
	if !ok {
		src.Close()
		return fmt.Errorf("--stats: the plugin catalog of %s reports no processes", g.PluginDir)
	}
	// Through a Manager, so that --metrics-addr serves the same figures.
	m := manager.New(manager.Options{External: src, Logger: g.Logger, Metrics: g.metrics, PreferBuiltin: g.PreferBuiltin})
	defer m.Close()
	startErr := cat.Start(ctx)
	if err := printProcessStats(w, cat.ProcessStats(), output); err != nil {
		return errors.Join(err, startErr)
	}
	return startErr
}

func printProcessStats(w io.Writer, stats []manager.ProcessStats, output string) error {
	if output == "json" {
		out := make([]processJSON, 0, len(stats))
		for _, s := range stats {
			p := processJSON{Binary: s.Binary, Running: s.Running, PID: s.PID, Restarts: s.Restarts, OpenCalls: s.OpenCalls, UptimeSeconds: s.Uptime.Seconds()}
			if s.Measured {
				rss, cpu := s.RSS, s.CPU.Seconds()
				p.RSSBytes, p.CPUSeconds = &rss, &cpu
			}
			out = append(out, p)
		}
		return writeJSON(w, out)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "BINARY\tPID\tRSS\tCPU\tRESTARTS\tOPEN CALLS\tUPTIME")
	for _, s := range stats {
		pid, rss, cpu, up := "-", "-", "-", "-"
		if s.Running {
			pid, up = strconv.Itoa(s.PID), s.Uptime.Round(time.Millisecond).String()
		}
		if s.Measured && s.Running {
			rss = fmt.Sprintf("%.1fMi", float64(s.RSS)/(1<<20))
		}
		if s.Measured {
			cpu = s.CPU.Round(time.Millisecond).String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%s\n", s.Binary, pid, rss, cpu, s.Restarts, s.OpenCalls, up)
	}
	return tw.Flush()
}

// writeJSON writes v as indented JSON, without HTML escaping.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
