package cli

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/manager"
)

// newManager builds the manager.Manager every command uses: the built-ins
// of registry.Default, the external plugins of --plugin-dir (from
// externalSource), this run's metrics registry, the --plugin-config file,
// and --prefer-builtin. The caller closes it.
func newManager(ctx context.Context, g *globalFlags) (*manager.Manager, error) {
	cfg, err := loadPluginConfig(g.PluginConfig)
	if err != nil {
		return nil, fmt.Errorf("--plugin-config: %w", err)
	}
	if g.Logger != nil && g.Logger.Enabled(ctx, slog.LevelDebug) {
		for _, name := range slices.Sorted(maps.Keys(cfg)) {
			// The kind is unknown here: ask every kind the name is built in as.
			var secret []string
			for _, k := range rigging.Kinds() {
				secret = append(secret, secretKeys(k, name)...)
			}
			g.Logger.LogAttrs(ctx, slog.LevelDebug, "plugin configuration", slog.String("plugin", name),
				slog.String("file", g.PluginConfig), configAttr(cfg[name], secret...))
		}
	}
	src, err := externalSource(ctx, g)
	if err != nil {
		return nil, err
	}
	opts := manager.Options{
		PreferBuiltin: g.PreferBuiltin,
		Logger:        g.Logger,
		PluginConfig:  cfg,
	}
	if src != nil {
		opts.External = src
	}
	if g.metrics != nil {
		opts.Metrics = g.metrics
	}
	return manager.New(opts), nil
}
