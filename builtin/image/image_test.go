package image

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

// images lists "field=image" for every container the action looks at.
func images(t *testing.T, obj *unstructured.Unstructured) []string {
	t.Helper()
	spec := []string{"spec", "template", "spec"}
	switch obj.GetKind() {
	case "Pod":
		spec = []string{"spec"}
	case "CronJob":
		spec = []string{"spec", "jobTemplate", "spec", "template", "spec"}
	}
	var out []string
	for _, f := range []string{"initContainers", "containers"} {
		list, _, err := unstructured.NestedSlice(obj.Object, append(spec, f)...)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range list {
			out = append(out, f+"="+c.(map[string]any)["image"].(string))
		}
	}
	return out
}

func TestExecute(t *testing.T) {
	shop := actiontest.ClusterExport(t)
	cockroach := testmanifest.LoadOne(t, "testdata/cockroachdb-statefulset.yaml", "StatefulSet", "", "cockroachdb")
	mongo := testmanifest.LoadOne(t, "testdata/mongo-pod.json", "Pod", "", "mongo")
	guestbook := testmanifest.Load(t, "testdata/guestbook-all-in-one.yaml")
	descheduler := testmanifest.LoadOne(t, "testdata/cronjob.yaml", "CronJob", "kube-system", "descheduler-cronjob")

	registryMove := map[string]string{"case1": "registry.example.com,mirror.internal:5000"}
	tests := []struct {
		name   string
		config map[string]string
		item   *unstructured.Unstructured
		before []string
		want   []string
	}{
		{"deployment: registry moved", registryMove, testmanifest.Find(t, shop, "Deployment", "shop", "storefront"),
			[]string{"containers=registry.example.com/shop/storefront:2.14.1"},
			[]string{"containers=mirror.internal:5000/shop/storefront:2.14.1"}},
		{"pod: spec.containers", registryMove, testmanifest.Find(t, shop, "Pod", "shop", "db-migrate-v42-9xw4k"),
			[]string{"containers=registry.example.com/shop/migrate:v42"},
			[]string{"containers=mirror.internal:5000/shop/migrate:v42"}},
		{"cronjob (batch/v1beta1): job template", registryMove, testmanifest.Find(t, shop, "CronJob", "shop", "orders-report"),
			[]string{"containers=registry.example.com/shop/orders-report:1.3.0"},
			[]string{"containers=mirror.internal:5000/shop/orders-report:1.3.0"}},
		{"job", registryMove, testmanifest.Find(t, shop, "Job", "shop", "db-migrate-v42"),
			[]string{"containers=registry.example.com/shop/migrate:v42"},
			[]string{"containers=mirror.internal:5000/shop/migrate:v42"}},
		{"replicaset", registryMove, testmanifest.Find(t, shop, "ReplicaSet", "shop", "storefront-85b7c9f5d4"),
			[]string{"containers=registry.example.com/shop/storefront:2.14.0"},
			[]string{"containers=mirror.internal:5000/shop/storefront:2.14.0"}},
		{"statefulset: init container and container", map[string]string{"case1": " cockroachdb/ , registry.internal/cockroachdb/ "}, cockroach,
			[]string{"initContainers=cockroachdb/cockroach-k8s-init:0.2", "containers=cockroachdb/cockroach:v1.1.0"},
			[]string{"initContainers=registry.internal/cockroachdb/cockroach-k8s-init:0.2", "containers=registry.internal/cockroachdb/cockroach:v1.1.0"}},
		{"tag-only rule", map[string]string{"case3": "postgres:13.2,postgres:13.14"}, testmanifest.Find(t, shop, "StatefulSet", "shop", "postgres"),
			[]string{"containers=postgres:13.2"},
			[]string{"containers=postgres:13.14"}},
		{"no rule matches", registryMove, mongo,
			[]string{"containers=mongo:latest"},
			[]string{"containers=mongo:latest"}},
		{"every occurrence replaced", map[string]string{"a": "redis,valkey"}, testmanifest.Find(t, guestbook, "Deployment", "", "redis-replica"),
			[]string{"containers=gcr.io/google_samples/gb-redisslave:v1"},
			[]string{"containers=gcr.io/google_samples/gb-valkeyslave:v1"}},
		{"first rule in key order wins", map[string]string{"b": "registry.k8s.io,second.example", "a": "registry.k8s.io/descheduler,first.example/d"}, descheduler,
			[]string{"containers=registry.k8s.io/descheduler/descheduler:v0.36.0"},
			[]string{"containers=first.example/d/descheduler:v0.36.0"}},
		{"no configuration", nil, testmanifest.Find(t, shop, "Deployment", "shop", "storefront"),
			[]string{"containers=registry.example.com/shop/storefront:2.14.1"},
			[]string{"containers=registry.example.com/shop/storefront:2.14.1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := images(t, tt.item); !reflect.DeepEqual(got, tt.before) {
				t.Fatalf("test data: images = %v, want %v", got, tt.before)
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
			if got := images(t, out.UpdatedItem); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("images = %v, want %v", got, tt.want)
			}
			if tt.item.GetKind() == "Pod" {
				// status keeps what the node ran.
				a, _, _ := unstructured.NestedSlice(out.UpdatedItem.Object, "status", "containerStatuses")
				b, _, _ := unstructured.NestedSlice(before.Object, "status", "containerStatuses")
				if !reflect.DeepEqual(a, b) {
					t.Error("status changed")
				}
			}
		})
	}
}

func TestConfigure(t *testing.T) {
	tests := []struct {
		value   string
		wantErr string
	}{
		{"1.1.1.1:5000  ,  2.2.2.2:3000", ""},
		{"5000,3000", ""},
		{"a,b,c", ""},
		{"no-comma", "has no ','"},
		{" ,new", "empty old part"},
		{"old,", "empty new part"},
		{"old,   ", "empty new part"},
	}
	for _, tt := range tests {
		err := New(nil).Configure(map[string]string{"case1": tt.value})
		if tt.wantErr == "" {
			if err != nil {
				t.Errorf("%q: %v", tt.value, err)
			}
			continue
		}
		if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), `key "case1"`) {
			t.Errorf("%q: error %v, want ErrInvalidConfig mentioning %q and the key", tt.value, err, tt.wantErr)
		}
	}
	// A rule whose new part contains a comma keeps it (split at the first).
	a := New(nil)
	_ = a.Configure(map[string]string{"c": "a,b,c"})
	if a.rules[0].old != "a" || a.rules[0].new != "b,c" {
		t.Errorf("rule = %+v", a.rules[0])
	}
}

func TestExecuteBadItems(t *testing.T) {
	pod := func(containers any) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "v1", "kind": "Pod",
			"metadata": map[string]any{"name": "p", "namespace": "shop"},
			"spec":     map[string]any{"containers": containers},
		}}
	}
	tests := []struct {
		item *unstructured.Unstructured
		want string
	}{
		{pod("x"), "spec.containers: is a string, not a list"},
		{pod([]any{"x"}), "spec.containers: [0] is a string, not an object"},
		{pod([]any{map[string]any{"image": int64(3)}}), "spec.containers: [0].image is a int64, not a string"},
	}
	a := New(nil)
	_ = a.Configure(map[string]string{"c": "a,b"})
	for _, tt := range tests {
		_, err := a.Execute(context.Background(), &rigging.RestoreItemActionExecuteInput{Item: tt.item})
		if err == nil || err.Error() != "plugin velero.io/change-image-name: Pod shop/p: "+tt.want {
			t.Errorf("error = %v, want ...%s", err, tt.want)
		}
	}
}

func TestRegistered(t *testing.T) {
	e, ok := registry.Default.Lookup(rigging.KindRestoreItemAction, Name)
	if !ok {
		t.Fatal("not registered")
	}
	v, _ := e.New(nil)
	if _, ok := v.(rigging.Configurable); !ok {
		t.Error("not Configurable")
	}
}
