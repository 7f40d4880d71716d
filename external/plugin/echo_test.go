package plugin

import (
	"context"
	"log/slog"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/external/generated"
	"github.com/rigging-dev/rigging/registry"
)

// returnsItem is a BackupItemAction that returns the item it is given,
// optionally after changing it in place, and declares (or not) that it
// preserves its input.
type returnsItem struct {
	preserves, mutate bool
}

func (returnsItem) AppliesTo(context.Context) (rigging.ResourceSelector, error) {
	return rigging.ResourceSelector{}, nil
}

func (a returnsItem) Execute(_ context.Context, item *unstructured.Unstructured, _ *rigging.Backup) (*unstructured.Unstructured, []rigging.ResourceIdentifier, error) {
	if a.mutate {
		item.SetLabels(map[string]string{"changed": "yes"})
	}
	return item, nil, nil
}

func (a returnsItem) PreservesInput() bool { return a.preserves }

// TestEchoUnchangedItem: the server echoes the request's item bytes, with
// no encoding, when the implementation returns nil or, declaring
// rigging.InputPreserver, the item it was given; otherwise it encodes what
// was returned (an action that changed its input in place must not have
// its change lost).
func TestEchoUnchangedItem(t *testing.T) {
	// Valid but not canonical JSON (spaces, unsorted keys): an echo keeps
	// it byte for byte, an encoding does not.
	sent := []byte(`{"kind": "Pod", "apiVersion": "v1", "metadata": {"name": "web-0"}}`)
	const canonical = `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web-0"}}`
	tests := []struct {
		name   string
		action returnsItem
		want   string
	}{
		{"preserving action returns its input", returnsItem{preserves: true}, string(sent)},
		{"undeclared action returning its input is encoded", returnsItem{}, canonical},
		{"declaring false is encoded", returnsItem{preserves: false}, canonical},
		{"in-place change without the declaration is kept", returnsItem{mutate: true},
			`{"apiVersion":"v1","kind":"Pod","metadata":{"labels":{"changed":"yes"},"name":"web-0"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := registry.New()
			registry.RegisterIn(reg, "example.com/a", func(*slog.Logger) (rigging.BackupItemAction, error) { return tt.action, nil })
			s := backupItemActionServer{serves[rigging.BackupItemAction](newMux(ServeOptions{Registry: reg}))}
			res, err := s.Execute(context.Background(), &generated.ExecuteRequest{Plugin: "example.com/a", Item: sent})
			if err != nil {
				t.Fatal(err)
			}
			if string(res.Item) != tt.want {
				t.Errorf("response item %s, want %s", res.Item, tt.want)
			}
		})
	}
}
