package veleroside

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/vmware-tanzu/velero/pkg/plugin/velero"

	"github.com/rigging-dev/rigging/internal/testcluster"
	"github.com/rigging-dev/rigging/interop/internal/testbin"
	"github.com/rigging-dev/rigging/manifest"
)

// TestVeleroHostRiggingBuiltinsSeeCluster: rigging copied into a Velero
// plugin directory, its process given only $KUBECONFIG of the test API
// server seeded with cluster-export (as a plugin process next to a Velero
// server has only its environment), serves built-ins that find the
// cluster themselves: Velero's host asks rigging's velero.io/pvc
// ItemBlockAction for a claim's related items and gets its volume and the
// running pod that mounts it, and rigging's velero.io/service-account
// BackupItemAction for an account's ClusterRoleBindings.
func TestVeleroHostRiggingBuiltinsSeeCluster(t *testing.T) {
	c := testcluster.Get(t)
	bin := riggingCommand(t)
	t.Setenv("KUBECONFIG", c.Kubeconfig()) // inherited by the plugin processes
	parent := t.TempDir()
	if _, err := testbin.PluginDir(parent, bin); err != nil {
		t.Fatal(err)
	}
	m, _ := veleroHost(t, filepath.Join(parent, "plugins"))
	items, err := manifest.Load(filepath.Join(testbin.RepoRoot(), testcluster.ClusterExport))
	if err != nil {
		t.Fatal(err)
	}
	find := func(kind, namespace, name string) *unstructured.Unstructured {
		for _, it := range items {
			if it.GetKind() == kind && it.GetNamespace() == namespace && it.GetName() == name {
				return it
			}
		}
		t.Fatalf("no %s %s/%s in cluster-export", kind, namespace, name)
		return nil
	}

	iba, err := m.GetItemBlockAction("velero.io/pvc")
	if err != nil {
		t.Fatal(err)
	}
	claim := find("PersistentVolumeClaim", "monitoring", "prometheus-data-prometheus-0")
	related, err := iba.GetRelatedItems(claim, vbackup())
	if err != nil {
		t.Fatalf("velero.io/pvc GetRelatedItems: %v", err)
	}
	wantPod := velero.ResourceIdentifier{GroupResource: schema.GroupResource{Resource: "pods"}, Namespace: "monitoring", Name: "prometheus-0"}
	if !slices.Contains(related, wantPod) || len(related) < 2 {
		t.Errorf("velero.io/pvc related items %v, want the volume and %v", related, wantPod)
	}

	bia, err := m.GetBackupItemAction("velero.io/service-account")
	if err != nil {
		t.Fatal(err)
	}
	var bound []string
	for _, sa := range items {
		if sa.GetKind() != "ServiceAccount" {
			continue
		}
		_, extra, err := bia.Execute(sa, vbackup())
		if err != nil {
			t.Fatalf("velero.io/service-account %s/%s: %v", sa.GetNamespace(), sa.GetName(), err)
		}
		for _, id := range extra {
			bound = append(bound, fmt.Sprint(id))
		}
	}
	if len(bound) == 0 {
		t.Error("velero.io/service-account found no ClusterRoleBinding of any cluster-export account in the cluster")
	}
}
