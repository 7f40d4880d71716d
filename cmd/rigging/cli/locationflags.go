package cli

import (
	"context"
	"log/slog"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/location"
	"github.com/rigging-dev/rigging/manager"
	"github.com/rigging-dev/rigging/registry"
)

const locationHelp = `The location is the default one (the filesystem store, bucket "rigging", under
the data directory: $RIGGING_HOME, else $XDG_DATA_HOME/rigging, else
~/.local/share/rigging), or a Velero BackupStorageLocation file given with
--location, or the one --provider, --bucket, --prefix and --config describe.`

// locationFlags are the flags that choose a storage location:
// --location FILE (a Velero BackupStorageLocation; --location-name picks one
// of several in the file), and --provider,
// --bucket, --prefix and --config, which override the file's fields (or the
// default location's, without a file).
type locationFlags struct {
	provider, bucket, prefix, config, file, name string
	flags                                        *pflag.FlagSet
}

// register adds the flags to cmd as persistent flags, so its subcommands
// take them too.
func (f *locationFlags) register(cmd *cobra.Command) {
	fs := cmd.PersistentFlags()
	fs.StringVar(&f.provider, "provider", location.DefaultProvider, "ObjectStore plugin of the location (\"aws\" means velero.io/aws)")
	fs.StringVar(&f.bucket, "bucket", location.DefaultBucket, "bucket of the location (required with a --provider other than the default)")
	fs.StringVar(&f.prefix, "prefix", "", "folder inside the bucket that holds the backups")
	fs.StringVar(&f.config, "config", "", "provider config as key=value,key2=value2 (merged over --location's spec.config)")
	fs.StringVar(&f.file, "location", "", "a Velero BackupStorageLocation YAML or JSON file (provider, bucket, prefix, config)")
	fs.StringVar(&f.name, "location-name", "", "with --location: the BackupStorageLocation of that name (default: the only one, or the one with spec.default)")
	_ = cmd.MarkPersistentFlagFilename("location", "yaml", "yml", "json")
	_ = cmd.RegisterFlagCompletionFunc("provider", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		var names []string
		for _, e := range registry.Default.List(rigging.KindObjectStore) {
			names = append(names, e.Name.String())
		}
		return names, cobra.ShellCompDirectiveNoFileComp
	})
	f.flags = fs
}

// location returns the location the flags describe. Errors in the flags are
// usage errors; errors in the --location file are not.
func (f *locationFlags) location() (location.Location, error) {
	changed := func(name string) bool { return f.flags != nil && f.flags.Changed(name) }
	l := location.Default()
	if f.name != "" && f.file == "" {
		return location.Location{}, usageErrorf("--location-name needs --location")
	}
	if f.file != "" {
		var err error
		if l, err = location.FromFileNamed(f.file, f.name); err != nil {
			return location.Location{}, err
		}
	} else if changed("provider") && !changed("bucket") && f.provider != location.DefaultProvider {
		return location.Location{}, usageErrorf("--bucket is required with --provider %s", f.provider)
	}
	if changed("provider") {
		l.Provider = f.provider
	}
	if changed("bucket") {
		l.Bucket = strings.Trim(f.bucket, "/")
	}
	if changed("prefix") {
		l.Prefix = strings.Trim(f.prefix, "/")
	}
	if f.config != "" {
		cfg, err := parseConfigFlag(f.config, rigging.KindObjectStore, l.Provider)
		if err != nil {
			return location.Location{}, err
		}
		if l.Config == nil {
			l.Config = map[string]string{}
		}
		for k, v := range cfg {
			l.Config[k] = v
		}
	}
	// FromFile validated the file; what fails now comes from the flags.
	if err := l.Validate(); err != nil {
		return location.Location{}, asUsage(err)
	}
	return l, nil
}

// open resolves the flags to a location, logs what the location
// file asked for that rigging cannot honour, and opens its ObjectStore.
func (f *locationFlags) open(ctx context.Context, g *globalFlags, m *manager.Manager) (location.Location, rigging.ObjectStore, error) {
	l, err := f.location()
	if err != nil {
		return l, nil, err
	}
	for _, w := range l.Warnings {
		g.Logger.Warn(w, "location", l.Name, "file", f.file)
	}
	if g.Logger.Enabled(ctx, slog.LevelDebug) {
		g.Logger.LogAttrs(ctx, slog.LevelDebug, "opening storage location",
			slog.String("location", l.Name), slog.String("provider", l.Provider),
			slog.String("bucket", l.Bucket), slog.String("prefix", l.Prefix),
			slog.Int("caCertBytes", len(l.CACert)),
			configAttr(l.Config, secretKeys(rigging.KindObjectStore, l.Provider)...))
	}
	store, err := location.Open(ctx, m, l)
	if err != nil {
		return l, nil, err
	}
	return l, store, nil
}
