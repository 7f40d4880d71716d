package cli

// PLACEHOLDER owned by the backup work: this whole file is replaced when
// `rigging restore` lands.

import (
	"errors"

	"github.com/spf13/cobra"
)

func newRestoreCommand(*globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:    "restore",
		Short:  "Restore a backup from a storage location to manifests",
		Hidden: true,
		Args:   args(cobra.ArbitraryArgs),
		RunE: func(*cobra.Command, []string) error {
			return errors.New("this build of rigging has no restore command")
		},
	}
}
