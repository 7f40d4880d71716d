package cli

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/registry"
)

// faultyAction is a BackupItemAction that fails or panics in Execute.
type faultyAction struct{ panics bool }

func (faultyAction) AppliesTo(context.Context) (rigging.ResourceSelector, error) {
	return rigging.ResourceSelector{IncludedResources: []string{"pods"}}, nil
}

func (a faultyAction) Execute(context.Context, *unstructured.Unstructured, *rigging.Backup) (*unstructured.Unstructured, []rigging.ResourceIdentifier, error) {
	if a.panics {
		panic("index out of range in a vendor's plugin")
	}
	return nil, nil, errors.New("volume is busy")
}

func init() {
	// Registered in the test binary only.
	registry.Register("test.rigging.dev/fails", func(*slog.Logger) (rigging.BackupItemAction, error) { return faultyAction{}, nil })
	registry.Register("test.rigging.dev/panics", func(*slog.Logger) (rigging.BackupItemAction, error) { return faultyAction{panics: true}, nil })
}

func TestExecPluginFailures(t *testing.T) {
	tests := []struct {
		name string
		want []string
	}{
		{"test.rigging.dev/fails", []string{"rigging: Pod demo/web-0: plugin test.rigging.dev/fails: Execute: volume is busy"}},
		{"test.rigging.dev/panics", []string{"rigging: Pod demo/web-0: plugin test.rigging.dev/panics: Execute: ", "index out of range in a vendor's plugin"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errs, code := run(t, "", "--log-level", "error", "exec", "BackupItemAction", tt.name, "--item", demo+"/pod-two-pvcs.yaml")
			if code != ExitFailure || out != "" {
				t.Errorf("exit %d, stdout %q; want exit 1 and no output", code, out)
			}
			for _, w := range tt.want {
				if !strings.Contains(errs, w) {
					t.Errorf("stderr %q does not contain %q", errs, w)
				}
			}
		})
	}
}
