package kube

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func TestRemoveKeys(t *testing.T) {
	tests := []struct {
		name        string
		obj, want   map[string]any
		keys        []string
		wantRemoved bool
		wantErr     string
	}{
		{"some keys", map[string]any{"m": map[string]any{"a": "1", "b": "2"}}, map[string]any{"m": map[string]any{"b": "2"}}, []string{"a", "x"}, true, ""},
		{"map left empty is removed", map[string]any{"m": map[string]any{"a": "1"}, "o": int64(1)}, map[string]any{"o": int64(1)}, []string{"a"}, true, ""},
		{"empty map kept when nothing removed", map[string]any{"m": map[string]any{}}, map[string]any{"m": map[string]any{}}, []string{"a"}, false, ""},
		{"missing", map[string]any{}, map[string]any{}, []string{"a"}, false, ""},
		{"not a map", map[string]any{"m": "x"}, map[string]any{"m": "x"}, []string{"a"}, false, "m: is string, not an object"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			removed, err := RemoveKeys(tc.obj, tc.keys, "m")
			if (err == nil) != (tc.wantErr == "") || (err != nil && err.Error() != tc.wantErr) {
				t.Fatalf("error %v, want %q", err, tc.wantErr)
			}
			if removed != tc.wantRemoved || !reflect.DeepEqual(tc.obj, tc.want) {
				t.Errorf("removed %v, obj %v; want %v, %v", removed, tc.obj, tc.wantRemoved, tc.want)
			}
		})
	}
}

func TestRemoveByNamePrefix(t *testing.T) {
	named := func(names ...string) []any {
		var l []any
		for _, n := range names {
			l = append(l, map[string]any{"name": n})
		}
		return l
	}
	tests := []struct {
		name      string
		obj, want map[string]any
		removed   int
	}{
		{"some", map[string]any{"l": named("a-token-1", "b", "a-token-2")}, map[string]any{"l": named("b")}, 2},
		{"all: field removed", map[string]any{"l": named("a-token-1")}, map[string]any{}, 1},
		{"none", map[string]any{"l": named("a-tokens", "b")}, map[string]any{"l": named("a-tokens", "b")}, 0},
		{"missing", map[string]any{}, map[string]any{}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n, err := RemoveByNamePrefix(tc.obj, "a-token-", "l")
			if err != nil || n != tc.removed || !reflect.DeepEqual(tc.obj, tc.want) {
				t.Errorf("got %d, %v, %v; want %d, %v", n, err, tc.obj, tc.removed, tc.want)
			}
		})
	}
	if _, err := RemoveByNamePrefix(map[string]any{"l": "x"}, "a", "l"); err == nil {
		t.Error("not a list: no error")
	}
}

func TestErrorsNameThePluginAndItem(t *testing.T) {
	item := &unstructured.Unstructured{Object: map[string]any{"kind": "Pod", "metadata": map[string]any{"name": "web", "namespace": "shop"}}}
	err := Errorf("velero.io/pod", item, "spec: %w", ErrNilItem)
	if err.Error() != "plugin velero.io/pod: Pod shop/web: spec: nil item" || !errors.Is(err, ErrNilItem) {
		t.Errorf("Errorf = %v", err)
	}
	var bad struct {
		Spec int `json:"spec"`
	}
	item.Object["spec"] = "x"
	if err := Decode("velero.io/pod", item, &bad); err == nil || !strings.HasPrefix(err.Error(), "plugin velero.io/pod: Pod shop/web: decode: ") {
		t.Errorf("Decode error %v", err)
	}
	if err := Decode("velero.io/pod", nil, &bad); !errors.Is(err, ErrNilItem) {
		t.Errorf("Decode(nil) = %v", err)
	}
}

func TestPodClaimNames(t *testing.T) {
	pod := &unstructured.Unstructured{Object: map[string]any{"spec": map[string]any{"volumes": []any{
		map[string]any{"name": "a", "persistentVolumeClaim": map[string]any{"claimName": "c1"}},
		map[string]any{"name": "b", "emptyDir": map[string]any{}},
		map[string]any{"name": "c", "persistentVolumeClaim": map[string]any{"claimName": "c2"}},
		map[string]any{"name": "d", "persistentVolumeClaim": map[string]any{"claimName": "c1"}},
		map[string]any{"name": "e", "persistentVolumeClaim": map[string]any{"claimName": ""}},
	}}}}
	got, err := PodClaimNames(pod)
	if err != nil || !reflect.DeepEqual(got, []string{"c1", "c2"}) {
		t.Errorf("got %v, %v", got, err)
	}
}
