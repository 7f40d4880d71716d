package manager_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/manager"
	"github.com/rigging-dev/rigging/registry"
)

// claimsAction names the claims a pod mounts, as velero.io/pod does.
type claimsAction struct{}

func (claimsAction) AppliesTo(context.Context) (rigging.ResourceSelector, error) {
	return rigging.ResourceSelector{IncludedResources: []string{"pods"}}, nil
}

func (claimsAction) Execute(_ context.Context, item *unstructured.Unstructured, _ *rigging.Backup) (*unstructured.Unstructured, []rigging.ResourceIdentifier, error) {
	vols, _, _ := unstructured.NestedSlice(item.Object, "spec", "volumes")
	var ids []rigging.ResourceIdentifier
	for _, v := range vols {
		claim, ok, _ := unstructured.NestedString(v.(map[string]any), "persistentVolumeClaim", "claimName")
		if ok {
			ids = append(ids, rigging.ResourceIdentifier{
				GroupResource: schema.GroupResource{Resource: "persistentvolumeclaims"},
				Namespace:     item.GetNamespace(), Name: claim,
			})
		}
	}
	return nil, ids, nil
}

func Example() {
	// Built-ins register into registry.Default from init(); an isolated
	// registry keeps this example free of global state.
	reg := registry.New()
	registry.RegisterIn(reg, "pod", func(*slog.Logger) (rigging.BackupItemAction, error) {
		return claimsAction{}, nil
	})

	m := manager.New(manager.Options{Registry: reg, Metrics: prometheus.NewRegistry()})
	defer m.Close()

	// A v1 action asked for as v2 comes through the adapter.
	action, err := m.BackupItemActionV2(context.Background(), "velero.io/pod")
	if err != nil {
		fmt.Println(err)
		return
	}
	pod := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Pod",
		"metadata": map[string]any{"name": "web", "namespace": "shop"},
		"spec": map[string]any{"volumes": []any{
			map[string]any{"name": "data", "persistentVolumeClaim": map[string]any{"claimName": "web-data"}},
		}},
	}}
	_, additional, opID, _, err := action.Execute(context.Background(), pod, &rigging.Backup{})
	fmt.Println(action.Name(), additional, fmt.Sprintf("%q", opID), err)

	_, err = m.ObjectStore(context.Background(), "aws")
	fmt.Println(errors.Is(err, rigging.ErrPluginNotFound))

	for _, p := range m.Plugins() {
		fmt.Println(p.Kind, p.Name, p.Source, p.Transport, p.Active)
	}
	// Output:
	// velero.io/pod [persistentvolumeclaims/shop/web-data] "" <nil>
	// true
	// BackupItemAction velero.io/pod builtin inproc true
}
