package cli

import (
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rigging-dev/rigging/archive"
	"github.com/rigging-dev/rigging/backup"
)

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
