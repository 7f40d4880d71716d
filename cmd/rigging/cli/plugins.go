package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"

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

func newPluginsCommand(g *globalFlags) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "plugins",
		Short: "List the plugins: built-in and external, active and shadowed",
		Long: `List every plugin rigging can run, by kind (in Velero's order) and name.

SOURCE is "builtin" for a plugin compiled into this binary, or the path of the
external plugin binary that serves it. ACTIVE is false for a plugin shadowed by
one of the same kind and name from the other source: an external plugin
shadows a built-in unless --prefer-builtin is given.

With -o json the output is an array of objects with the keys kind, name,
source and active.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "table" && output != "json" {
				return usageErrorf("--output %q: want table or json", output)
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

// writeJSON writes v as indented JSON, without HTML escaping.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
