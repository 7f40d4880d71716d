package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/external"
	"github.com/rigging-dev/rigging/external/conformance"
	"github.com/rigging-dev/rigging/external/plugin"
	"github.com/rigging-dev/rigging/location"
	"github.com/rigging-dev/rigging/providers/filesystem"
	"github.com/rigging-dev/rigging/registry"
)

// Environment knobs of external plugin discovery (the command line has no
// flags for them yet).
const (
	// envStrict=1 makes any broken plugin binary fatal.
	envStrict = "RIGGING_PLUGIN_STRICT"
	// envChecksums names a sha256sum-format file pinning plugin binaries.
	envChecksums = "RIGGING_PLUGIN_CHECKSUMS"
	// envAllowWritable=1 accepts binaries writable by other users.
	envAllowWritable = "RIGGING_PLUGIN_ALLOW_WRITABLE"
	// envAutoMTLS=1 asks plugins for mutual TLS (go-plugin AutoMTLS).
	envAutoMTLS = "RIGGING_PLUGIN_AUTO_MTLS"
)

// externalSource returns the catalog of the plugin binaries in --plugin-dir,
// or nil when no directory is given. Discovery answers are cached in
// plugin-cache.json under the data directory, keyed by each binary's stat
// identity, so an unchanged directory launches nothing.
func externalSource(ctx context.Context, g *globalFlags) (registry.Source, error) {
	if g.PluginDir == "" {
		return nil, nil
	}
	opts := external.Options{
		Dir:           g.PluginDir,
		CacheFile:     filepath.Join(filesystem.DataDir(), "plugin-cache.json"),
		Logger:        g.Logger,
		Args:          []string{"--log-level=" + g.LogLevel},
		Strict:        os.Getenv(envStrict) == "1",
		AllowWritable: os.Getenv(envAllowWritable) == "1",
		AutoMTLS:      os.Getenv(envAutoMTLS) == "1",
	}
	if f := os.Getenv(envChecksums); f != "" {
		sums, err := external.LoadChecksums(f, g.PluginDir)
		if err != nil {
			return nil, err
		}
		opts.Checksums = sums
	}
	c, err := external.Discover(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("--plugin-dir %s: %w", g.PluginDir, err)
	}
	return c, nil
}

// servePluginsIfChild serves the compiled-in plugins when a plugin host
// started this process (go-plugin's magic cookie VELERO_PLUGIN=hello is in
// the environment), whatever the arguments: a Velero host re-executes the
// command ListPlugins reported with its own server flags and without
// run-plugins, so rigging copied or symlinked into a Velero plugin directory
// just works. --kind and --name after run-plugins still select plugins. It
// reports whether it served.
func servePluginsIfChild() bool {
	if os.Getenv(plugin.Handshake.MagicCookieKey) != plugin.Handshake.MagicCookieValue {
		return false
	}
	var sel func(rigging.Kind, rigging.Name) bool
	if i := slices.Index(os.Args, "run-plugins"); i > 0 {
		kinds, names := selectionFlags(os.Args[i+1:])
		sel = selector(kinds, names)
	}
	plugin.Serve(plugin.ServeOptions{Select: sel})
	return true
}

// selectionFlags reads --kind and --name (repeatable, comma-separated) from
// raw arguments, ignoring everything else.
func selectionFlags(args []string) (kinds, names []string) {
	for i := 0; i < len(args); i++ {
		name, val, ok := strings.Cut(strings.TrimLeft(args[i], "-"), "=")
		if !strings.HasPrefix(args[i], "--") || (name != "kind" && name != "name") {
			continue
		}
		if !ok && i+1 < len(args) {
			i++
			val = args[i]
		}
		for _, v := range strings.Split(val, ",") {
			if v = strings.TrimSpace(v); v == "" {
				continue
			}
			if name == "kind" {
				kinds = append(kinds, v)
			} else {
				names = append(names, v)
			}
		}
	}
	return kinds, names
}

// selector accepts plugins of the given kinds and names (either list empty:
// any). Names may be short ("pod" = "velero.io/pod").
func selector(kinds, names []string) func(rigging.Kind, rigging.Name) bool {
	if len(kinds) == 0 && len(names) == 0 {
		return nil
	}
	var full []rigging.Name
	for _, n := range names {
		if p, err := rigging.ParseName(n); err == nil {
			full = append(full, p)
		}
	}
	return func(k rigging.Kind, n rigging.Name) bool {
		return (len(kinds) == 0 || slices.Contains(kinds, string(k))) && (len(names) == 0 || slices.Contains(full, n))
	}
}

// newRunPluginsCommand serves the compiled-in plugins to a plugin host.
func newRunPluginsCommand(*globalFlags) *cobra.Command {
	var kinds, names []string
	cmd := &cobra.Command{
		Use:   "run-plugins",
		Short: "Serve the compiled-in plugins to a Velero-compatible plugin host",
		Long: `Serve the compiled-in plugins over Velero's plugin protocol (go-plugin gRPC,
handshake VELERO_PLUGIN=hello, protocol version 2), all of them or those
selected with --kind and --name.

A plugin host starts this command; run by hand it only explains itself. To
give a Velero server rigging's plugins, copy or symlink the rigging binary into
its plugin directory: started by a host, rigging serves its plugins whatever
its arguments. Unknown flags (a Velero host forwards its own) are ignored;
--log-level and --features are honoured.`,
		Args: args(cobra.ArbitraryArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if os.Getenv(plugin.Handshake.MagicCookieKey) != plugin.Handshake.MagicCookieValue {
				return errors.New("run-plugins is started by a plugin host (Velero, or rigging with --plugin-dir): copy or symlink this binary into the host's plugin directory")
			}
			for _, k := range kinds {
				if _, err := rigging.ParseKind(k); err != nil {
					return asUsage(err)
				}
			}
			plugin.Serve(plugin.ServeOptions{Select: selector(kinds, names)})
			return nil
		},
	}
	cmd.FParseErrWhitelist.UnknownFlags = true
	cmd.Flags().StringSliceVar(&kinds, "kind", nil, "serve only plugins of these kinds (repeatable)")
	cmd.Flags().StringSliceVar(&names, "name", nil, "serve only plugins with these names (repeatable)")
	return cmd
}

// newVerifyCommand runs the conformance suite against one plugin.
func newVerifyCommand(g *globalFlags) *cobra.Command {
	var kind, name, config, bucket string
	cmd := &cobra.Command{
		Use:   "verify --kind KIND --name NAME",
		Short: "Check a plugin against the plugin contract, in-process and over gRPC",
		Long: `Run the conformance suite against one plugin and report contract violations
and any difference between the ways of reaching it.

A plugin from --plugin-dir is driven across its own subprocess (and, when a
built-in has the same kind and name, compared with it). A built-in is driven
directly, over an in-memory gRPC connection, and across a rigging subprocess
serving it, and the three must agree.

ObjectStore cases write and delete keys under conformance-<transport>/ in
--bucket; give the store's Init config with --config (k=v,k2=v2).
VolumeSnapshotter cases only call GetVolumeID and SetVolumeID.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			k, err := rigging.ParseKind(kind)
			if err != nil {
				return asUsage(fmt.Errorf("--kind: %w", err))
			}
			n, err := rigging.ParseName(name)
			if err != nil {
				return asUsage(fmt.Errorf("--name: %w", err))
			}
			cfg, err := location.ParseConfig(config)
			if err != nil {
				return asUsage(fmt.Errorf("--config: %w", err))
			}
			rep, err := verify(cmd.Context(), g, k, n, cfg, bucket)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), rep)
			if !rep.OK() {
				return fmt.Errorf("%s %s does not conform", k, n)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&kind, "kind", "", "plugin kind (ObjectStore, BackupItemAction, ...)")
	f.StringVar(&name, "name", "", "plugin name (velero.io/aws, or aws)")
	f.StringVar(&config, "config", "", "Init config of an ObjectStore or VolumeSnapshotter: k=v,k2=v2")
	f.StringVar(&bucket, "bucket", "conformance", "ObjectStore bucket to write test keys to")
	_ = cmd.MarkFlagRequired("kind")
	_ = cmd.MarkFlagRequired("name")
	return cmd
}

func verify(ctx context.Context, g *globalFlags, kind rigging.Kind, name rigging.Name, cfg map[string]string, bucket string) (*conformance.Report, error) {
	var transports []conformance.Transport
	_, builtin := registry.Default.Lookup(kind, name)
	if builtin {
		transports = append(transports, conformance.Direct(registry.Default, kind, name, g.Logger))
		mem, stop, err := conformance.InMemory(registry.Default, kind, name, g.Logger)
		if err != nil {
			return nil, err
		}
		defer stop()
		transports = append(transports, mem)
	}
	src, err := externalSource(ctx, g)
	if err != nil {
		return nil, err
	}
	var cat *external.Catalog
	if src != nil {
		cat = src.(*external.Catalog)
		if !slices.ContainsFunc(cat.Plugins(), func(i registry.Info) bool { return i.Kind == kind && i.Name == name }) {
			cat.Close()
			cat = nil
		}
	}
	if cat == nil && builtin {
		self, err := os.Executable()
		if err != nil {
			return nil, err
		}
		if cat, err = external.OpenBinary(ctx, self, external.Options{Logger: g.Logger}); err != nil {
			return nil, err
		}
	}
	if cat == nil {
		return nil, fmt.Errorf("%w: %s %s is neither built in nor in --plugin-dir %q", rigging.ErrPluginNotFound, kind, name, g.PluginDir)
	}
	defer cat.Close()
	transports = append(transports, conformance.Subprocess(cat, kind, name))
	return conformance.Run(ctx, conformance.Options{Kind: kind, Name: name, Config: cfg, Bucket: bucket}, transports...)
}
