package riggingside

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rigging-dev/rigging/internal/testcluster"
	"github.com/rigging-dev/rigging/interop/internal/testbin"
	"github.com/rigging-dev/rigging/manifest"
	"github.com/rigging-dev/rigging/resources"
)

// TestServedBuiltinsMatchVeleroLive is TestBuiltinsMatchVelero against a
// live cluster: the test API server holding the cluster-export objects.
// Velero v1.18's own built-ins (Velero's run-plugins command with Velero's
// own client factory) and rigging's served built-ins (`rigging
// run-plugins`, rigging copied into a plugin directory) each run as a
// plugin process given only $KUBECONFIG of the test API server, so each
// finds the cluster itself, as a plugin process next to a Velero server
// does; one rigging host drives both on the cluster-export objects their
// selectors pick. Selectors, updated items, additional and related items
// (the pods that mount a claim among them), skip flags and failures must
// be identical.
func TestServedBuiltinsMatchVeleroLive(t *testing.T) {
	c := testcluster.Get(t)
	vbin := binary(t, func() (string, error) { return testbin.Interop("cmd/velero-builtins") })
	rbin := binary(t, testbin.Rigging)
	// Inherited by both plugin processes, started at their first call.
	t.Setenv("INTEROP_CLUSTER", "live")
	t.Setenv("KUBECONFIG", c.Kubeconfig())
	velero, _, _ := newManager(t, vbin)
	rig, _, _ := newManager(t, rbin)

	items, err := manifest.Load(filepath.Join(testbin.RepoRoot(), testcluster.ClusterExport))
	if err != nil {
		t.Fatal(err)
	}
	mapper := resources.NewMapper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	// Velero's crd-remap-version, left out over fake clients, has its
	// REST config here.
	compareBuiltins(ctx, t, velero, rig, items, mapper, nil)

	// Not vacuous: rigging's served velero.io/pvc found, in the cluster,
	// the running pods that mount a claim.
	iba, err := rig.ItemBlockAction(ctx, "velero.io/pvc")
	if err != nil {
		t.Fatal(err)
	}
	claim := findItem(t, items, "PersistentVolumeClaim", "monitoring", "prometheus-data-prometheus-0")
	related, err := iba.GetRelatedItems(ctx, claim, diffBackup())
	if err != nil {
		t.Fatal(err)
	}
	if got := idList(related); !strings.Contains(got, "pods/monitoring/prometheus-0") {
		t.Errorf("velero.io/pvc served over the live cluster: related items %s, want the pod prometheus-0 among them", got)
	}
}

// findItem returns the object of items with kind, namespace and name.
func findItem(t *testing.T, items []*unstructured.Unstructured, kind, namespace, name string) *unstructured.Unstructured {
	t.Helper()
	for _, it := range items {
		if it.GetKind() == kind && it.GetNamespace() == namespace && it.GetName() == name {
			return it.DeepCopy()
		}
	}
	t.Fatalf("no %s %s/%s", kind, namespace, name)
	return nil
}
