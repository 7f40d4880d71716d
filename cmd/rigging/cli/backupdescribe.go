package cli

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/archive"
)

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
