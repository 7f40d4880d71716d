package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/rigging-dev/rigging/external"
	"github.com/rigging-dev/rigging/manager"
	"github.com/rigging-dev/rigging/providers/filesystem"
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
	envMemoryLimit   = "RIGGING_PLUGIN_MEMORY_LIMIT"   // --plugin-memory-limit SIZE
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
	f.StringVar(&g.PluginMemoryLimit, "plugin-memory-limit", "",
		"hold each plugin process to SIZE of data memory (e.g. 256Mi, 1Gi; Linux RLIMIT_DATA, of which a Go plugin's runtime takes about 130Mi at start): "+
			"a plugin that exceeds it fails its call with an error naming it and the limit, and restarts at the next call; default: no limit [$"+envMemoryLimit+"]")
}

// parseMemoryLimit reads a --plugin-memory-limit SIZE: a Kubernetes
// quantity (256Mi, 1Gi, 500M) or a number of bytes; "" and "0" mean none.
func parseMemoryLimit(source, v string) (int64, error) {
	if v == "" {
		return 0, nil
	}
	q, err := resource.ParseQuantity(v)
	if err != nil {
		return 0, fmt.Errorf("%s %q: want a size such as 256Mi or 1Gi: %w", source, v, err)
	}
	n, ok := q.AsInt64()
	if !ok || n < 0 {
		return 0, fmt.Errorf("%s %q: want a whole, non-negative number of bytes", source, v)
	}
	return n, nil
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
	limit, source := g.PluginMemoryLimit, "--plugin-memory-limit"
	if v, ok := g.fromEnv("plugin-memory-limit", envMemoryLimit); ok {
		limit, source = v, "$"+envMemoryLimit+" (fallback of --plugin-memory-limit)"
	}
	n, err := parseMemoryLimit(source, limit)
	if err != nil {
		errs = append(errs, err)
	}
	opts.MemoryLimit = n
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
