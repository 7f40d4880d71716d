package cli

// PLACEHOLDER owned by the backup work: this whole file is replaced when
// `rigging backup` lands.

import (
	"errors"

	"github.com/spf13/cobra"
)

func newBackupCommand(*globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:    "backup",
		Short:  "Back up Kubernetes manifests to a storage location in Velero's layout",
		Hidden: true,
		Args:   args(cobra.ArbitraryArgs),
		RunE:   func(*cobra.Command, []string) error { return errors.New("this build of rigging has no backup command") },
	}
}
