package cli

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/archive"
	"github.com/rigging-dev/rigging/cluster"
	"github.com/rigging-dev/rigging/restore"
)

func newRestoreCommand(g *globalFlags) *cobra.Command {
	var lf locationFlags
	cmd := groupCommand(&cobra.Command{
		Use:   "restore",
		Short: "Restore a backup from a storage location into a cluster, or to manifests ready for kubectl apply",
		Long: `Restore a backup (written by rigging or by Velero) from a storage location into
a live cluster (--to-cluster) or into YAML manifests (--to), as Velero v1.18
restores it into a cluster.

` + locationHelp,
	})
	lf.register(cmd)
	cmd.AddCommand(newRestoreCreateCommand(g, &lf), newRestoreLogsCommand(g, &lf))
	return cmd
}

func newRestoreCreateCommand(g *globalFlags, lf *locationFlags) *cobra.Command {
	var (
		from, to, mappings, priorities string
		ff                             filterFlags
		itemOpTimeout                  time.Duration
		noProgress                     bool
		features                       []string
		toCluster                      bool
		cf                             clusterFlags
		existingPolicy                 string
		statusInclude, statusExclude   []string
		workers                        int
	)
	cmd := &cobra.Command{
		Use:   "create NAME --from-backup BACKUP --to DIR|- | --to-cluster",
		Short: "Restore BACKUP into a cluster, or into a directory of manifests (or a YAML stream on stdout)",
		Long: `Restore backup BACKUP as restore NAME: its items are selected by Velero's
filters, ordered by Velero's restore priorities (CRDs, namespaces, storage
classes, volumes, claims, RBAC, secrets, config maps, pods, ... then the rest
sorted), stripped as Velero strips them, passed through the RestoreItemActions,
moved by --namespace-mappings and labelled velero.io/backup-name and
velero.io/restore-name. Resources Velero never restores (nodes, events,
volume attachments, Velero's own) are left out.

--to DIR writes one file per object under DIR (which must be empty), in
folders numbered in restore order, so that

  kubectl apply -R -f DIR

creates everything in the right order. --to - writes one multi-document YAML
stream to stdout. Either is a dry run: no cluster is written.

--to-cluster creates the objects in the live cluster that kubectl's rules
choose (--kubeconfig, else $KUBECONFIG, else ~/.kube/config, else the
in-cluster config; --context), named on the first line of output; nothing
is written into a cluster without it. CRDs are created first and waited for
until established; namespaces are created (moved by --namespace-mappings);
then each resource in Velero's order, --workers objects at once (by
default --client-qps/25, between 4 and 64: a create waits on the API
server, not on a CPU), one resource finishing before the next starts. An object that exists already
is skipped when it is the backup's version, and otherwise left with a
warning (--existing-resource-policy none, the default) or patched to the
backup's version (update). Status is restored, through the status
subresource, only for --status-include-resources. The actions see the
cluster (their lookups read it). An object the API server refuses is an
error naming it, and the others go on (PartiallyFailed); an API server
that goes away fails the restore, recording what was done. The results are
the same whatever --workers.

The restore's log, results and resource list go to restores/NAME/ in the
location, as Velero writes them.`,
		Example: `  rigging restore create demo-r1 --from-backup demo --to ./restored
  rigging restore create shop-r1 --from-backup demo --include-namespaces shop --namespace-mappings shop:shop-copy --to-cluster --context staging
  rigging restore create shop-copy --from-backup demo --include-namespaces shop --namespace-mappings shop:shop-copy --to - | kubectl apply -f -`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			name := a[0]
			if err := archive.ValidateName(name); err != nil {
				return asUsage(err)
			}
			if from == "" {
				return usageErrorf("--from-backup is required")
			}
			switch {
			case to != "" && toCluster:
				return usageErrorf("--to and --to-cluster exclude each other: restore either to manifests or into the cluster")
			case to == "" && !toCluster:
				return usageErrorf("--to or --to-cluster is required: a directory, - for stdout, or the cluster of --kubeconfig/--context")
			}
			switch existingPolicy {
			case "", cluster.PolicyNone, cluster.PolicyUpdate:
			default:
				return usageErrorf("--existing-resource-policy %q: want none or update", existingPolicy)
			}
			if workers < 0 {
				return usageErrorf("--workers %d: the number of objects written at once must be at least 1 (0: the default)", workers)
			}
			nsMap, err := parseMappings(mappings)
			if err != nil {
				return err
			}
			sel, or, err := ff.selectors()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			var (
				out      restore.Output
				lookup   rigging.Lookup
				requests cluster.RequestCounter
			)
			if toCluster {
				// The API server answers before anything is written to
				// the store.
				var cfg *rest.Config
				if out, lookup, cfg, err = connectRestoreTarget(ctx, cmd, &cf, existingPolicy, &requests); err != nil {
					return err
				}
				if workers == 0 {
					// Creates wait on the network, not on a CPU.
					workers = cluster.DefaultWorkers(cf.qps)
				}
				// The built-in actions (CSI's) act on the target cluster,
				// not on whatever $KUBECONFIG names.
				ctx = withCluster(ctx, cfg)
			}
			s, err := openSession(ctx, g, lf)
			if err != nil {
				return err
			}
			defer s.close()
			// Nothing is created (--to DIR) before the backup is known to exist.
			if _, err := s.store.GetBackup(ctx, from); err != nil {
				return fmt.Errorf("restore %s: %w", name, err)
			}
			switch {
			case toCluster:
			case to == "-":
				out = restore.NewStreamOutput(cmd.OutOrStdout())
			default:
				if out, err = restore.NewDirOutput(to); err != nil {
					return err
				}
			}
			opts := restore.Options{
				Name: name, BackupName: from, Store: s.store, Output: out, Plugins: s.m, Logger: g.Logger, Features: features,
				Lookup: lookup, Workers: workers,
				Spec: rigging.RestoreSpec{
					IncludedNamespaces: ff.includeNS, ExcludedNamespaces: ff.excludeNS,
					IncludedResources: ff.includeRes, ExcludedResources: ff.excludeRes,
					NamespaceMapping: nsMap, LabelSelector: sel, OrLabelSelectors: or,
					IncludeClusterResources: ff.includeClusterResources(cmd),
					ItemOperationTimeout:    metav1.Duration{Duration: itemOpTimeout},
					ExistingResourcePolicy:  existingPolicy,
				},
			}
			if len(statusInclude) > 0 || len(statusExclude) > 0 {
				opts.Spec.RestoreStatus = &rigging.RestoreStatusSpec{IncludedResources: statusInclude, ExcludedResources: statusExclude}
			}
			if priorities != "" {
				opts.Priorities = restore.ParsePriorities(priorities)
			}
			bar := newProgress(g, cmd.ErrOrStderr(), !noProgress, "restore "+name)
			opts.Progress = func(p restore.Progress) { bar.update(p.ItemsRestored, p.TotalItems, p.Resource) }
			sum, err := restore.Run(ctx, opts)
			bar.done()
			if toCluster {
				logRequests(g, name, workers, &requests, sum)
			}
			if err != nil {
				return err
			}
			st := sum.Restore.Status
			msg := fmt.Sprintf("Restore %s of backup %s: %s. %d items, %d warnings, %d errors in %s.",
				name, from, st.Phase, st.Progress.ItemsRestored, st.Warnings, st.Errors, sum.Duration.Round(time.Millisecond))
			if to == "-" {
				g.Logger.Info(msg)
				printNotRestored(cmd.ErrOrStderr(), sum)
			} else {
				fmt.Fprintln(cmd.OutOrStdout(), msg)
				printNotRestored(cmd.OutOrStdout(), sum)
				if !toCluster {
					fmt.Fprintf(cmd.OutOrStdout(), "Apply with: kubectl apply -R -f %s\n", to)
				}
			}
			if st.Errors+st.Warnings > 0 {
				printResult(cmd.ErrOrStderr(), "Errors", sum.Results.Errors)
				printResult(cmd.ErrOrStderr(), "Warnings", sum.Results.Warnings)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&from, "from-backup", "", "the backup to restore")
	f.StringVar(&to, "to", "", "directory to write the manifests to (must be empty), or - for stdout (a dry run)")
	f.BoolVar(&toCluster, "to-cluster", false, "create the objects in the cluster of --kubeconfig/--context (kubectl's rules)")
	cf.register(cmd)
	f.StringVar(&existingPolicy, "existing-resource-policy", "", "an existing object that differs from the backup's: none (a warning, the default) or update (patched to the backup's version)")
	f.StringSliceVar(&statusInclude, "status-include-resources", nil, "resources whose status is restored (through the status subresource), as Velero's restore --status-include-resources")
	f.StringSliceVar(&statusExclude, "status-exclude-resources", nil, "resources whose status is not restored")
	f.IntVar(&workers, "workers", 0, "objects of one resource written at once; the restore is the same whatever the number. 0: with --to-cluster, --client-qps/25, at least 4 and at most 64 (creates wait on the API server, not on a CPU); with --to, one per CPU (GOMAXPROCS)")
	ff.register(cmd)
	f.StringVar(&mappings, "namespace-mappings", "", "namespace renames as src1:dst1,src2:dst2")
	f.StringVar(&priorities, "restore-resource-priorities", "", `restore order: comma-separated resources, a lone "-" between the high and the low list (default: Velero's)`)
	f.DurationVar(&itemOpTimeout, "item-operation-timeout", restore.DefaultItemOperationTimeout, "how long to wait for asynchronous plugin operations")
	f.BoolVar(&noProgress, "no-progress", false, "do not draw a progress bar on a terminal")
	f.StringSliceVar(&features, "features", nil, "Velero feature flags, as its server's --features (EnableCSI runs the velero.io/csi-* actions)")
	_ = cmd.MarkFlagDirname("to")
	return cmd
}

// connectRestoreTarget connects to the cluster cf chooses, names it on the
// first line of output and checks that its API server answers: the Output
// that creates the objects there, the Lookup the actions see it through
// and its config, for withCluster. Every request of their clients is
// counted in requests.
func connectRestoreTarget(ctx context.Context, cmd *cobra.Command, cf *clusterFlags, policy string, requests *cluster.RequestCounter) (restore.Output, rigging.Lookup, *rest.Config, error) {
	cfg, desc, err := cf.connect(cmd.ErrOrStderr())
	if err != nil {
		return nil, nil, nil, err
	}
	cfg.Wrap(requests.Wrap)
	fmt.Fprintf(cmd.OutOrStdout(), "Restoring into the cluster of %s\n", desc)
	a, err := cluster.NewApplier(cfg, cluster.ApplyOptions{ExistingResourcePolicy: policy})
	if err != nil {
		return nil, nil, nil, err
	}
	if err := a.Ping(ctx); err != nil {
		return nil, nil, nil, err
	}
	l, err := cluster.NewLookup(cfg, cf.lookupOptions())
	if err != nil {
		return nil, nil, nil, err
	}
	return restore.NewClusterOutput(a), l, cfg, nil
}

// logRequests logs, at debug level, the requests the restore sent to the
// API server by verb, and per object restored (sum nil: the restore
// failed, none counted).
func logRequests(g *globalFlags, name string, workers int, requests *cluster.RequestCounter, sum *restore.Summary) {
	restored := 0
	if sum != nil && sum.Restore.Status.Progress != nil {
		restored = sum.Restore.Status.Progress.ItemsRestored
	}
	args := []any{"restore", name, "workers", workers, "items", restored}
	counts := requests.Counts()
	byVerb := counts.ByVerb()
	for _, verb := range slices.Sorted(maps.Keys(byVerb)) {
		args = append(args, verb, byVerb[verb])
	}
	total := counts.Total()
	args = append(args, "total", total)
	if restored > 0 {
		args = append(args, "per item", fmt.Sprintf("%.2f", float64(total)/float64(restored)))
	}
	g.Logger.Debug("API requests", args...)
}

// printNotRestored writes what the restore left out of the backup: one
// line per resource and reason, with the count.
func printNotRestored(w io.Writer, sum *restore.Summary) {
	if len(sum.NotRestored) == 0 {
		return
	}
	n := 0
	for _, nr := range sum.NotRestored {
		n += nr.Count
	}
	fmt.Fprintf(w, "Not restored: %d of the backup's %d items:\n", n, sum.BackupItems)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, nr := range sum.NotRestored {
		fmt.Fprintf(tw, "  %s\t%d\t%s\n", nr.Resource, nr.Count, nr.Reason)
	}
	tw.Flush()
}

// parseMappings reads --namespace-mappings "a:b,c:d".
func parseMappings(s string) (map[string]string, error) {
	if s == "" {
		return nil, nil
	}
	out := map[string]string{}
	for _, pair := range strings.Split(s, ",") {
		src, dst, ok := strings.Cut(strings.TrimSpace(pair), ":")
		if !ok || src == "" || dst == "" {
			return nil, usageErrorf("--namespace-mappings %q: want src:dst,src2:dst2", pair)
		}
		if err := archive.ValidateName(dst); err != nil {
			return nil, usageErrorf("--namespace-mappings %q: %w", pair, err)
		}
		out[src] = dst
	}
	return out, nil
}

func newRestoreLogsCommand(g *globalFlags, lf *locationFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "logs NAME",
		Short: "Print a restore's log",
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			if err := archive.ValidateName(a[0]); err != nil {
				return asUsage(err)
			}
			ctx := cmd.Context()
			s, err := openSession(ctx, g, lf)
			if err != nil {
				return err
			}
			defer s.close()
			key := s.store.Layout.RestoreKey(a[0], archive.RestoreLog)
			rc, err := s.store.Objects.GetObject(ctx, s.store.Bucket, key)
			if errors.Is(err, rigging.ErrNotFound) {
				return fmt.Errorf("restore not found: %s", a[0]) // as backup describe says it
			}
			if err != nil {
				return fmt.Errorf("restore %s: get %s: %w", a[0], key, err)
			}
			defer rc.Close()
			return gunzipTo(cmd.OutOrStdout(), rc)
		},
	}
}

// gunzipTo writes the decompressed r to w.
func gunzipTo(w io.Writer, r io.Reader) error {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return fmt.Errorf("read log: %w", err)
	}
	defer zr.Close()
	_, err = io.Copy(w, zr)
	return err
}
