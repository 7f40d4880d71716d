package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/location"
)

// storeCall is what every store subcommand runs once the location's
// ObjectStore is open.
type storeCall func(ctx context.Context, cmd *cobra.Command, l location.Location, s rigging.ObjectStore, a []string) error

func newStoreCommand(g *globalFlags) *cobra.Command {
	var lf locationFlags
	cmd := groupCommand(&cobra.Command{
		Use:   "store",
		Short: "Drive an ObjectStore plugin by hand: put, get, ls, prefixes, exists, rm, url",
		Long: `Drive the ObjectStore plugin of a storage location by hand.

The location is the default one (the filesystem store, bucket "rigging", under
the data directory: $RIGGING_HOME, else $XDG_DATA_HOME/rigging, else
~/.local/share/rigging), or a Velero BackupStorageLocation file given with
--location, or the one --provider, --bucket, --prefix and --config describe
(these override the file's fields). The store is initialised as Velero
initialises it: the config plus "bucket" and "prefix".

KEYs and PREFIXes are relative to the location's prefix, and so are the keys
ls and prefixes print: with --prefix clusters/prod, "put backups/x" writes
the object clusters/prod/backups/x.`,
		Example: `  rigging store put notes/hello.txt ./hello.txt
  rigging store ls
  rigging store --location bsl.yaml prefixes backups/ /
  rigging store --provider aws --bucket velero --config region=eu-west-1 get backups/b1/velero-backup.json`,
	})
	lf.register(cmd)

	sub := func(use, short string, check cobra.PositionalArgs, run storeCall) *cobra.Command {
		c := &cobra.Command{
			Use:   use,
			Short: short,
			Args:  args(check),
			RunE: func(c *cobra.Command, a []string) error {
				// The first argument is the key or prefix; the others are a
				// file (put) or a delimiter (prefixes).
				if len(a) > 0 && strings.HasPrefix(a[0], "/") {
					return usageErrorf("%q: keys are relative to the location's prefix; drop the leading '/'", a[0])
				}
				m, err := newManager(c.Context(), g)
				if err != nil {
					return err
				}
				defer m.Close()
				l, s, err := lf.open(c.Context(), g, m)
				if err != nil {
					return err
				}
				return run(c.Context(), c, l, s, a)
			},
		}
		return c
	}
	var ttl time.Duration
	url := sub("url KEY", "Print a URL that lets its holder download KEY for --ttl", cobra.ExactArgs(1), func(ctx context.Context, cmd *cobra.Command, l location.Location, s rigging.ObjectStore, a []string) error {
		if ttl <= 0 {
			return usageErrorf("--ttl %s: want a positive duration", ttl)
		}
		u, err := s.CreateSignedURL(ctx, l.Bucket, l.Key(a[0]), ttl)
		if err != nil {
			return fmt.Errorf("url %s: %w", a[0], err)
		}
		_, err = fmt.Fprintln(cmd.OutOrStdout(), u)
		return err
	})
	url.Flags().DurationVar(&ttl, "ttl", 10*time.Minute, "how long the URL stays valid")

	cmd.AddCommand(
		sub("put KEY FILE|-", "Store FILE (or stdin) under KEY, replacing what is there", cobra.ExactArgs(2), storePut),
		sub("get KEY", "Write the object KEY to stdout", cobra.ExactArgs(1), storeGet),
		sub("ls [PREFIX]", "List the keys that start with PREFIX, one a line", cobra.MaximumNArgs(1), storeList),
		sub("prefixes PREFIX DELIMITER", "List the common prefixes under PREFIX up to DELIMITER (as S3 does), one a line", cobra.ExactArgs(2), storePrefixes),
		sub("exists KEY", "Print true or false", cobra.ExactArgs(1), storeExists),
		sub("rm KEY", "Delete KEY (deleting a missing key is not an error)", cobra.ExactArgs(1), storeRemove),
		url,
	)
	return cmd
}

func storePut(ctx context.Context, cmd *cobra.Command, l location.Location, s rigging.ObjectStore, a []string) error {
	var body io.Reader = cmd.InOrStdin()
	if a[1] != "-" {
		f, err := os.Open(a[1])
		if err != nil {
			return fmt.Errorf("put %s: %w", a[0], err)
		}
		defer f.Close()
		body = f
	}
	if err := s.PutObject(ctx, l.Bucket, l.Key(a[0]), body); err != nil {
		return fmt.Errorf("put %s: %w", a[0], err)
	}
	return nil
}

func storeGet(ctx context.Context, cmd *cobra.Command, l location.Location, s rigging.ObjectStore, a []string) error {
	rc, err := s.GetObject(ctx, l.Bucket, l.Key(a[0]))
	if err != nil {
		return fmt.Errorf("get %s: %w", a[0], err)
	}
	defer rc.Close()
	if _, err := io.Copy(cmd.OutOrStdout(), rc); err != nil {
		return fmt.Errorf("get %s: %w", a[0], err)
	}
	return rc.Close()
}

func storeList(ctx context.Context, cmd *cobra.Command, l location.Location, s rigging.ObjectStore, a []string) error {
	prefix := ""
	if len(a) == 1 {
		prefix = a[0]
	}
	keys, err := s.ListObjects(ctx, l.Bucket, l.Key(prefix))
	if err != nil {
		return fmt.Errorf("ls %s: %w", prefix, err)
	}
	return printKeys(cmd.OutOrStdout(), l, keys)
}

func storePrefixes(ctx context.Context, cmd *cobra.Command, l location.Location, s rigging.ObjectStore, a []string) error {
	if a[1] == "" {
		return usageErrorf("prefixes: DELIMITER is empty")
	}
	prefixes, err := s.ListCommonPrefixes(ctx, l.Bucket, l.Key(a[0]), a[1])
	if err != nil {
		return fmt.Errorf("prefixes %s %s: %w", a[0], a[1], err)
	}
	return printKeys(cmd.OutOrStdout(), l, prefixes)
}

func storeExists(ctx context.Context, cmd *cobra.Command, l location.Location, s rigging.ObjectStore, a []string) error {
	ok, err := s.ObjectExists(ctx, l.Bucket, l.Key(a[0]))
	if err != nil {
		return fmt.Errorf("exists %s: %w", a[0], err)
	}
	_, err = fmt.Fprintln(cmd.OutOrStdout(), ok)
	return err
}

func storeRemove(ctx context.Context, _ *cobra.Command, l location.Location, s rigging.ObjectStore, a []string) error {
	if err := s.DeleteObject(ctx, l.Bucket, l.Key(a[0])); err != nil && !errors.Is(err, rigging.ErrNotFound) {
		return fmt.Errorf("rm %s: %w", a[0], err)
	}
	return nil
}

// printKeys prints keys relative to the location's prefix, sorted.
func printKeys(w io.Writer, l location.Location, keys []string) error {
	rel := make([]string, len(keys))
	for i, k := range keys {
		rel[i] = l.Rel(k)
	}
	slices.Sort(rel)
	for _, k := range rel {
		if _, err := fmt.Fprintln(w, k); err != nil {
			return err
		}
	}
	return nil
}
