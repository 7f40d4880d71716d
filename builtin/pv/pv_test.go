package pv

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/builtin/internal/actiontest"
	"github.com/rigging-dev/rigging/builtin/internal/kube"
	"github.com/rigging-dev/rigging/builtin/internal/testmanifest"
	"github.com/rigging-dev/rigging/registry"
)

func set(obj *unstructured.Unstructured, value any, fields ...string) {
	if err := unstructured.SetNestedField(obj.Object, value, fields...); err != nil {
		panic(err)
	}
}

// TestBackupActionExecute checks each case's output and that the input is
// left alone, as PreservesInput promises.
func TestBackupActionExecute(t *testing.T) {
	if !(&BackupAction{}).PreservesInput() {
		t.Error("PreservesInput() = false")
	}
	objs := actiontest.ClusterExport(t)
	claim := func(ns, name string) *unstructured.Unstructured {
		return testmanifest.Find(t, objs, "PersistentVolumeClaim", ns, name).DeepCopy()
	}
	backup := &rigging.Backup{}
	backup.Name = "nightly-20240314"

	tests := []struct {
		name   string
		item   *unstructured.Unstructured
		setup  func(in *unstructured.Unstructured)   // applied to the input
		expect func(want *unstructured.Unstructured) // applied to a copy of the input, gives the wanted output
		wantPV string                                // "" when the claim is not bound: item returned as is
	}{
		{name: "bound CSI claim unchanged", item: claim("shop", "data-postgres-0"),
			wantPV: "pvc-ed173a47-6f0a-45a4-831a-17d847759f56"},
		{name: "json list claim", item: claim("monitoring", "grafana-storage"),
			wantPV: "pvc-4bfcbf27-8286-49ad-9281-8d33906bb842"},
		{name: "statically bound claim", item: claim("shop", "shop-assets"), wantPV: "shop-assets-nfs"},
		{
			name: "data source of an earlier restore and selector removed", item: claim("shop", "redis-data"),
			setup: func(in *unstructured.Unstructured) {
				set(in, map[string]any{"apiGroup": "snapshot.storage.k8s.io", "kind": "VolumeSnapshot", "name": "velero-redis-data-abcde"}, "spec", "dataSource")
				set(in, map[string]any{"apiGroup": "snapshot.storage.k8s.io", "kind": "VolumeSnapshot", "name": "velero-redis-data-abcde"}, "spec", "dataSourceRef")
				set(in, map[string]any{"matchLabels": map[string]any{"app": "redis"}}, "spec", "selector")
			},
			expect: func(want *unstructured.Unstructured) {
				unstructured.RemoveNestedField(want.Object, "spec", "dataSource")
				unstructured.RemoveNestedField(want.Object, "spec", "dataSourceRef")
				unstructured.RemoveNestedField(want.Object, "spec", "selector")
			},
			wantPV: "pvc-fdaa0c8d-a004-43bb-8405-675f02589234",
		},
		{
			name: "static claim keeps selector minus velero.io keys", item: claim("shop", "shop-assets"),
			setup: func(in *unstructured.Unstructured) {
				set(in, map[string]any{"matchLabels": map[string]any{"app": "assets", "velero.io/restore-name": "r1"}}, "spec", "selector")
			},
			expect: func(want *unstructured.Unstructured) {
				unstructured.RemoveNestedField(want.Object, "spec", "selector", "matchLabels", "velero.io/restore-name")
			},
			wantPV: "shop-assets-nfs",
		},
		{
			name: "stale velero labels removed, own backup label kept", item: claim("monitoring", "prometheus-data-prometheus-0"),
			setup: func(in *unstructured.Unstructured) {
				labels := in.GetLabels()
				labels["velero.io/restore-name"] = "restore-1"
				labels["velero.io/volume-snapshot-name"] = "velero-prometheus-data-x"
				labels["backup.velero.io/must-include-additional-items"] = "true"
				labels["velero.io/backup-name"] = "nightly-20240314"
				in.SetLabels(labels)
			},
			expect: func(want *unstructured.Unstructured) {
				labels := want.GetLabels()
				delete(labels, "velero.io/restore-name")
				delete(labels, "velero.io/volume-snapshot-name")
				delete(labels, "backup.velero.io/must-include-additional-items")
				want.SetLabels(labels)
			},
			wantPV: "pvc-6799d81d-c5fd-4290-b3ba-9ca9c35cdfcf",
		},
		{
			name: "backup label of another backup removed", item: claim("shop", "data-postgres-0"),
			setup: func(in *unstructured.Unstructured) {
				in.SetLabels(map[string]string{"velero.io/backup-name": "older"})
			},
			expect: func(want *unstructured.Unstructured) {
				unstructured.RemoveNestedField(want.Object, "metadata", "labels")
			},
			wantPV: "pvc-ed173a47-6f0a-45a4-831a-17d847759f56",
		},
		{
			name: "pending claim", item: claim("shop", "redis-data"),
			setup: func(in *unstructured.Unstructured) { set(in, "Pending", "status", "phase") },
		},
		{
			name: "bound phase without volume name", item: claim("shop", "redis-data"),
			setup: func(in *unstructured.Unstructured) { unstructured.RemoveNestedField(in.Object, "spec", "volumeName") },
		},
	}
	a := &BackupAction{}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.setup != nil {
				tc.setup(tc.item)
			}
			before := tc.item.DeepCopy()
			got, extra, err := a.Execute(context.Background(), tc.item, backup)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(tc.item.Object, before.Object) {
				t.Error("Execute modified its input")
			}
			if tc.wantPV == "" {
				if got != tc.item || extra != nil {
					t.Errorf("unbound claim: got item %p (input %p), additional %v; want the input and none", got, tc.item, extra)
				}
				return
			}
			want := before.DeepCopy()
			if tc.expect != nil {
				tc.expect(want)
			}
			if !reflect.DeepEqual(got.Object, want.Object) {
				t.Errorf("item\n got %v\nwant %v", got.Object, want.Object)
			}
			wantExtra := []rigging.ResourceIdentifier{{GroupResource: kube.PersistentVolumes, Name: tc.wantPV}}
			if !reflect.DeepEqual(extra, wantExtra) {
				t.Errorf("additional items %v, want %v", extra, wantExtra)
			}
		})
	}
}

func TestBackupActionErrors(t *testing.T) {
	a := &BackupAction{}
	bad := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "PersistentVolumeClaim",
		"metadata": map[string]any{"name": "broken", "namespace": "shop"},
		"spec":     map[string]any{"volumeName": []any{"x"}},
	}}
	for name, item := range map[string]*unstructured.Unstructured{"wrong type": bad, "nil": nil} {
		_, _, err := a.Execute(context.Background(), item, nil)
		if err == nil || !strings.HasPrefix(err.Error(), "plugin velero.io/pv: ") {
			t.Errorf("%s: error %v, want one naming the plugin", name, err)
		}
		if item != nil && !strings.Contains(err.Error(), "PersistentVolumeClaim shop/broken") {
			t.Errorf("%s: error %v does not name the claim", name, err)
		}
	}
}

func TestRegistered(t *testing.T) {
	e, ok := registry.Default.Lookup(rigging.KindBackupItemAction, Name)
	if !ok {
		t.Fatal("velero.io/pv not registered")
	}
	v, err := e.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	sel, _ := v.(rigging.BackupItemAction).AppliesTo(context.Background())
	if !reflect.DeepEqual(sel.IncludedResources, []string{"persistentvolumeclaims"}) {
		t.Errorf("AppliesTo = %+v", sel)
	}
}

// TestBackupActionFieldTypes checks that each field the action reads is
// type-checked, with an error naming the field.
func TestBackupActionFieldTypes(t *testing.T) {
	a := &BackupAction{}
	tests := []struct {
		field []string
		value any
	}{
		{[]string{"status", "phase"}, int64(1)},
		{[]string{"spec", "volumeName"}, true},
		{[]string{"spec", "storageClassName"}, int64(3)},
		{[]string{"spec", "selector"}, "app=x"},
		{[]string{"spec", "selector", "matchLabels"}, []any{"a"}},
		{[]string{"metadata", "labels"}, "x"},
		{[]string{"metadata", "labels", "app"}, int64(2)},
	}
	for _, tc := range tests {
		name := strings.Join(tc.field, ".")
		t.Run(name, func(t *testing.T) {
			item := &unstructured.Unstructured{Object: map[string]any{
				"apiVersion": "v1", "kind": "PersistentVolumeClaim",
				"metadata": map[string]any{"name": "c", "namespace": "shop"},
				"spec":     map[string]any{"volumeName": "pv-1", "storageClassName": ""},
				"status":   map[string]any{"phase": "Bound"},
			}}
			set(item, tc.value, tc.field...)
			_, _, err := a.Execute(context.Background(), item, nil)
			if err == nil || !strings.Contains(err.Error(), "plugin velero.io/pv: PersistentVolumeClaim shop/c: "+name) {
				t.Errorf("error %v, want one naming the plugin, the claim and %s", err, name)
			}
		})
	}
}

// TestBackupActionNullBackupLabel: a null velero.io/backup-name label reads
// as "", as in a typed claim.
func TestBackupActionNullBackupLabel(t *testing.T) {
	for _, tc := range []struct {
		backup   *rigging.Backup
		wantKept bool
	}{
		{nil, true}, // no backup: the name is "", as the label's value
		{&rigging.Backup{ObjectMeta: metav1.ObjectMeta{Name: "b"}}, false},
	} {
		item := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "v1", "kind": "PersistentVolumeClaim",
			"metadata": map[string]any{"name": "c", "namespace": "shop", "labels": map[string]any{rigging.LabelBackupName: nil}},
			"spec":     map[string]any{"volumeName": "pv-1"},
			"status":   map[string]any{"phase": "Bound"},
		}}
		out, _, err := (&BackupAction{}).Execute(context.Background(), item, tc.backup)
		if err != nil {
			t.Fatal(err)
		}
		_, kept := out.GetLabels()[rigging.LabelBackupName]
		if kept != tc.wantKept {
			t.Errorf("backup %v: label kept %v, want %v", tc.backup, kept, tc.wantKept)
		}
	}
}

// TestBackupActionNormalizesBoundClaim: Velero returns a bound claim
// through a typed round trip, which drops fields at their zero value and
// empty collections; rigging's result is the same. An unbound claim comes
// back as it is.
func TestBackupActionNormalizesBoundClaim(t *testing.T) {
	claim := func(phase string) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "v1", "kind": "PersistentVolumeClaim",
			"metadata": map[string]any{"name": "data", "namespace": "shop", "labels": map[string]any{}},
			"spec": map[string]any{
				"accessModes": []any{}, "storageClassName": "", "volumeName": "pv-1", "volumeMode": "",
				"selector":  map[string]any{"matchLabels": map[string]any{}},
				"resources": map[string]any{"requests": map[string]any{"storage": "1Gi"}, "limits": map[string]any{}},
			},
			"status": map[string]any{"phase": phase, "conditions": []any{}},
		}}
	}
	out, _, err := (&BackupAction{}).Execute(context.Background(), claim("Bound"), &rigging.Backup{})
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":"data","namespace":"shop"},"spec":{"resources":{"requests":{"storage":"1Gi"}},"selector":{},"storageClassName":"","volumeMode":"","volumeName":"pv-1"},"status":{"phase":"Bound"}}`
	if b, _ := json.Marshal(out.Object); string(b) != want {
		t.Errorf("bound claim\n got %s\nwant %s", b, want)
	}
	unbound := claim("Pending")
	out, _, err = (&BackupAction{}).Execute(context.Background(), unbound, &rigging.Backup{})
	if err != nil {
		t.Fatal(err)
	}
	if out != unbound {
		t.Error("unbound claim not returned as it is")
	}
}

// BenchmarkBackupActionBoundClaim measures the bound-claim path, the one
// with the typed round trip.
func BenchmarkBackupActionBoundClaim(b *testing.B) {
	item := testmanifest.Find(b, actiontest.ClusterExport(b), "PersistentVolumeClaim", "shop", "data-postgres-0")
	a := &BackupAction{}
	backup := &rigging.Backup{}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := a.Execute(ctx, item, backup); err != nil {
			b.Fatal(err)
		}
	}
}
