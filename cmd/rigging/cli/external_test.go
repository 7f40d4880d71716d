package cli

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/rigging-dev/rigging"
)

func TestSelectionFlags(t *testing.T) {
	kinds, names := selectionFlags([]string{"--kind", "BackupItemAction", "--name=pod,velero.io/pv", "--log-level=debug", "--features", "EnableCSI", "--kind=ObjectStore"})
	if !slices.Equal(kinds, []string{"BackupItemAction", "ObjectStore"}) || !slices.Equal(names, []string{"pod", "velero.io/pv"}) {
		t.Errorf("kinds %q names %q", kinds, names)
	}
	sel := selector(kinds, names)
	for _, tt := range []struct {
		kind rigging.Kind
		name rigging.Name
		want bool
	}{
		{rigging.KindBackupItemAction, "velero.io/pod", true},
		{rigging.KindBackupItemAction, "velero.io/pv", true},
		{rigging.KindRestoreItemAction, "velero.io/pod", false},
		{rigging.KindBackupItemAction, "velero.io/service-account", false},
	} {
		if got := sel(tt.kind, tt.name); got != tt.want {
			t.Errorf("select %s %s = %v", tt.kind, tt.name, got)
		}
	}
	if selector(nil, nil) != nil {
		t.Error("no flags must select everything (nil)")
	}
}

func TestRunPluginsAndVerifyUsage(t *testing.T) {
	t.Setenv("VELERO_PLUGIN", "")
	tests := []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"run-plugins", "--unknown-velero-flag=1"}, ExitFailure, "started by a plugin host"},
		{[]string{"verify", "--kind", "Bogus", "--name", "x"}, ExitUsage, "invalid plugin kind"},
		{[]string{"verify", "--kind", "ObjectStore", "--name", "Bad_Name/x"}, ExitUsage, "invalid plugin name"},
		{[]string{"verify", "--kind", "ObjectStore", "--name", "example.com/none"}, ExitFailure, "neither built in nor in --plugin-dir"},
	}
	for _, tt := range tests {
		var out, errOut bytes.Buffer
		code := Run(context.Background(), tt.args, strings.NewReader(""), &out, &errOut)
		if code != tt.code || !strings.Contains(errOut.String(), tt.msg) {
			t.Errorf("%q: exit %d, stderr %q; want %d and %q", tt.args, code, errOut.String(), tt.code, tt.msg)
		}
	}
}
