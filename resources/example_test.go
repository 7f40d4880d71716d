package resources_test

import (
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/resources"
)

func ExampleMapper_Resolve() {
	m := resources.NewMapper()
	for _, name := range []string{"po", "Deployment", "deploy.apps", "vs", "events", "bsl"} {
		r, err := m.Resolve(name)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Printf("%-12s %s (%s, namespaced=%v)\n", name, r, r.GroupVersionKind().GroupVersion(), r.Namespaced)
	}
	_, err := m.Resolve("widgets")
	fmt.Println(err)
	// Output:
	// po           pods (v1, namespaced=true)
	// Deployment   deployments.apps (apps/v1, namespaced=true)
	// deploy.apps  deployments.apps (apps/v1, namespaced=true)
	// vs           volumesnapshots.snapshot.storage.k8s.io (snapshot.storage.k8s.io/v1, namespaced=true)
	// events       events (v1, namespaced=true)
	// bsl          backupstoragelocations.velero.io (velero.io/v1, namespaced=true)
	// unknown resource: "widgets" (want a plural, singular, kind or short name, optionally followed by .<group>)
}

func ExampleCompileSelector() {
	// What velero.io/pod's BackupItemAction returns from AppliesTo.
	x, err := resources.CompileSelector(rigging.ResourceSelector{IncludedResources: []string{"pods"}}, nil)
	if err != nil {
		panic(err)
	}
	pod := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Pod", "metadata": map[string]any{"name": "web", "namespace": "shop"},
	}}
	pvc := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": map[string]any{"name": "data", "namespace": "shop"},
	}}
	fmt.Println(x.MatchesObject(pod), x.MatchesObject(pvc))
	// Output: true false
}
