// Package plugin is rigging's SDK for plugin binaries: a vendor's main
// registers factories by kind and name (registry.Register, exactly as
// built-ins do) and calls Serve, which speaks Velero v1.18's plugin protocol
// over go-plugin, so both Velero and rigging can load the binary.
//
//	func main() {
//		registry.Register("example.com/store", newStore)
//		plugin.Serve(plugin.ServeOptions{})
//	}
package plugin

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/registry"
)

// Handshake is Velero's go-plugin handshake: application protocol version 2,
// magic cookie VELERO_PLUGIN=hello. Hosts and plugins must agree on it.
var Handshake = goplugin.HandshakeConfig{
	ProtocolVersion:  2,
	MagicCookieKey:   "VELERO_PLUGIN",
	MagicCookieValue: "hello",
}

// ServeOptions configure Serve. The zero value serves every plugin of
// registry.Default, parses os.Args[1:] and logs to the process's stderr.
type ServeOptions struct {
	// Registry holds the plugins to serve. Nil: registry.Default.
	Registry *registry.Registry
	// Select, when set, limits the served plugins to those it accepts.
	Select func(rigging.Kind, rigging.Name) bool
	// Args are the command-line arguments. Nil: os.Args[1:]. Only
	// --log-level and --features are read (as "--flag value" or
	// "--flag=value"); every other argument is accepted and ignored, since a
	// Velero host forwards its whole server command line.
	Args []string
	// Command is what ListPlugins reports as the command of every plugin,
	// which a Velero host later executes. Empty: os.Args[0] as invoked.
	Command string
	// Logger is the logger factories receive. Nil: hclog-style JSON lines
	// (@message, @level, @timestamp) on Stderr at the --log-level level,
	// which a go-plugin host parses and re-emits.
	Logger *slog.Logger
	// Stderr is where the default logger writes. Nil: os.Stderr as it is
	// when Serve is called, before go-plugin redirects os.Stderr into its
	// stdio stream (which Velero's host discards).
	Stderr io.Writer
	// ParentPollInterval is how often Serve checks that the host that
	// started it is alive; when it is gone the plugin exits. Zero: 1s.
	ParentPollInterval time.Duration
	// DisableDataPath leaves rigging's data path (service
	// rigging.v1.DataPath) unregistered, as does DataPathEnv=off in the
	// environment: a rigging host then streams object bodies in Velero's
	// 16 KiB gRPC chunks. Velero hosts never use the data path either way.
	DisableDataPath bool
	// Lookup makes the rigging.Lookup that the served plugins find in the
	// context of every call (rigging.LookupFrom): the other objects of
	// the cluster that an action relates an item to. It is called at the
	// first Get or List an action makes, not before, and its Lookup is
	// kept for the life of the process (a Velero host starts its plugin
	// processes for each backup or restore, rigging's for each command);
	// while it fails, every Get and List fails with its error, naming what
	// was asked, and the next question calls it again. Nil: ClusterLookup,
	// the cluster the process finds as Velero's own plugin processes do
	// ($KUBECONFIG or ~/.kube/config, else the in-cluster configuration),
	// so a process with no cluster configuration starts and serves every
	// call that needs no other object, and one that does gets an error
	// matching rigging.ErrNoCluster that says where it looked.
	Lookup func() (rigging.Lookup, error)

	// dataPath is set by Serve; NewGRPCServer registers it.
	dataPath *dataPath
}

func (o ServeOptions) command() string {
	if o.Command != "" {
		return o.Command
	}
	return os.Args[0]
}

// Flags is what Serve read from its arguments.
type Flags struct {
	LogLevel string   // "" when not given
	Features []string // the comma-separated --features values
}

// ParseFlags reads --log-level and --features from args and ignores
// everything else, so any host's argument list is accepted.
func ParseFlags(args []string) Flags {
	var f Flags
	for i := 0; i < len(args); i++ {
		a := args[i]
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || (name != "log-level" && name != "features") {
			continue
		}
		if !hasVal {
			if i+1 >= len(args) || strings.HasPrefix(args[i+1], "-") {
				continue
			}
			i++
			val = args[i]
		}
		switch name {
		case "log-level":
			f.LogLevel = val
		case "features":
			for _, s := range strings.Split(val, ",") {
				if s = strings.TrimSpace(s); s != "" {
					f.Features = append(f.Features, s)
				}
			}
		}
	}
	return f
}

var (
	featuresMu sync.RWMutex
	features   []string
)

// FeatureEnabled reports whether the host passed feature flag name in
// --features (as Velero forwards its server's feature flags).
func FeatureEnabled(name string) bool {
	featuresMu.RLock()
	defer featuresMu.RUnlock()
	for _, f := range features {
		if f == name {
			return true
		}
	}
	return false
}

// Serve serves the selected plugins to the host that started this process
// and returns when the host shuts it down. It exits the process when the host
// dies. Started without the handshake's magic cookie in its environment (by
// hand, say), go-plugin prints an explanation and exits with status 1.
func Serve(opts ServeOptions) {
	args := opts.Args
	if args == nil {
		args = os.Args[1:]
	}
	flags := ParseFlags(args)
	featuresMu.Lock()
	features = flags.Features
	featuresMu.Unlock()

	stderr := opts.Stderr
	if stderr == nil {
		stderr = os.Stderr // captured before go-plugin swaps os.Stderr
	}
	if opts.Logger == nil {
		opts.Logger = NewLogger(stderr, flags.LogLevel)
	}
	for _, e := range newMux(opts).entries() {
		opts.Logger.Debug("serving plugin", "kind", string(e.Kind), "plugin", string(e.Name))
	}
	if !opts.DisableDataPath && os.Getenv(DataPathEnv) != "off" {
		opts.dataPath = newDataPath()
		defer opts.dataPath.close()
	}
	go watchParent(opts.ParentPollInterval, opts.dataPath)
	goplugin.Serve(&goplugin.ServeConfig{
		HandshakeConfig: Handshake,
		Plugins:         goplugin.PluginSet{pluginKey: grpcPlugin{}},
		GRPCServer: func(extra []grpc.ServerOption) *grpc.Server {
			return NewGRPCServer(opts, extra...)
		},
		Logger: hclog.New(&hclog.LoggerOptions{
			Name: "go-plugin", Output: stderr, JSONFormat: true, Level: hclog.Warn,
		}),
	})
}

// pluginKey is the one entry of the go-plugin plugin map. Keys never cross
// the wire (Dispense is local); every service is registered on one server.
const pluginKey = "velero"

// grpcPlugin satisfies go-plugin's GRPCPlugin; NewGRPCServer has already
// registered the services.
type grpcPlugin struct {
	goplugin.NetRPCUnsupportedPlugin
}

func (grpcPlugin) GRPCServer(*goplugin.GRPCBroker, *grpc.Server) error { return nil }

func (grpcPlugin) GRPCClient(context.Context, *goplugin.GRPCBroker, *grpc.ClientConn) (any, error) {
	return nil, fmt.Errorf("plugin: the plugin side has no client")
}

// watchParent exits the process once its parent (the host) is gone: the
// process is then re-parented, so its parent PID changes. dp's directory
// (if any) is removed first.
func watchParent(every time.Duration, dp *dataPath) {
	if every <= 0 {
		every = time.Second
	}
	ppid := os.Getppid()
	if ppid <= 1 {
		return
	}
	for range time.Tick(every) {
		if os.Getppid() != ppid {
			if dp != nil {
				dp.close()
			}
			os.Exit(0)
		}
	}
}

// LevelTrace is the slog level of hclog's trace.
const LevelTrace = slog.LevelDebug - 4

// NewLogger returns a logger writing hclog-style JSON lines to w: the keys
// @message, @level (trace, debug, info, warn, error) and @timestamp, which a
// go-plugin host (Velero's or rigging's) parses into its own logs. level is
// a Velero --log-level value (trace, debug, info, warning, error, fatal,
// panic); "" or an unknown value means info.
func NewLogger(w io.Writer, level string) *slog.Logger {
	lv := slog.LevelInfo
	switch strings.ToLower(level) {
	case "trace":
		lv = LevelTrace
	case "debug":
		lv = slog.LevelDebug
	case "warn", "warning":
		lv = slog.LevelWarn
	case "error", "fatal", "panic":
		lv = slog.LevelError
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{
		Level: lv,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) > 0 {
				return a
			}
			switch a.Key {
			case slog.MessageKey:
				a.Key = "@message"
			case slog.TimeKey:
				a.Key = "@timestamp"
				a.Value = slog.StringValue(a.Value.Time().Format("2006-01-02T15:04:05.000000Z07:00"))
			case slog.LevelKey:
				a.Key = "@level"
				a.Value = slog.StringValue(hclogLevel(a.Value.Any().(slog.Level)))
			}
			return a
		},
	}))
}

func hclogLevel(l slog.Level) string {
	switch {
	case l < slog.LevelDebug:
		return "trace"
	case l < slog.LevelInfo:
		return "debug"
	case l < slog.LevelWarn:
		return "info"
	case l < slog.LevelError:
		return "warn"
	}
	return "error"
}
