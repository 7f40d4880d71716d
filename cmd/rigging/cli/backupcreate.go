package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/archive"
	"github.com/rigging-dev/rigging/backup"
	"github.com/rigging-dev/rigging/cluster"
	"github.com/rigging-dev/rigging/manifest"
	"github.com/rigging-dev/rigging/resources"
)

func newBackupCreateCommand(g *globalFlags, lf *locationFlags) *cobra.Command {
	var (
		from                                     []string
		ff                                       filterFlags
		inclClusterScoped, exclClusterScoped     []string
		inclNamespaceScoped, exclNamespaceScoped []string
		ttl, itemOpTimeout                       time.Duration
		ordered                                  string
		labels                                   map[string]string
		noProgress                               bool
		features                                 []string
		snapshotVolumes                          bool
		workers                                  int
		cf                                       clusterFlags
		lists                                    string
	)
	cmd := &cobra.Command{
		Use:   "create NAME [--from PATH...]",
		Short: "Back up a cluster, or manifests, into the location as backup NAME",
		Long: `Back up the Kubernetes objects of the manifest files given with --from (files,
directories searched recursively for .yaml, .yml and .json, or "-" for stdin;
multi-document YAML, JSON and "kind: List" as kubectl prints them) into the
location as backup NAME, in Velero v1.18's layout.

Without --from, back up the live cluster that kubectl's rules choose
(--kubeconfig, else $KUBECONFIG, else ~/.kube/config, else the in-cluster
config; --context), named on the first line of output. Its API server is
only read: every resource Velero backs up (each group's preferred version,
resources that support list, create, get and delete), listed in pages of
--page-size (alias --client-page-size), in the included namespaces only when
--include-namespaces names them (when they are most of the cluster's, each
resource once for all namespaces: --namespaced-lists). The plugins see the
cluster through the same reads. A resource the credentials may not list is
a warning naming it. The summary counts the API requests sent.

Velero's filters select the items; ItemBlockActions and BackupItemActions
(built-in and external) run on them as Velero runs them, their additional
items taken from the input. The backup is streamed to the store, and its
velero-backup.json is written last: an interrupted backup is never listed.
A plugin failure on one item is recorded and the backup ends PartiallyFailed.
A plugin whose process dies during a call is restarted and the call made
once more; if that fails the same way, the whole backup fails, unlisted.
A malformed manifest is an error naming the file and document; nothing is
uploaded then. A NAME already in the location is refused.

Memory: each object's JSON (read from --from, or listed from the cluster)
is kept in a temporary file of $TMPDIR (removed from the directory as soon
as it is created: nothing is left behind, however the command ends) and
read back when its block comes or a plugin asks for it;
memory holds about 1 KiB per object. Unless the environment sets GOGC or
GOMEMLIMIT, the Go collector runs at GOGC=400 (with --from from the start
of the read; from a cluster, whose lists make garbage, once they are done)
and once the objects are counted under a soft memory limit of 64 MiB +
2 KiB per object (or the lower limit already set: 90% of the cgroup's
memory limit when there is one). Set GOGC or GOMEMLIMIT to choose instead.`,
		Example: `  rigging backup create demo --from testdata/manifests/cluster-export
  rigging backup create shop --context prod --include-namespaces shop
  kubectl get all -A -o yaml | rigging backup create nightly --from - --exclude-namespaces kube-system
  rigging backup --location bsl.yaml create shop --from dump/ --include-namespaces shop --ttl 168h`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			name := a[0]
			if err := archive.ValidateName(name); err != nil {
				return asUsage(err)
			}
			sel, or, err := ff.selectors()
			if err != nil {
				return err
			}
			orderedRes, err := parseOrderedResources(ordered)
			if err != nil {
				return err
			}
			if workers < 0 {
				return usageErrorf("--workers %d: the number of item blocks processed at once must be at least 1 (0: one per CPU)", workers)
			}
			scope, ok := listScopes[lists]
			if !ok {
				return usageErrorf("--namespaced-lists %q: want auto, per-namespace or all-namespaces", lists)
			}
			start := time.Now()
			ctx := cmd.Context()
			var (
				input     *resources.JSONIndex
				inputErrs []error
				lookup    rigging.Lookup
				warnings  []error
			)
			// Each object is kept as its JSON as soon as it is decoded (a
			// manifest's, or a page of a list's), in a spool (a temporary
			// file with no name, gone however the process ends; from a
			// cluster, once backupSpoolMemory of it is held): the backup
			// holds neither the decoded objects nor their JSON.
			sp, err := resources.NewSpool("")
			if err != nil {
				return err
			}
			defer sp.Close()
			if len(from) > 0 {
				// The manifests' objects leave the heap as they are read:
				// Go's default collects too often for so small a heap. A
				// cluster's lists make garbage (each page's body and its
				// decoding) at the default's pace.
				setBackupGCTarget(-1, 0)
				enc, err := manifest.LoadWith(cmd.InOrStdin(), from, sp.Encode)
				if err != nil {
					return err
				}
				input, inputErrs = backup.NewInput(nil, enc)
			} else {
				// The first objects stay in memory: a cluster of some ten
				// thousand objects is backed up as fast as with no spool.
				sp.SetMemory(backupSpoolMemory)
				var cfg *rest.Config
				if input, inputErrs, lookup, warnings, cfg, err = readCluster(ctx, cmd, &cf, ff.includeNS, scope, sp); err != nil {
					return err
				}
				ctx = withCluster(ctx, cfg)
			}
			if sp.Spilled() {
				setBackupGCTarget(input.Len(), sp.InMemory())
			} else {
				clearBackupGCTarget()
			}
			read := time.Since(start)
			s, err := openSession(ctx, g, lf)
			if err != nil {
				return err
			}
			defer s.close()
			spec := rigging.BackupSpec{
				IncludedNamespaces: ff.includeNS, ExcludedNamespaces: ff.excludeNS,
				IncludedResources: ff.includeRes, ExcludedResources: ff.excludeRes,
				IncludedClusterScopedResources: inclClusterScoped, ExcludedClusterScopedResources: exclClusterScoped,
				IncludedNamespaceScopedResources: inclNamespaceScoped, ExcludedNamespaceScopedResources: exclNamespaceScoped,
				IncludeClusterResources: ff.includeClusterResources(cmd),
				LabelSelector:           sel, OrLabelSelectors: or,
				TTL:                  metav1.Duration{Duration: ttl},
				ItemOperationTimeout: metav1.Duration{Duration: itemOpTimeout},
				OrderedResources:     orderedRes,
			}
			if cmd.Flags().Changed("snapshot-volumes") {
				spec.SnapshotVolumes = &snapshotVolumes
			}
			bar := newProgress(g, cmd.ErrOrStderr(), !noProgress, "backup "+name)
			sum, err := backup.Run(ctx, backup.Options{
				Name: name, Input: input, InputErrors: inputErrs, Lookup: lookup, Warnings: warnings, Spec: spec, Labels: labels, Features: features, Workers: workers,
				Store: s.store, LocationName: s.loc.Name, Plugins: s.m, Logger: g.Logger,
				Progress: func(p backup.Progress) { bar.update(p.ItemsBackedUp, p.TotalItems, p.Resource) },
			})
			bar.done()
			if err != nil {
				return err
			}
			st := sum.Backup.Status
			total := time.Since(start)
			rate := 0.0
			if secs := total.Seconds(); secs > 0 {
				rate = float64(st.Progress.ItemsBackedUp) / secs
			}
			// The time is end to end, reading the input included, then
			// split into its two phases.
			fmt.Fprintf(cmd.OutOrStdout(), "Backup %s: %s. %d items, %d warnings, %d errors, %s uploaded in %s (%.0f items/s; reading the input %s, the backup %s).\n",
				name, st.Phase, st.Progress.ItemsBackedUp, st.Warnings, st.Errors, humanBytes(sum.Bytes), total.Round(time.Millisecond), rate,
				read.Round(time.Millisecond), sum.Duration.Round(time.Millisecond))
			if cl, ok := lookup.(*cluster.Lookup); ok {
				reportRequests(cmd.OutOrStdout(), g.Logger, cl.Requests())
			}
			if st.Errors+st.Warnings > 0 {
				fmt.Fprintf(cmd.OutOrStdout(), "Run 'rigging backup describe %s' for the warnings and errors, 'rigging backup logs %s' for the log.\n", name, name)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&from, "from", nil, `manifest file or directory to back up ("-" for stdin); repeatable; without it, the cluster is backed up`)
	cf.register(cmd)
	ff.register(cmd)
	f.StringSliceVar(&inclClusterScoped, "include-cluster-scoped-resources", nil, "cluster-scoped resources to include (new-style filters)")
	f.StringSliceVar(&exclClusterScoped, "exclude-cluster-scoped-resources", nil, "cluster-scoped resources to exclude (new-style filters)")
	f.StringSliceVar(&inclNamespaceScoped, "include-namespace-scoped-resources", nil, "namespaced resources to include (new-style filters)")
	f.StringSliceVar(&exclNamespaceScoped, "exclude-namespace-scoped-resources", nil, "namespaced resources to exclude (new-style filters)")
	f.DurationVar(&ttl, "ttl", backup.DefaultTTL, "how long the backup is kept before Velero's garbage collection deletes it")
	f.DurationVar(&itemOpTimeout, "item-operation-timeout", backup.DefaultItemOperationTimeout, "how long to wait for asynchronous plugin operations")
	f.StringVar(&ordered, "ordered-resources", "", `items to back up first, per resource: "pods=ns1/pod1,ns1/pod2;persistentvolumeclaims=ns1/pvc4"`)
	f.StringToStringVar(&labels, "labels", nil, "labels to put on the Backup object (k=v,k2=v2)")
	f.BoolVar(&noProgress, "no-progress", false, "do not draw a progress bar on a terminal")
	f.StringSliceVar(&features, "features", nil, "Velero feature flags, as its server's --features (EnableCSI runs the velero.io/csi-* actions, which need a cluster; EnableAPIGroupVersions backs up a cluster's items in every version its API server serves)")
	f.IntVar(&workers, "workers", 0, "item blocks processed at once (0: one per CPU, GOMAXPROCS); Velero's --item-block-worker-count. The backup is the same whatever the number")
	f.StringVar(&lists, "namespaced-lists", "auto", "how a backup of the cluster lists namespaced resources when --include-namespaces names several: per-namespace (as Velero), all-namespaces (once for all, keeping the included ones' objects; per namespace where that is refused), or auto (all-namespaces when the included namespaces are at least two and half of the cluster's). The backup is the same whichever way")
	f.BoolVar(&snapshotVolumes, "snapshot-volumes", true, "take volume snapshots (with --features EnableCSI, through the CSI actions)")
	_ = cmd.MarkFlagFilename("from", "yaml", "yml", "json")
	return cmd
}

// reportRequests prints the API requests a backup of a cluster sent,
// counted by verb, and logs each verb and resource's count at debug level.
func reportRequests(w io.Writer, log *slog.Logger, counts cluster.RequestCounts) {
	fmt.Fprintf(w, "API requests: %s.\n", counts)
	if log.Enabled(context.Background(), slog.LevelDebug) {
		log.Debug("API requests by verb and resource", "total", counts.Total(), "requests", counts.Detail())
	}
}

// parseOrderedResources reads Velero's --ordered-resources syntax.
func parseOrderedResources(s string) (map[string]string, error) {
	if s == "" {
		return nil, nil
	}
	out := map[string]string{}
	for _, part := range strings.Split(s, ";") {
		if part = strings.TrimSpace(part); part == "" {
			continue
		}
		res, list, ok := strings.Cut(part, "=")
		if !ok || res == "" || list == "" {
			return nil, usageErrorf("--ordered-resources %q: want resource=ns/name,ns/name;resource2=name", part)
		}
		out[strings.TrimSpace(res)] = strings.TrimSpace(list)
	}
	return out, nil
}

// listScopes are the values of --namespaced-lists.
var listScopes = map[string]cluster.ListScope{
	"auto": cluster.ListAuto, "per-namespace": cluster.ListEachNamespace, "all-namespaces": cluster.ListAllNamespaces,
}

// readCluster reads the items of a backup from the cluster cf chooses,
// after naming it on the first line of output: the objects (as their JSON,
// shared with the Lookup, and the errors of those the backup cannot hold),
// the Lookup the plugins see them through, a warning per resource it may
// not list, and the cluster's client configuration. includeNS narrows the
// namespaced lists unless it is empty or holds a pattern ("*", "perf-*":
// the lists then read every namespace, and the backup's filters choose);
// scope says how the namespaced resources of several are listed. The
// objects' JSON goes to sp (nil: kept in memory), which must stay open
// while the input and the Lookup are used.
func readCluster(ctx context.Context, cmd *cobra.Command, cf *clusterFlags, includeNS []string, scope cluster.ListScope, sp *resources.Spool) (*resources.JSONIndex, []error, rigging.Lookup, []error, *rest.Config, error) {
	cfg, desc, err := cf.connect(cmd.ErrOrStderr())
	if err != nil {
		return nil, nil, nil, nil, nil, err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "Backing up the cluster of %s\n", desc)
	lo := cf.lookupOptions()
	lo.Spool = sp
	l, err := cluster.NewLookup(cfg, lo)
	if err != nil {
		return nil, nil, nil, nil, nil, err
	}
	opts := cluster.CollectOptions{Lists: scope}
	if !slices.ContainsFunc(includeNS, func(ns string) bool { return strings.ContainsAny(ns, "*?[") }) {
		opts.Namespaces = includeNS
	}
	enc, ws, err := l.CollectEncoded(ctx, opts)
	if err != nil {
		return nil, nil, nil, nil, nil, err
	}
	warnings := make([]error, len(ws))
	for i, w := range ws {
		warnings[i] = w
	}
	input, inputErrs := backup.NewInput(nil, enc)
	return input, inputErrs, l, warnings, cfg, nil
}
