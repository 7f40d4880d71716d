package pod

import (
	"context"
	"encoding/json"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/builtin/internal/actiontest"
	"github.com/rigging-dev/rigging/builtin/internal/kube"
	"github.com/rigging-dev/rigging/builtin/internal/testmanifest"
	"github.com/rigging-dev/rigging/registry"
)

func twoClaimPod(t *testing.T) *unstructured.Unstructured { return twoClaimPodTB(t) }

func twoClaimPodTB(t testing.TB) *unstructured.Unstructured {
	t.Helper()
	objs := testmanifest.Load(t, filepath.Join("testdata", "pod-two-claims.yaml"))
	if len(objs) != 1 {
		t.Fatalf("pod-two-claims.yaml holds %d objects, want 1", len(objs))
	}
	return objs[0]
}

func claim(ns, name string) rigging.ResourceIdentifier { return kube.ClaimIdentifier(ns, name) }

func priorityClass(name string) rigging.ResourceIdentifier {
	return rigging.ResourceIdentifier{GroupResource: kube.PriorityClasses, Name: name}
}

// relatedCases are the pods of the scenario and what the backup-side
// actions relate them to (cluster-export/README.md, "Claims and volumes" and
// "Workloads and pods").
func relatedCases(t *testing.T) []struct {
	name string
	pod  *unstructured.Unstructured
	want []rigging.ResourceIdentifier
} {
	objs := actiontest.ClusterExport(t)
	pod := func(ns, name string) *unstructured.Unstructured { return testmanifest.Find(t, objs, "Pod", ns, name) }
	return []struct {
		name string
		pod  *unstructured.Unstructured
		want []rigging.ResourceIdentifier
	}{
		{"two claims, priority class, duplicate volume", twoClaimPod(t),
			[]rigging.ResourceIdentifier{priorityClass("shop-critical"), claim("shop", "data-postgres-0"), claim("shop", "shop-assets")}},
		{"statefulset pod with priority class", pod("shop", "postgres-0"),
			[]rigging.ResourceIdentifier{priorityClass("shop-critical"), claim("shop", "data-postgres-0")}},
		{"shared RWX claim", pod("shop", "storefront-6d4cf56db6-2jxkq"), []rigging.ResourceIdentifier{claim("shop", "shop-assets")}},
		{"json list item", pod("monitoring", "grafana-6f7c9d8b4-pz6wx"), []rigging.ResourceIdentifier{claim("monitoring", "grafana-storage")}},
		{"priority class, no claim", pod("kube-system", "coredns-5c5677bc78-4xk2p"), []rigging.ResourceIdentifier{priorityClass("system-cluster-critical")}},
		{"no claim, no priority class", pod("shop", "db-migrate-v42-9xw4k"), nil},
		{"no spec", &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Pod", "metadata": map[string]any{"name": "bare", "namespace": "x"}}}, nil},
	}
}

// TestBackupActionExecute checks each case's output and that the input is
// left alone, as PreservesInput promises.
func TestBackupActionExecute(t *testing.T) {
	if !(&BackupAction{}).PreservesInput() {
		t.Error("PreservesInput() = false")
	}
	a := &BackupAction{}
	for _, tc := range relatedCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			before := tc.pod.DeepCopy()
			got, extra, err := a.Execute(context.Background(), tc.pod, &rigging.Backup{})
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.pod {
				t.Error("Execute did not return the item itself")
			}
			if !reflect.DeepEqual(tc.pod.Object, before.Object) {
				t.Error("Execute modified its input")
			}
			if !reflect.DeepEqual(extra, tc.want) {
				t.Errorf("additional items\n got %v\nwant %v", extra, tc.want)
			}
		})
	}
}

func TestItemBlockActionGetRelatedItems(t *testing.T) {
	a := &ItemBlockAction{}
	if a.Name() != "velero.io/pod" {
		t.Errorf("Name() = %q", a.Name())
	}
	for _, tc := range relatedCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			got, err := a.GetRelatedItems(context.Background(), tc.pod, &rigging.Backup{})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("related items\n got %v\nwant %v", got, tc.want)
			}
		})
	}
}

func TestAddPVCFromPodAction(t *testing.T) {
	a := &AddPVCFromPodAction{}
	for _, tc := range relatedCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			out, err := a.Execute(context.Background(), &rigging.RestoreItemActionExecuteInput{Item: tc.pod, ItemFromBackup: tc.pod, Restore: &rigging.Restore{}})
			if err != nil {
				t.Fatal(err)
			}
			if out.UpdatedItem != tc.pod {
				t.Error("UpdatedItem is not the input item")
			}
			var want []rigging.ResourceIdentifier
			for _, id := range tc.want {
				if id.GroupResource == kube.PersistentVolumeClaims {
					want = append(want, id)
				}
			}
			if !reflect.DeepEqual(out.AdditionalItems, want) {
				t.Errorf("additional items\n got %v\nwant %v", out.AdditionalItems, want)
			}
		})
	}
}

func TestBadItems(t *testing.T) {
	bad := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Pod",
		"metadata": map[string]any{"name": "broken", "namespace": "shop"},
		"spec":     map[string]any{"volumes": "not-a-list", "serviceAccountName": int64(3)},
	}}
	ctx := context.Background()
	in := &rigging.RestoreItemActionExecuteInput{Item: bad, ItemFromBackup: bad}
	for name, call := range map[string]func() error{
		"backup":    func() error { _, _, err := (&BackupAction{}).Execute(ctx, bad, nil); return err },
		"itemblock": func() error { _, err := (&ItemBlockAction{}).GetRelatedItems(ctx, bad, nil); return err },
		"restore":   func() error { _, err := (&RestoreAction{}).Execute(ctx, in); return err },
		"add-pvc":   func() error { _, err := (&AddPVCFromPodAction{}).Execute(ctx, in); return err },
		"nil item":  func() error { _, _, err := (&BackupAction{}).Execute(ctx, nil, nil); return err },
	} {
		err := call()
		if err == nil {
			t.Errorf("%s: no error", name)
			continue
		}
		if !strings.HasPrefix(err.Error(), "plugin velero.io/") || (name != "nil item" && !strings.Contains(err.Error(), "Pod shop/broken")) {
			t.Errorf("%s: error %q does not name the plugin and the pod", name, err)
		}
	}
}

func TestRestoreAction(t *testing.T) {
	objs := actiontest.ClusterExport(t)
	tests := []struct {
		name          string
		pod           *unstructured.Unstructured
		wantVolumes   []string
		wantMounts    map[string][]string // container name -> mount names
		wantAdditions []rigging.ResourceIdentifier
	}{
		{
			name:          "token volume in container and init container",
			pod:           twoClaimPod(t),
			wantVolumes:   []string{"pgdata", "assets", "pgdata-again"},
			wantMounts:    map[string][]string{"report-builder": {"pgdata", "assets"}, "wait-for-db": nil},
			wantAdditions: []rigging.ResourceIdentifier{priorityClass("shop-critical")},
		},
		{
			name:          "statefulset pod",
			pod:           testmanifest.Find(t, objs, "Pod", "shop", "postgres-0"),
			wantVolumes:   []string{"data", "init"},
			wantMounts:    map[string][]string{"postgres": {"data", "init"}},
			wantAdditions: []rigging.ResourceIdentifier{priorityClass("shop-critical")},
		},
		{
			name:        "hostPath volumes kept",
			pod:         testmanifest.Find(t, objs, "Pod", "kube-system", "ebs-csi-node-8hzrk"),
			wantVolumes: nil, // filled below from the input minus the token
			wantAdditions: []rigging.ResourceIdentifier{
				priorityClass("system-node-critical"),
			},
		},
		{
			name:        "no priority class",
			pod:         testmanifest.Find(t, objs, "Pod", "shop", "redis-7f9c8b6d5-k4rjc"),
			wantVolumes: []string{"data"},
			wantMounts:  map[string][]string{"redis": {"data"}},
		},
	}
	a := &RestoreAction{}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var in corev1.Pod
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(tc.pod.Object, &in); err != nil {
				t.Fatal(err)
			}
			if in.Spec.NodeName == "" {
				t.Fatal("test pod has no nodeName")
			}
			token := in.Spec.ServiceAccountName + "-token-"
			if tc.wantVolumes == nil {
				for _, v := range in.Spec.Volumes {
					if !strings.HasPrefix(v.Name, token) {
						tc.wantVolumes = append(tc.wantVolumes, v.Name)
					}
				}
			}
			before := tc.pod.DeepCopy()
			out, err := a.Execute(context.Background(), &rigging.RestoreItemActionExecuteInput{Item: tc.pod, ItemFromBackup: before, Restore: &rigging.Restore{}})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(tc.pod.Object, before.Object) {
				t.Error("Execute modified its input")
			}
			var got corev1.Pod
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(out.UpdatedItem.Object, &got); err != nil {
				t.Fatal(err)
			}
			if got.Spec.NodeName != "" || got.Spec.Priority != nil {
				t.Errorf("nodeName %q, priority %v: want both cleared", got.Spec.NodeName, got.Spec.Priority)
			}
			if got.Spec.PriorityClassName != in.Spec.PriorityClassName || got.Spec.ServiceAccountName != in.Spec.ServiceAccountName {
				t.Error("priorityClassName or serviceAccountName changed")
			}
			var vols []string
			for _, v := range got.Spec.Volumes {
				vols = append(vols, v.Name)
			}
			if !reflect.DeepEqual(vols, tc.wantVolumes) {
				t.Errorf("volumes %v, want %v", vols, tc.wantVolumes)
			}
			for _, c := range append(got.Spec.InitContainers, got.Spec.Containers...) {
				var mounts []string
				for _, m := range c.VolumeMounts {
					if strings.HasPrefix(m.Name, token) {
						t.Errorf("container %s still mounts %s", c.Name, m.Name)
					}
					mounts = append(mounts, m.Name)
				}
				if want, ok := tc.wantMounts[c.Name]; ok && !reflect.DeepEqual(mounts, want) {
					t.Errorf("container %s mounts %v, want %v", c.Name, mounts, want)
				}
			}
			if _, found := out.UpdatedItem.Object["status"]; !found {
				t.Error("status dropped: the action must leave other fields alone")
			}
			if !reflect.DeepEqual(out.AdditionalItems, tc.wantAdditions) {
				t.Errorf("additional items %v, want %v", out.AdditionalItems, tc.wantAdditions)
			}
		})
	}
}

func TestRegistered(t *testing.T) {
	for _, tc := range []struct {
		kind rigging.Kind
		name string
	}{
		{rigging.KindBackupItemAction, Name},
		{rigging.KindItemBlockAction, Name},
		{rigging.KindRestoreItemAction, Name},
		{rigging.KindRestoreItemAction, AddPVCFromPodName},
	} {
		e, ok := registry.Default.Lookup(tc.kind, rigging.Name(tc.name))
		if !ok {
			t.Errorf("%s %s not registered", tc.kind, tc.name)
			continue
		}
		v, err := e.New(nil)
		if err != nil {
			t.Fatal(err)
		}
		sel, err := v.(interface {
			AppliesTo(context.Context) (rigging.ResourceSelector, error)
		}).AppliesTo(context.Background())
		if err != nil || !reflect.DeepEqual(sel, rigging.ResourceSelector{IncludedResources: []string{"pods"}}) {
			t.Errorf("%s %s AppliesTo = %+v, %v", tc.kind, tc.name, sel, err)
		}
	}
}

// TestRestoreActionNormalizes: Velero's action converts the pod to a typed
// Pod and back, which drops fields at their zero value; rigging's result
// is the same (a claim volume's readOnly: false, a volumes list the token
// volume leaves empty, an empty container list of mounts).
func TestRestoreActionNormalizes(t *testing.T) {
	pod := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Pod",
		"metadata": map[string]any{"name": "web", "namespace": "shop"},
		"spec": map[string]any{
			"serviceAccountName": "web",
			"nodeName":           "node-1",
			"volumes": []any{
				map[string]any{"name": "data", "persistentVolumeClaim": map[string]any{"claimName": "data", "readOnly": false}},
				map[string]any{"name": "web-token-abcde", "secret": map[string]any{"secretName": "web-token-abcde"}},
			},
			"containers": []any{map[string]any{
				"name": "web", "image": "nginx", "stdin": false, "ports": []any{},
				"volumeMounts": []any{
					map[string]any{"name": "data", "mountPath": "/data", "readOnly": false},
					map[string]any{"name": "web-token-abcde", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"},
				},
			}},
		},
	}}
	onlyToken := pod.DeepCopy()
	_ = unstructured.SetNestedSlice(onlyToken.Object, []any{map[string]any{"name": "web-token-abcde", "secret": map[string]any{"secretName": "web-token-abcde"}}}, "spec", "volumes")
	_ = unstructured.SetNestedSlice(onlyToken.Object, []any{map[string]any{"name": "web", "image": "nginx",
		"volumeMounts": []any{map[string]any{"name": "web-token-abcde", "mountPath": "/t"}}}}, "spec", "containers")
	emptyVolumes := onlyToken.DeepCopy()
	_ = unstructured.SetNestedSlice(emptyVolumes.Object, []any{}, "spec", "volumes")
	tests := []struct {
		name string
		pod  *unstructured.Unstructured
		want string // spec as JSON
	}{
		{"explicit empty volumes", emptyVolumes,
			`{"containers":[{"image":"nginx","name":"web","resources":{}}],"serviceAccountName":"web"}`},
		{"readOnly false and empty lists", pod,
			`{"containers":[{"image":"nginx","name":"web","resources":{},"volumeMounts":[{"mountPath":"/data","name":"data"}]}],"serviceAccountName":"web","volumes":[{"name":"data","persistentVolumeClaim":{"claimName":"data"}}]}`},
		{"volumes emptied by the token", onlyToken,
			`{"containers":[{"image":"nginx","name":"web","resources":{}}],"serviceAccountName":"web"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := (&RestoreAction{}).Execute(context.Background(), &rigging.RestoreItemActionExecuteInput{Item: tc.pod, ItemFromBackup: tc.pod, Restore: &rigging.Restore{}})
			if err != nil {
				t.Fatal(err)
			}
			b, err := json.Marshal(out.UpdatedItem.Object["spec"])
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tc.want {
				t.Errorf("spec\n got %s\nwant %s", b, tc.want)
			}
		})
	}
}
