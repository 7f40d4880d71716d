package cli

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"

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
	m := manager.New(opts)
	warnUnknownConfig(ctx, g, cfg, m.Plugins())
	return m, nil
}

// warnUnknownConfig warns about each --plugin-config entry whose plugin name
// no plugin has (a typo, most likely: the entry would be silently ignored),
// naming the closest known names.
func warnUnknownConfig(ctx context.Context, g *globalFlags, cfg map[string]map[string]string, plugins []manager.PluginInfo) {
	if g.Logger == nil || len(cfg) == 0 {
		return
	}
	known := make([]string, 0, len(plugins))
	for _, p := range plugins {
		known = append(known, p.Name.String())
	}
	for _, name := range slices.Sorted(maps.Keys(cfg)) {
		if slices.Contains(known, name) {
			continue
		}
		attrs := []slog.Attr{slog.String("plugin", name), slog.String("file", g.PluginConfig)}
		if near := closestNames(name, known); len(near) > 0 {
			attrs = append(attrs, slog.String("closest", strings.Join(near, ", ")))
		}
		g.Logger.LogAttrs(ctx, slog.LevelWarn, "--plugin-config: no plugin has this name; its configuration is not used", attrs...)
	}
}
