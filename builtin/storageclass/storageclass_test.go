package storageclass

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/builtin/internal/actiontest"
	"github.com/rigging-dev/rigging/builtin/internal/testmanifest"
	"github.com/rigging-dev/rigging/registry"
)

// classes returns the storage classes an item names, in order: the
// templates' for a StatefulSet ("-" for a template without one), else the
// item's own.
func classes(t *testing.T, obj *unstructured.Unstructured) []string {
	t.Helper()
	if obj.GetKind() != "StatefulSet" {
		c, found, _ := unstructured.NestedString(obj.Object, "spec", "storageClassName")
		if !found {
			return []string{"-"}
		}
		return []string{c}
	}
	tmpls, _, _ := unstructured.NestedSlice(obj.Object, "spec", "volumeClaimTemplates")
	out := []string{}
	for _, tm := range tmpls {
		c, found, _ := unstructured.NestedString(tm.(map[string]any), "spec", "storageClassName")
		if !found {
			c = "-"
		}
		out = append(out, c)
	}
	return out
}

func TestExecute(t *testing.T) {
	shop := actiontest.ClusterExport(t)
	cluster, monitoring := shop, shop
	cassandra := testmanifest.Load(t, "testdata/cassandra-statefulset.yaml")
	claim1 := testmanifest.LoadOne(t, "testdata/claim1.json", "PersistentVolumeClaim", "", "claim1")
	nfs := testmanifest.LoadOne(t, "testdata/nfs-pvc.yaml", "PersistentVolumeClaim", "", "nfs")

	mapping := map[string]string{"gp3-csi": "premium-rwo", "gp2": "standard", "slow": "pd-standard", "fast": "pd-ssd"}
	tests := []struct {
		name        string
		config      map[string]string
		item        *unstructured.Unstructured
		before      []string
		want        []string
		wantChanged bool
	}{
		{"PVC", mapping, testmanifest.Find(t, shop, "PersistentVolumeClaim", "shop", "redis-data"), []string{"gp3-csi"}, []string{"premium-rwo"}, true},
		{"PVC from JSON", mapping, claim1, []string{"slow"}, []string{"pd-standard"}, true},
		{"in-tree PV", mapping, testmanifest.Find(t, cluster, "PersistentVolume", "", "pvc-4bfcbf27-8286-49ad-9281-8d33906bb842"), []string{"gp2"}, []string{"standard"}, true},
		{"statically bound PVC with empty class", mapping, testmanifest.Find(t, shop, "PersistentVolumeClaim", "shop", "shop-assets"), []string{""}, []string{""}, false},
		{"static PV without class", mapping, testmanifest.Find(t, cluster, "PersistentVolume", "", "shop-assets-nfs"), []string{"-"}, []string{"-"}, false},
		{"PVC with empty class from examples", mapping, nfs, []string{""}, []string{""}, false},
		{"class not in mapping", map[string]string{"other": "x"}, testmanifest.Find(t, shop, "PersistentVolumeClaim", "shop", "redis-data"), []string{"gp3-csi"}, []string{"gp3-csi"}, false},
		{"no configuration", nil, testmanifest.Find(t, shop, "PersistentVolumeClaim", "shop", "redis-data"), []string{"gp3-csi"}, []string{"gp3-csi"}, false},
		{"StatefulSet template", mapping, testmanifest.Find(t, shop, "StatefulSet", "shop", "postgres"), []string{"gp3-csi"}, []string{"premium-rwo"}, true},
		{"StatefulSet template from JSON list", mapping, testmanifest.Find(t, monitoring, "StatefulSet", "monitoring", "prometheus"), []string{"gp3-csi"}, []string{"premium-rwo"}, true},
		// Velero converts a StatefulSet with templates to the typed
		// object and back, mapped or not: the result is normalised.
		{"StatefulSet with legacy class annotation only", mapping, testmanifest.Find(t, cassandra, "StatefulSet", "", "cassandra"), []string{"-"}, []string{"-"}, true},
		{"Deployment without templates", mapping, testmanifest.Find(t, shop, "Deployment", "shop", "redis"), []string{"-"}, []string{"-"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := classes(t, tt.item); !reflect.DeepEqual(got, tt.before) {
				t.Fatalf("test data: classes = %v, want %v", got, tt.before)
			}
			a := New(nil)
			if err := a.Configure(tt.config); err != nil {
				t.Fatal(err)
			}
			before := tt.item.DeepCopy()
			out, err := a.Execute(context.Background(), &rigging.RestoreItemActionExecuteInput{Item: tt.item, ItemFromBackup: before, Restore: &rigging.Restore{}})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(tt.item, before) {
				t.Error("Execute modified its input")
			}
			if got := classes(t, out.UpdatedItem); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("classes = %v, want %v", got, tt.want)
			}
			if changed := !reflect.DeepEqual(out.UpdatedItem, before); changed != tt.wantChanged {
				t.Errorf("changed = %v, want %v", changed, tt.wantChanged)
			}
		})
	}
}

func TestStatefulSetPartialMapping(t *testing.T) {
	sts := testmanifest.Find(t, actiontest.ClusterExport(t), "StatefulSet", "shop", "postgres")
	tmpls, _, _ := unstructured.NestedSlice(sts.Object, "spec", "volumeClaimTemplates")
	second := tmpls[0].(map[string]any)
	second = (&unstructured.Unstructured{Object: second}).DeepCopy().Object
	_ = unstructured.SetNestedField(second, "wal", "metadata", "name")
	_ = unstructured.SetNestedField(second, "io2", "spec", "storageClassName")
	third := (&unstructured.Unstructured{Object: second}).DeepCopy().Object
	unstructured.RemoveNestedField(third, "spec", "storageClassName")
	_ = unstructured.SetNestedSlice(sts.Object, append(tmpls, second, third), "spec", "volumeClaimTemplates")

	a := New(nil)
	if err := a.Configure(map[string]string{"io2": "io2-express"}); err != nil {
		t.Fatal(err)
	}
	out, err := a.Execute(context.Background(), &rigging.RestoreItemActionExecuteInput{Item: sts})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := classes(t, out.UpdatedItem), []string{"gp3-csi", "io2-express", "-"}; !reflect.DeepEqual(got, want) {
		t.Errorf("classes = %v, want %v", got, want)
	}
}

func TestConfigure(t *testing.T) {
	tests := []struct {
		config  map[string]string
		wantErr string
	}{
		{map[string]string{"gp2": "standard"}, ""},
		{map[string]string{}, ""},
		{map[string]string{"gp2": ""}, `storage class "gp2" mapped to an empty name`},
		{map[string]string{"": "standard"}, `empty storage class name as key`},
	}
	for _, tt := range tests {
		err := New(nil).Configure(tt.config)
		if tt.wantErr == "" {
			if err != nil {
				t.Errorf("Configure(%v) = %v", tt.config, err)
			}
			continue
		}
		if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tt.wantErr) || !strings.HasPrefix(err.Error(), "plugin "+Name+": ") {
			t.Errorf("Configure(%v) = %v, want ErrInvalidConfig with %q", tt.config, err, tt.wantErr)
		}
	}
}

func TestExecuteBadItem(t *testing.T) {
	item := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "PersistentVolumeClaim",
		"metadata": map[string]any{"name": "data", "namespace": "shop"},
		"spec":     map[string]any{"storageClassName": int64(42)},
	}}
	a := New(nil)
	_ = a.Configure(map[string]string{"gp2": "standard"})
	_, err := a.Execute(context.Background(), &rigging.RestoreItemActionExecuteInput{Item: item})
	if err == nil || !strings.HasPrefix(err.Error(), "plugin velero.io/change-storage-class: PersistentVolumeClaim shop/data: read spec.storageClassName: ") {
		t.Errorf("error = %v", err)
	}
}

func TestRegistered(t *testing.T) {
	e, ok := registry.Default.Lookup(rigging.KindRestoreItemAction, Name)
	if !ok {
		t.Fatal("not registered")
	}
	v, err := e.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := v.(rigging.Configurable); !ok {
		t.Error("registered action is not Configurable")
	}
}
