package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// globalFlags holds the flags every command shares and what the root's
// set-up builds from them. Commands read it after PersistentPreRunE.
type globalFlags struct {
	LogLevel      string // --log-level: debug, info, warn, error
	LogFormat     string // --log-format: text or json
	PluginDir     string // --plugin-dir: directory of external plugin binaries
	MetricsAddr   string // --metrics-addr: serve /metrics there when set
	PluginConfig  string // --plugin-config: YAML file of plugin configuration
	PreferBuiltin bool   // --prefer-builtin: a built-in wins over an external plugin of the same kind and name

	// External plugin discovery and supervision (--plugin-*); each falls
	// back to its RIGGING_PLUGIN_* environment variable when the flag is
	// not given (see externalOptions).
	PluginStrict         bool          // --plugin-strict: any discovery problem is fatal
	PluginChecksums      string        // --plugin-checksums: sha256sum-format file pinning the binaries
	AllowWritablePlugins bool          // --allow-writable-plugins: run binaries writable by other users
	PluginAutoMTLS       bool          // --plugin-auto-mtls: negotiate mutual TLS (default on)
	PluginEnvAllow       []string      // --plugin-env-allow: the only host variables plugins get
	PluginGrace          time.Duration // --plugin-grace: stop grace before a plugin is killed
	PluginMemoryLimit    string        // --plugin-memory-limit: SIZE each plugin process is held to

	// Logger writes to stderr in the chosen format and level. Built in
	// PersistentPreRunE.
	Logger *slog.Logger

	stderr      io.Writer
	pluginFlags *pflag.FlagSet       // where the --plugin-* flags live, to tell given from default
	metrics     *prometheus.Registry // this run's collectors, served at --metrics-addr
	server      *http.Server
	metricsURL  string // where the metrics are served, once they are
}

// newRootCommand builds the command tree.
func newRootCommand(g *globalFlags) *cobra.Command {
	root := groupCommand(&cobra.Command{
		Use:   "rigging",
		Short: "Run Velero plugins without a cluster: inspect, execute, store, back up and restore",
		Long: `rigging is a plugin runtime for Kubernetes backup tools of the Velero family.
Built-in plugins run in-process; Velero plugin binaries found in --plugin-dir run
as subprocesses speaking Velero's plugin protocol. Both are reached the same way.

Exit codes: 0 success, 1 the command failed, 2 usage error, 130 interrupted
(SIGINT), 143 stopped (SIGTERM). Either signal stops the command at once, with
every plugin process it started and its temporary files.`,
		SilenceErrors: true,
		SilenceUsage:  true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return g.setUp(cmd.Context())
		},
	})
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return asUsage(err) })
	f := root.PersistentFlags()
	f.StringVar(&g.LogLevel, "log-level", "info", "log level: debug, info, warn or error")
	f.StringVar(&g.LogFormat, "log-format", "text", "log format: text or json")
	f.StringVar(&g.PluginDir, "plugin-dir", "", "directory of external (Velero) plugin binaries (one that does not exist is a warning; an error with --plugin-strict)")
	f.StringVar(&g.MetricsAddr, "metrics-addr", "", "serve Prometheus metrics at http://ADDR/metrics while the command runs (e.g. :8085)")
	f.StringVar(&g.PluginConfig, "plugin-config", "", "YAML file of plugin configuration: plugin name -> {key: value}, or Velero plugin ConfigMaps")
	f.BoolVar(&g.PreferBuiltin, "prefer-builtin", false, "when an external plugin has the kind and name of a built-in, use the built-in")
	for name, values := range map[string][]string{"log-level": {"debug", "info", "warn", "error"}, "log-format": {"text", "json"}} {
		_ = root.RegisterFlagCompletionFunc(name, cobra.FixedCompletions(values, cobra.ShellCompDirectiveNoFileComp))
	}
	registerPluginFlags(f, g)
	_ = root.MarkPersistentFlagDirname("plugin-dir")
	_ = root.MarkPersistentFlagFilename("plugin-checksums")
	_ = root.MarkPersistentFlagFilename("plugin-config", "yaml", "yml", "json")

	root.AddCommand(
		newPluginsCommand(g),
		newExecCommand(g),
		newStoreCommand(g),
		newBackupCommand(g),
		newRestoreCommand(g),
		newVerifyCommand(g),
		newRunPluginsCommand(g),
		newBenchCommand(g),
		newVersionCommand(),
	)
	return root
}

// setUp builds the logger and starts the metrics server.
func (g *globalFlags) setUp(ctx context.Context) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(g.LogLevel)); err != nil {
		return usageErrorf("--log-level %q: want debug, info, warn or error", g.LogLevel)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch strings.ToLower(g.LogFormat) {
	case "text":
		g.Logger = slog.New(slog.NewTextHandler(g.stderr, opts))
	case "json":
		g.Logger = slog.New(slog.NewJSONHandler(g.stderr, opts))
	default:
		return usageErrorf("--log-format %q: want text or json", g.LogFormat)
	}
	g.metrics = prometheus.NewRegistry()
	g.metrics.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if g.MetricsAddr == "" {
		return nil
	}
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", g.MetricsAddr)
	if err != nil {
		return fmt.Errorf("--metrics-addr: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(g.metrics, promhttp.HandlerOpts{Registry: g.metrics}))
	g.server = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	g.metricsURL = "http://" + ln.Addr().String() + "/metrics"
	g.Logger.Info("serving metrics", "url", g.metricsURL)
	go func() {
		if err := g.server.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			g.Logger.Error("metrics server stopped", "error", err)
		}
	}()
	return nil
}

// close stops the metrics server, letting a scrape in progress finish.
func (g *globalFlags) close() error {
	if g.server == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return g.server.Shutdown(ctx)
}
