package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/archive"
	"github.com/rigging-dev/rigging/backup"
	"github.com/rigging-dev/rigging/cluster"
	"github.com/rigging-dev/rigging/location"
	"github.com/rigging-dev/rigging/manager"
	"github.com/rigging-dev/rigging/manifest"
)

const locationHelp = `The location is the default one (the filesystem store, bucket "rigging", under
the data directory: $RIGGING_HOME, else $XDG_DATA_HOME/rigging, else
~/.local/share/rigging), or a Velero BackupStorageLocation file given with
--location, or the one --provider, --bucket, --prefix and --config describe.`

func newBackupCommand(g *globalFlags) *cobra.Command {
	var lf locationFlags
	cmd := groupCommand(&cobra.Command{
		Use:   "backup",
		Short: "Back up Kubernetes manifests to a storage location in Velero's layout; list, describe, download, delete",
		Long: `Back up Kubernetes objects (manifest files) into a storage location, in exactly
the layout a Velero v1.18 server syncs and restores from, and manage the
backups there (those Velero wrote too).

` + locationHelp,
	})
	lf.register(cmd)
	cmd.AddCommand(
		newBackupCreateCommand(g, &lf),
		newBackupListCommand(g, &lf),
		newBackupDescribeCommand(g, &lf),
		newBackupDownloadCommand(g, &lf),
		newBackupDeleteCommand(g, &lf),
		newBackupLogsCommand(g, &lf),
	)
	return cmd
}

// session is a Manager and an open location, for one command.
type session struct {
	m     *manager.Manager
	loc   location.Location
	store *archive.Store
}

func openSession(ctx context.Context, g *globalFlags, lf *locationFlags) (*session, error) {
	m, err := newManager(ctx, g)
	if err != nil {
		return nil, err
	}
	l, s, err := lf.open(ctx, g, m)
	if err != nil {
		_ = m.Close()
		return nil, err
	}
	store := archive.NewStore(s, l.Bucket, l.Prefix)
	if servedByProcess(m, l.Provider) {
		// Uploads are spooled to a temporary file so that one ended by the
		// plugin process dying can be made again; an in-process store
		// streams.
		store.Spool = &archive.Spool{Logger: g.Logger}
	}
	return &session{m: m, loc: l, store: store}, nil
}

// servedByProcess reports whether the ObjectStore plugin provider resolves
// to a plugin process (transport gRPC) rather than a built-in.
func servedByProcess(m *manager.Manager, provider string) bool {
	name, err := rigging.ParseName(provider)
	if err != nil {
		return false
	}
	for _, p := range m.Plugins() {
		if p.Active && p.Kind == rigging.KindObjectStore && p.Name == name {
			return p.Transport == manager.TransportGRPC
		}
	}
	return false
}

func (s *session) close() { _ = s.m.Close() }

// filterFlags are Velero's resource and namespace filters, shared by backup
// create and restore create.
type filterFlags struct {
	includeNS, excludeNS, includeRes, excludeRes []string
	selector                                     string
	orSelector                                   string
	includeCluster                               bool
}

func (f *filterFlags) register(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringSliceVar(&f.includeNS, "include-namespaces", nil, "namespaces to include (glob patterns; default: all)")
	fs.StringSliceVar(&f.excludeNS, "exclude-namespaces", nil, "namespaces to exclude (glob patterns)")
	fs.StringSliceVar(&f.includeRes, "include-resources", nil, `resources to include ("pods", "deployments.apps", "deploy"; default: all)`)
	fs.StringSliceVar(&f.excludeRes, "exclude-resources", nil, "resources to exclude")
	fs.StringVarP(&f.selector, "selector", "l", "", "only items whose labels match this label selector")
	fs.StringVar(&f.orSelector, "or-selector", "", `items whose labels match any of these selectors, separated by " or " (e.g. "app=a or tier=web")`)
	fs.BoolVar(&f.includeCluster, "include-cluster-resources", false, "include cluster-scoped resources (unset: only when every namespace is included)")
}

// includeClusterResources is nil unless the flag was given.
func (f *filterFlags) includeClusterResources(cmd *cobra.Command) *bool {
	if !cmd.Flags().Changed("include-cluster-resources") {
		return nil
	}
	v := f.includeCluster
	return &v
}

// selectors parses --selector and --or-selector.
func (f *filterFlags) selectors() (*metav1.LabelSelector, []*metav1.LabelSelector, error) {
	if f.selector != "" && f.orSelector != "" {
		return nil, nil, usageErrorf("--selector and --or-selector cannot be used together")
	}
	var sel *metav1.LabelSelector
	if f.selector != "" {
		s, err := metav1.ParseToLabelSelector(f.selector)
		if err != nil {
			return nil, nil, usageErrorf("--selector: %w", err)
		}
		sel = s
	}
	var or []*metav1.LabelSelector
	if f.orSelector != "" {
		for _, part := range strings.Split(f.orSelector, " or ") {
			s, err := metav1.ParseToLabelSelector(strings.TrimSpace(part))
			if err != nil {
				return nil, nil, usageErrorf("--or-selector %q: %w", part, err)
			}
			or = append(or, s)
		}
	}
	return sel, or, nil
}

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
--client-page-size, in the included namespaces only when
--include-namespaces names them. The plugins see the cluster through the
same reads. A resource the credentials may not list is a warning naming it.

Velero's filters select the items; ItemBlockActions and BackupItemActions
(built-in and external) run on them as Velero runs them, their additional
items taken from the input. The backup is streamed to the store, and its
velero-backup.json is written last: an interrupted backup is never listed.
A plugin failure on one item is recorded and the backup ends PartiallyFailed.
A plugin whose process dies during a call is restarted and the call made
once more; if that fails the same way, the whole backup fails, unlisted.
A malformed manifest is an error naming the file and document; nothing is
uploaded then. A NAME already in the location is refused.`,
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
			start := time.Now()
			ctx := cmd.Context()
			var (
				items    []*unstructured.Unstructured
				lookup   rigging.Lookup
				warnings []error
			)
			if len(from) > 0 {
				if items, err = manifest.LoadFrom(cmd.InOrStdin(), from...); err != nil {
					return err
				}
			} else {
				if items, lookup, warnings, err = readCluster(ctx, cmd, &cf, ff.includeNS); err != nil {
					return err
				}
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
				Name: name, Items: items, Lookup: lookup, Warnings: warnings, Spec: spec, Labels: labels, Features: features, Workers: workers,
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
	f.StringSliceVar(&features, "features", nil, "Velero feature flags, as its server's --features (EnableCSI runs the velero.io/csi-* actions, which need a cluster)")
	f.IntVar(&workers, "workers", 0, "item blocks processed at once (0: one per CPU, GOMAXPROCS); Velero's --item-block-worker-count. The backup is the same whatever the number")
	f.BoolVar(&snapshotVolumes, "snapshot-volumes", true, "take volume snapshots (with --features EnableCSI, through the CSI actions)")
	_ = cmd.MarkFlagFilename("from", "yaml", "yml", "json")
	return cmd
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

type backupRow struct {
	Name     string     `json:"name"`
	Phase    string     `json:"phase,omitempty"`
	Errors   int        `json:"errors"`
	Warnings int        `json:"warnings"`
	Items    int        `json:"items"`
	Created  *time.Time `json:"created,omitempty"`
	Expires  *time.Time `json:"expires,omitempty"`
	Invalid  string     `json:"invalid,omitempty"`
}

func newBackupListCommand(g *globalFlags, lf *locationFlags) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the backups of the location, as Velero's sync sees them",
		Long: `List the backups of the location as Velero's backup sync finds them: every
folder under backups/ whose velero-backup.json exists and decodes. Folders
without it (an interrupted upload) are not listed; a velero-backup.json that
does not decode is listed with the reason. With -o json the output is an
array of objects with the keys name, phase, errors, warnings, items, created,
expires (and invalid, for one that does not decode).`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "table" && output != "json" {
				return usageErrorf("--output %q: want table or json", output)
			}
			s, err := openSession(cmd.Context(), g, lf)
			if err != nil {
				return err
			}
			defer s.close()
			listed, err := s.store.Backups(cmd.Context())
			if err != nil {
				return err
			}
			rows := make([]backupRow, 0, len(listed))
			for _, l := range listed {
				r := backupRow{Name: l.Name}
				if l.Err != nil {
					r.Invalid = l.Err.Error()
				} else {
					st := l.Backup.Status
					r.Phase, r.Errors, r.Warnings = string(st.Phase), st.Errors, st.Warnings
					if st.Progress != nil {
						r.Items = st.Progress.ItemsBackedUp
					}
					r.Created, r.Expires = timeOf(st.StartTimestamp), timeOf(st.Expiration)
				}
				rows = append(rows, r)
			}
			if output == "json" {
				return writeJSON(cmd.OutOrStdout(), rows)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tPHASE\tERRORS\tWARNINGS\tITEMS\tCREATED\tEXPIRES")
			for _, r := range rows {
				if r.Invalid != "" {
					fmt.Fprintf(tw, "%s\t<invalid: %s>\t\t\t\t\t\n", r.Name, r.Invalid)
					continue
				}
				fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%s\t%s\n", r.Name, r.Phase, r.Errors, r.Warnings, r.Items, fmtTime(r.Created), expires(r.Expires))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table or json")
	return cmd
}

func timeOf(t *metav1.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func fmtTime(t *time.Time) string {
	if t == nil {
		return "<n/a>"
	}
	return t.Format("2006-01-02 15:04:05 MST")
}

// expires prints how long until t, as Velero's get does ("29d", "3h").
func expires(t *time.Time) string {
	if t == nil {
		return "never"
	}
	d := time.Until(*t)
	switch {
	case d <= 0:
		return "expired"
	case d >= 48*time.Hour:
		return fmt.Sprintf("%dd", int(d.Hours()/24))
	case d >= time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dm", int(d.Minutes())+1)
}

func newBackupDescribeCommand(g *globalFlags, lf *locationFlags) *cobra.Command {
	var details bool
	var output string
	cmd := &cobra.Command{
		Use:   "describe NAME",
		Short: "Show a backup's spec, status, results, resource list and operations",
		Long: `Show a backup's spec and status (from velero-backup.json), its warnings and
errors (from the results file, when there are any), the resources it holds
(counts per kind; every item with --details) and, with --details, its
asynchronous plugin operations. Works on backups Velero wrote: missing
optional files are reported as such.

Under "Storage location" it shows the location the backup was read from:
provider, bucket, prefix and config, with the values of secret keys
replaced by [redacted] (keys whose names say they hold a password, token,
secret or key, and those the provider declares secret; the password of a URL
too). The CA bundle is shown by its size only.

With -o json the output is an object with the keys backup, location (name,
provider, bucket, prefix, caCertBytes, config; redacted the same way),
results, resourceList and operations.`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			if output != "text" && output != "json" {
				return usageErrorf("--output %q: want text or json", output)
			}
			ctx := cmd.Context()
			s, err := openSession(ctx, g, lf)
			if err != nil {
				return err
			}
			defer s.close()
			b, err := s.store.GetBackup(ctx, a[0])
			if err != nil {
				return err
			}
			loc := redactLocation(s.loc)
			d := describeData{Backup: b, Location: &loc}
			optional := func(f archive.BackupFile, v any) error {
				err := s.store.ReadBackupJSON(ctx, a[0], f, v)
				if errors.Is(err, rigging.ErrNotFound) {
					return nil
				}
				return err
			}
			var res archive.Results
			if err := optional(archive.BackupResults, &res); err != nil {
				return err
			}
			d.Results = &res
			if err := optional(archive.BackupResourceList, &d.ResourceList); err != nil {
				return err
			}
			if err := optional(archive.BackupItemOperations, &d.Operations); err != nil {
				return err
			}
			if output == "json" {
				return writeJSON(cmd.OutOrStdout(), d)
			}
			return printDescribe(cmd.OutOrStdout(), d, details)
		},
	}
	cmd.Flags().BoolVar(&details, "details", false, "list every item and the asynchronous operations")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	return cmd
}

// describeData is what describe shows. Location is the location the backup
// was read from, its secret config values redacted.
type describeData struct {
	Backup       *rigging.Backup            `json:"backup"`
	Location     *redactedLocation          `json:"location,omitempty"`
	Results      *archive.Results           `json:"results,omitempty"`
	ResourceList archive.ResourceList       `json:"resourceList,omitempty"`
	Operations   []*archive.BackupOperation `json:"operations,omitempty"`
}

func orAll(list []string) string {
	if len(list) == 0 {
		return "*"
	}
	return strings.Join(list, ", ")
}

func orNone(list []string) string {
	if len(list) == 0 {
		return "<none>"
	}
	return strings.Join(list, ", ")
}

func printDescribe(w io.Writer, d describeData, details bool) error {
	b := d.Backup
	sp, st := b.Spec, b.Status
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	p("Name:         %s", b.Name)
	p("Labels:       %s", fmtLabels(b.Labels))
	p("Phase:        %s", st.Phase)
	p("Errors:       %d", st.Errors)
	p("Warnings:     %d", st.Warnings)
	p("")
	p("Namespaces:")
	p("  Included:  %s", orAll(sp.IncludedNamespaces))
	p("  Excluded:  %s", orNone(sp.ExcludedNamespaces))
	p("")
	p("Resources:")
	if len(sp.IncludedResources)+len(sp.ExcludedResources) > 0 || sp.IncludeClusterResources != nil {
		p("  Included:        %s", orAll(sp.IncludedResources))
		p("  Excluded:        %s", orNone(sp.ExcludedResources))
		icr := "auto"
		if sp.IncludeClusterResources != nil {
			icr = fmt.Sprint(*sp.IncludeClusterResources)
		}
		p("  Cluster-scoped:  %s", icr)
	} else {
		p("  Included cluster-scoped:    %s", orNone(sp.IncludedClusterScopedResources))
		p("  Excluded cluster-scoped:    %s", orNone(sp.ExcludedClusterScopedResources))
		p("  Included namespace-scoped:  %s", orAll(sp.IncludedNamespaceScopedResources))
		p("  Excluded namespace-scoped:  %s", orNone(sp.ExcludedNamespaceScopedResources))
	}
	p("")
	sel := "<none>"
	if sp.LabelSelector != nil {
		sel = metav1.FormatLabelSelector(sp.LabelSelector)
	}
	p("Label selector:     %s", sel)
	if len(sp.OrLabelSelectors) > 0 {
		var parts []string
		for _, s := range sp.OrLabelSelectors {
			parts = append(parts, metav1.FormatLabelSelector(s))
		}
		p("Or label selector:  %s", strings.Join(parts, " or "))
	}
	p("Storage location:   %s", sp.StorageLocation)
	printLocation(w, d.Location, sp.StorageLocation)
	p("TTL:                %s", sp.TTL.Duration)
	p("Operation timeout:  %s", sp.ItemOperationTimeout.Duration)
	p("")
	p("Backup format version:  %s", st.FormatVersion)
	p("Started:    %s", fmtTime(timeOf(st.StartTimestamp)))
	p("Completed:  %s", fmtTime(timeOf(st.CompletionTimestamp)))
	p("Expiration: %s", fmtTime(timeOf(st.Expiration)))
	if st.Progress != nil {
		p("Total items to be backed up:  %d", st.Progress.TotalItems)
		p("Items backed up:              %d", st.Progress.ItemsBackedUp)
	}
	if st.BackupItemOperationsAttempted > 0 {
		p("Backup item operations:  %d attempted, %d completed, %d failed",
			st.BackupItemOperationsAttempted, st.BackupItemOperationsCompleted, st.BackupItemOperationsFailed)
	}
	if d.Results != nil && (st.Errors > 0 || st.Warnings > 0) {
		printResult(w, "Errors", d.Results.Errors)
		printResult(w, "Warnings", d.Results.Warnings)
	}
	p("")
	if d.ResourceList == nil {
		p("Resource List:  <backup resource list not found>")
	} else {
		p("Resource List:")
		kinds := make([]string, 0, len(d.ResourceList))
		for k := range d.ResourceList {
			kinds = append(kinds, k)
		}
		sort.Strings(kinds)
		for _, k := range kinds {
			if !details {
				p("  %s: %d", k, len(d.ResourceList[k]))
				continue
			}
			p("  %s:", k)
			for _, it := range d.ResourceList[k] {
				p("    - %s", it)
			}
		}
	}
	if details && st.BackupItemOperationsAttempted > 0 {
		p("")
		p("Operations:")
		for _, o := range d.Operations {
			p("  Operation for %s:", o.Spec.ResourceIdentifier)
			p("    Backup Item Action Plugin:  %s", o.Spec.BackupItemAction)
			p("    Operation ID:               %s", o.Spec.OperationID)
			p("    Phase:                      %s", o.Status.Phase)
			if o.Status.Error != "" {
				p("    Operation Error:            %s", o.Status.Error)
			}
			if o.Status.NTotal > 0 {
				p("    Progress:                   %d of %d complete (%s)", o.Status.NCompleted, o.Status.NTotal, o.Status.OperationUnits)
			}
			if o.Status.Description != "" {
				p("    Progress description:       %s", o.Status.Description)
			}
		}
	}
	return nil
}

// printLocation prints the block of the location a backup was read from
// (already redacted), under the backup's own storage location line; named
// names the location the backup says it was made in.
func printLocation(w io.Writer, l *redactedLocation, named string) {
	if l == nil {
		return
	}
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	if l.Name != named {
		p("  Read from:        %s", l.Name)
	}
	p("  Provider:         %s", l.Provider)
	p("  Bucket:           %s", l.Bucket)
	p("  Prefix:           %s", cmp.Or(l.Prefix, "<none>"))
	if l.CACertBytes > 0 {
		p("  CA certificate:   %d bytes", l.CACertBytes)
	}
	if len(l.Config) == 0 {
		p("  Config:           <none>")
		return
	}
	p("  Config:")
	keys := slices.Sorted(maps.Keys(l.Config))
	width := 0
	for _, k := range keys {
		width = max(width, len(k))
	}
	for _, k := range keys {
		p("    %-*s  %s", width+1, k+":", l.Config[k])
	}
}

func printResult(w io.Writer, title string, r archive.Result) {
	if r.Count() == 0 {
		return
	}
	fmt.Fprintf(w, "\n%s:\n", title)
	for _, m := range r.Velero {
		fmt.Fprintf(w, "  Velero:   %s\n", m)
	}
	for _, m := range r.Cluster {
		fmt.Fprintf(w, "  Cluster:  %s\n", m)
	}
	nss := make([]string, 0, len(r.Namespaces))
	for ns := range r.Namespaces {
		nss = append(nss, ns)
	}
	sort.Strings(nss)
	for _, ns := range nss {
		fmt.Fprintf(w, "  Namespace %s:\n", ns)
		for _, m := range r.Namespaces[ns] {
			fmt.Fprintf(w, "    %s\n", m)
		}
	}
}

func fmtLabels(l map[string]string) string {
	if len(l) == 0 {
		return "<none>"
	}
	parts := make([]string, 0, len(l))
	for k, v := range l {
		parts = append(parts, k+"="+v)
	}
	slices.Sort(parts)
	return strings.Join(parts, ",")
}

func newBackupDownloadCommand(g *globalFlags, lf *locationFlags) *cobra.Command {
	var out string
	var force bool
	cmd := &cobra.Command{
		Use:   "download NAME",
		Short: "Download a backup's tarball (NAME-data.tar.gz, or -o FILE, or -o - for stdout)",
		Long: `Download a backup's tarball to NAME-data.tar.gz, to -o FILE, or with -o - to
stdout. An existing file is not overwritten unless --force is given (as
velero backup download does). The file appears complete or not at all: the
tarball is written to a temporary file renamed at the end.`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			if out == "" {
				out = a[0] + "-data.tar.gz"
			}
			if out != "-" && !force {
				if _, err := os.Lstat(out); err == nil {
					return fmt.Errorf("%s already exists: remove it or use --force to overwrite it", out)
				}
			}
			ctx := cmd.Context()
			s, err := openSession(ctx, g, lf)
			if err != nil {
				return err
			}
			defer s.close()
			if _, err := s.store.GetBackup(ctx, a[0]); err != nil {
				return err
			}
			rc, err := s.store.OpenBackupFile(ctx, a[0], archive.BackupContents)
			if err != nil {
				return err
			}
			defer rc.Close()
			if out == "-" {
				_, err = io.Copy(cmd.OutOrStdout(), rc)
				return err
			}
			return writeFileAtomic(out, rc, func(n int64) {
				fmt.Fprintf(cmd.OutOrStdout(), "Backup %s downloaded to %s (%s).\n", a[0], out, humanBytes(n))
			})
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", `file to write ("-" for stdout; default NAME-data.tar.gz)`)
	cmd.Flags().BoolVar(&force, "force", false, "overwrite the file if it exists")
	return cmd
}

// writeFileAtomic copies r into path through a temporary file renamed at
// the end, so a failed download leaves no partial file.
func writeFileAtomic(path string, r io.Reader, done func(int64)) error {
	tmp, err := os.CreateTemp(dirOf(path), ".rigging-download-*")
	if err != nil {
		return err
	}
	n, err := io.Copy(tmp, r)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	done(n)
	return nil
}

func dirOf(path string) string {
	if i := strings.LastIndexByte(path, os.PathSeparator); i >= 0 {
		return path[:i+1]
	}
	return "."
}

func newBackupDeleteCommand(g *globalFlags, lf *locationFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a backup: run the DeleteItemActions on its items, then remove every object under backups/NAME/",
		Long: `Delete a backup as Velero does: the DeleteItemActions run on the backed-up
items they apply to (to release snapshots and other resources the backup
holds), then every object under backups/NAME/ is removed, velero-backup.json
first. If an action fails, nothing is removed and the error says which
action and item; run the command again once the cause is fixed.`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			ctx := cmd.Context()
			s, err := openSession(ctx, g, lf)
			if err != nil {
				return err
			}
			defer s.close()
			n, err := backup.Delete(ctx, s.store, s.m, a[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Backup %s deleted (%d delete item action calls).\n", a[0], n)
			return nil
		},
	}
	return cmd
}

func newBackupLogsCommand(g *globalFlags, lf *locationFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "logs NAME",
		Short: "Print a backup's log",
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			ctx := cmd.Context()
			s, err := openSession(ctx, g, lf)
			if err != nil {
				return err
			}
			defer s.close()
			if err := archive.ValidateName(a[0]); err != nil {
				return asUsage(err)
			}
			// "backup not found: NAME", as describe says, rather than the
			// store's error for the log's key.
			if _, err := s.store.GetBackup(ctx, a[0]); err != nil {
				return err
			}
			rc, err := s.store.OpenBackupFile(ctx, a[0], archive.BackupLog)
			if err != nil {
				return err
			}
			defer rc.Close()
			return gunzipTo(cmd.OutOrStdout(), rc)
		},
	}
}

// progress draws a progress bar on a terminal, or logs a line every few
// seconds otherwise.
type progress struct {
	mu       sync.Mutex
	w        io.Writer
	log      *slog.Logger
	what     string
	tty      bool
	last     time.Time
	drawn    bool
	done_    bool
	interval time.Duration
}

func newProgress(g *globalFlags, w io.Writer, bar bool, what string) *progress {
	p := &progress{w: w, log: g.Logger, what: what, interval: 5 * time.Second}
	if f, ok := w.(*os.File); ok && bar && term.IsTerminal(int(f.Fd())) {
		p.tty, p.interval = true, 100*time.Millisecond
	}
	return p
}

func (p *progress) update(done, total int, resource string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if now.Sub(p.last) < p.interval && done != total {
		return
	}
	p.last = now
	if !p.tty {
		p.log.Info("progress", "what", p.what, "items", done, "total", total, "resource", resource)
		return
	}
	const width = 30
	filled := 0
	if total > 0 {
		filled = width * done / total
	}
	fmt.Fprintf(p.w, "\r%s [%s%s] %d/%d %-40.40s", p.what, strings.Repeat("#", filled), strings.Repeat("-", width-filled), done, total, resource)
	p.drawn = true
}

func (p *progress) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn && !p.done_ {
		fmt.Fprintln(p.w)
	}
	p.done_ = true
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// readCluster reads the items of a backup from the cluster cf chooses,
// after naming it on the first line of output: the objects, the Lookup the
// plugins see them through, and a warning per resource it may not list.
// includeNS narrows the namespaced lists unless it is empty or "*".
func readCluster(ctx context.Context, cmd *cobra.Command, cf *clusterFlags, includeNS []string) ([]*unstructured.Unstructured, rigging.Lookup, []error, error) {
	cfg, desc, err := cf.connect(cmd.ErrOrStderr())
	if err != nil {
		return nil, nil, nil, err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "Backing up the cluster of %s\n", desc)
	l, err := cluster.NewLookup(cfg, cf.lookupOptions())
	if err != nil {
		return nil, nil, nil, err
	}
	var opts cluster.CollectOptions
	if !slices.Contains(includeNS, "*") {
		opts.Namespaces = includeNS
	}
	items, ws, err := l.Collect(ctx, opts)
	if err != nil {
		return nil, nil, nil, err
	}
	warnings := make([]error, len(ws))
	for i, w := range ws {
		warnings[i] = w
	}
	return items, l, warnings, nil
}
