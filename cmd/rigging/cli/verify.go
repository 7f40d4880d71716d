package cli

import (
	"context"
	"fmt"
	"os"
	"slices"

	"github.com/spf13/cobra"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/external"
	"github.com/rigging-dev/rigging/external/conformance"
	"github.com/rigging-dev/rigging/manager"
	"github.com/rigging-dev/rigging/registry"
)

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
