package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/rigging-dev/rigging/manifest"
)

const clusterExport = "../../../testdata/manifests/cluster-export"

// exportItem writes one object of cluster-export to a file of its own, as a
// user would save `kubectl get -o yaml` of it.
func exportItem(t *testing.T, kind, namespace, name string) string {
	t.Helper()
	objs, err := manifest.Load(clusterExport)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if o.GetKind() == kind && o.GetNamespace() == namespace && o.GetName() == name {
			b, err := json.Marshal(o.Object)
			if err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(t.TempDir(), name+".json")
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
			return p
		}
	}
	t.Fatalf("%s %s/%s not in cluster-export", kind, namespace, name)
	return ""
}

// TestExecContext runs actions that look up other objects on the
// cluster-export scenario, with the relationships its README states.
func TestExecContext(t *testing.T) {
	tests := []struct {
		name string
		args []string
		key  string
		want []string
	}{
		{
			name: "service account backup adds its ClusterRoleBinding and ClusterRole",
			args: []string{"BackupItemAction", "velero.io/service-account", "--item", exportItem(t, "ServiceAccount", "shop", "storefront")},
			key:  "additionalItems",
			want: []string{"rbac.authorization.k8s.io/clusterrolebindings//storefront-node-reader", "rbac.authorization.k8s.io/clusterroles//node-reader"},
		},
		{
			name: "service account bound twice",
			args: []string{"BackupItemAction", "velero.io/service-account", "--item", exportItem(t, "ServiceAccount", "kube-system", "ebs-csi-controller-sa")},
			key:  "additionalItems",
			want: []string{
				"rbac.authorization.k8s.io/clusterrolebindings//ebs-csi-provisioner-binding",
				"rbac.authorization.k8s.io/clusterrolebindings//ebs-csi-snapshotter-binding",
				"rbac.authorization.k8s.io/clusterroles//ebs-external-provisioner-role",
				"rbac.authorization.k8s.io/clusterroles//ebs-external-snapshotter-role",
			},
		},
		{
			name: "claim's item block holds its volume and the pod that mounts it",
			args: []string{"ItemBlockAction", "velero.io/pvc", "--item", exportItem(t, "PersistentVolumeClaim", "shop", "data-postgres-0")},
			key:  "relatedItems",
			want: []string{"/persistentvolumes//pvc-ed173a47-6f0a-45a4-831a-17d847759f56", "/pods/shop/postgres-0"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := execJSON(t, "", append(tt.args, "--context", clusterExport)...)
			got := ids(t, res[tt.key])
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("%s = %v, want %v", tt.key, got, tt.want)
			}
			if res["appliesToItem"] != true {
				t.Errorf("appliesToItem = %v", res["appliesToItem"])
			}
		})
	}
	// Without --context there is nothing to look up.
	res := execJSON(t, "", "BackupItemAction", "velero.io/service-account", "--item", exportItem(t, "ServiceAccount", "shop", "storefront"))
	if got := ids(t, res["additionalItems"]); len(got) != 0 {
		t.Errorf("additionalItems without --context = %v, want none", got)
	}
}
