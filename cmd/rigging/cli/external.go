package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/external"
	"github.com/rigging-dev/rigging/external/conformance"
	"github.com/rigging-dev/rigging/external/plugin"
	"github.com/rigging-dev/rigging/manager"
	"github.com/rigging-dev/rigging/providers/filesystem"
	"github.com/rigging-dev/rigging/registry"
)

// Environment fallbacks of the --plugin-* flags: each is read only when
// its flag is not given on the command line.
const (
	envStrict        = "RIGGING_PLUGIN_STRICT"         // --plugin-strict (true/false, 1/0)
	envChecksums     = "RIGGING_PLUGIN_CHECKSUMS"      // --plugin-checksums FILE
	envAllowWritable = "RIGGING_PLUGIN_ALLOW_WRITABLE" // --allow-writable-plugins
	envAutoMTLS      = "RIGGING_PLUGIN_AUTO_MTLS"      // --plugin-auto-mtls
	envEnvAllow      = "RIGGING_PLUGIN_ENV_ALLOW"      // --plugin-env-allow LIST
	envGrace         = "RIGGING_PLUGIN_GRACE"          // --plugin-grace DURATION
)

// registerPluginFlags adds the external plugin flags to the root's
// persistent flags.
func registerPluginFlags(f *pflag.FlagSet, g *globalFlags) {
	g.pluginFlags = f
	f.BoolVar(&g.PluginStrict, "plugin-strict", false,
		"make any plugin discovery problem fatal (a missing --plugin-dir, a broken or refused binary, a duplicate plugin) instead of a warning [$"+envStrict+"]")
	f.StringVar(&g.PluginChecksums, "plugin-checksums", "",
		"sha256sum-format FILE pinning the plugin binaries: a binary without an entry or with another digest is refused [$"+envChecksums+"]")
	f.BoolVar(&g.AllowWritablePlugins, "allow-writable-plugins", false,
		"run plugin binaries (and a plugin directory) writable by other users [$"+envAllowWritable+"]")
	f.BoolVar(&g.PluginAutoMTLS, "plugin-auto-mtls", true,
		"negotiate mutual TLS with plugins (go-plugin AutoMTLS); a plugin that does not support it runs without TLS, with a warning [$"+envAutoMTLS+"]")
	f.StringSliceVar(&g.PluginEnvAllow, "plugin-env-allow", nil,
		"give plugins only these host environment variables (comma-separated; NAME or PREFIX*), plus go-plugin's own; default: the whole environment [$"+envEnvAllow+"]")
	f.DurationVar(&g.PluginGrace, "plugin-grace", 2*time.Second,
		"how long a plugin may take to stop after a graceful shutdown request before it is killed [$"+envGrace+"]")
}

// externalOptions builds the discovery options from the --plugin-* flags,
// falling back to the RIGGING_PLUGIN_* environment variables for flags not
// given. It does not load the checksum file.
func externalOptions(g *globalFlags) (external.Options, error) {
	opts := external.Options{
		Dir:           g.PluginDir,
		CacheFile:     filepath.Join(filesystem.DataDir(), "plugin-cache.json"),
		Logger:        g.Logger,
		Args:          []string{"--log-level=" + g.LogLevel},
		Strict:        g.PluginStrict,
		AllowWritable: g.AllowWritablePlugins,
		AutoMTLS:      g.PluginAutoMTLS,
		StopGrace:     g.PluginGrace,
	}
	if g.PluginEnvAllow != nil || g.changed("plugin-env-allow") {
		opts.EnvAllow = append([]string{}, g.PluginEnvAllow...)
	}
	var errs []error
	for _, b := range []struct {
		flag, env string
		dst       *bool
	}{
		{"plugin-strict", envStrict, &opts.Strict},
		{"allow-writable-plugins", envAllowWritable, &opts.AllowWritable},
		{"plugin-auto-mtls", envAutoMTLS, &opts.AutoMTLS},
	} {
		if v, ok := g.fromEnv(b.flag, b.env); ok {
			on, err := strconv.ParseBool(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("$%s=%q (fallback of --%s): want true or false", b.env, v, b.flag))
			}
			*b.dst = on
		}
	}
	if v, ok := g.fromEnv("plugin-env-allow", envEnvAllow); ok {
		opts.EnvAllow = []string{}
		for _, n := range strings.Split(v, ",") {
			if n = strings.TrimSpace(n); n != "" {
				opts.EnvAllow = append(opts.EnvAllow, n)
			}
		}
	}
	if v, ok := g.fromEnv("plugin-grace", envGrace); ok {
		d, err := time.ParseDuration(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("$%s=%q (fallback of --plugin-grace): %w", envGrace, v, err))
		}
		opts.StopGrace = d
	}
	if opts.StopGrace <= 0 && len(errs) == 0 {
		errs = append(errs, fmt.Errorf("--plugin-grace %s: want a positive duration", opts.StopGrace))
	}
	return opts, asUsage(errors.Join(errs...))
}

// checksumsFile is --plugin-checksums, or its environment fallback.
func (g *globalFlags) checksumsFile() string {
	if v, ok := g.fromEnv("plugin-checksums", envChecksums); ok {
		return v
	}
	return g.PluginChecksums
}

// changed reports whether flag was given on the command line.
func (g *globalFlags) changed(flag string) bool {
	return g.pluginFlags != nil && g.pluginFlags.Changed(flag)
}

// fromEnv returns env's value when flag was not given and env is set and
// not empty.
func (g *globalFlags) fromEnv(flag, env string) (string, bool) {
	if g.changed(flag) {
		return "", false
	}
	v := os.Getenv(env)
	return v, v != ""
}

// externalSource returns the catalog of the plugin binaries in --plugin-dir,
// or nil when no directory is given. Discovery answers are cached in
// plugin-cache.json under the data directory, keyed by each binary's stat
// identity, so an unchanged directory launches nothing.
func externalSource(ctx context.Context, g *globalFlags) (manager.Catalog, error) {
	if g.PluginDir == "" {
		return nil, nil
	}
	opts, err := externalOptions(g)
	if err != nil {
		return nil, err
	}
	// The library reads a missing directory as an empty one (as Velero
	// does); a directory named on the command line is most likely a typo.
	if _, err := os.Stat(g.PluginDir); errors.Is(err, fs.ErrNotExist) {
		if opts.Strict {
			return nil, fmt.Errorf("--plugin-dir %s: no such directory (fatal with --plugin-strict)", g.PluginDir)
		}
		g.Logger.Warn("--plugin-dir does not exist; no external plugins are loaded", "dir", g.PluginDir)
		return nil, nil
	}
	if f := g.checksumsFile(); f != "" {
		sums, err := external.LoadChecksums(f, g.PluginDir)
		if err != nil {
			return nil, fmt.Errorf("--plugin-checksums: %w", err)
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
			cfg, err := parseConfigFlag(config, k, n.String())
			if err != nil {
				return err
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
		if !slices.ContainsFunc(cat.Plugins(), func(i manager.Info) bool { return i.Kind == kind && i.Name == name }) {
			cat.Close()
			cat = nil
		}
	}
	if cat == nil && builtin {
		self, err := os.Executable()
		if err != nil {
			return nil, err
		}
		opts, err := externalOptions(g)
		if err != nil {
			return nil, err
		}
		opts.CacheFile = ""
		if cat, err = external.OpenBinary(ctx, self, opts); err != nil {
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
