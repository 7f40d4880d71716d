package cli

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"

	"github.com/rigging-dev/rigging/registry"
)

// versionInfo is what `rigging version` reports.
type versionInfo struct {
	Version   string `json:"version"`   // the main module's version, "(devel)" for a local build
	Revision  string `json:"revision"`  // VCS revision, when built from a checkout
	Modified  bool   `json:"modified"`  // the checkout had uncommitted changes
	GoVersion string `json:"goVersion"` // the Go toolchain that built the binary
	Platform  string `json:"platform"`  // GOOS/GOARCH
	Tags      string `json:"tags"`      // build tags (the rigging_no_* tags show the plugins left out)
	Builtins  int    `json:"builtins"`  // number of plugins compiled in
}

func readVersion() versionInfo {
	v := versionInfo{
		Version:   "(unknown)",
		GoVersion: runtime.Version(),
		Platform:  runtime.GOOS + "/" + runtime.GOARCH,
		Builtins:  len(registry.Default.All()),
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	v.Version = bi.Main.Version
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Revision = s.Value
		case "vcs.modified":
			v.Modified = s.Value == "true"
		case "-tags":
			v.Tags = s.Value
		}
	}
	return v
}

func newVersionCommand() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version, the toolchain, the build tags and the number of built-in plugins",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			v := readVersion()
			switch output {
			case "json":
				return writeJSON(cmd.OutOrStdout(), v)
			case "text":
			default:
				return usageErrorf("--output %q: want text or json", output)
			}
			var b strings.Builder
			fmt.Fprintf(&b, "rigging %s", v.Version)
			if v.Revision != "" {
				fmt.Fprintf(&b, " (%s", v.Revision)
				if v.Modified {
					b.WriteString(", modified")
				}
				b.WriteString(")")
			}
			fmt.Fprintf(&b, "\n%s %s\n", v.GoVersion, v.Platform)
			if v.Tags != "" {
				fmt.Fprintf(&b, "build tags: %s\n", v.Tags)
			}
			fmt.Fprintf(&b, "%d built-in plugins (rigging plugins lists them)\n", v.Builtins)
			_, err := fmt.Fprint(cmd.OutOrStdout(), b.String())
			return err
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	return cmd
}
