package resources

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// claimPod is a pod whose volumes name claims; a claim "!" makes it one the
// test index function fails on.
func claimPod(ns, name string, claims ...string) *unstructured.Unstructured {
	vols := make([]any, 0, len(claims))
	for _, c := range claims {
		vols = append(vols, map[string]any{"name": c, "persistentVolumeClaim": map[string]any{"claimName": c}})
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Pod",
		"metadata": map[string]any{"name": name, "namespace": ns},
		"spec":     map[string]any{"volumes": vols},
	}}
}

var errUnreadable = errors.New("unreadable volumes")

// podClaims is the test index function: the claims of a pod's volumes.
func podClaims(pod *unstructured.Unstructured) ([]string, error) {
	vols, _, _ := unstructured.NestedSlice(pod.Object, "spec", "volumes")
	var out []string
	for _, v := range vols {
		c, _, _ := unstructured.NestedString(v.(map[string]any), "persistentVolumeClaim", "claimName")
		if c == "!" {
			return nil, fmt.Errorf("pod %s: %w", pod.GetName(), errUnreadable)
		}
		out = append(out, c)
	}
	return out, nil
}

func TestListByIndex(t *testing.T) { forEachIndex(t, testListByIndex) }

func testListByIndex(t *testing.T, newIndex func() testIndex) {
	ix := newIndex()
	// Added out of order: results follow the index's order.
	if err := ix.Add(
		claimPod("b", "web-1", "data"),
		claimPod("a", "web-2", "data", "logs"),
		claimPod("a", "web-1", "data", "data"), // the same claim twice: listed once
		claimPod("a", "batch", "scratch"),
		claimPod("c", "broken", "!"),
		claimPod("c", "fine", "data"),
	); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tests := []struct {
		name, namespace, value string
		want                   []string
		wantErr                error
	}{
		{"one namespace", "a", "data", []string{"a/web-1", "a/web-2"}, nil},
		{"other namespace", "b", "data", []string{"b/web-1"}, nil},
		{"second value of an object", "a", "logs", []string{"a/web-2"}, nil},
		{"no object", "a", "missing", nil, nil},
		{"empty namespace", "d", "data", nil, nil},
		{"failed object's namespace", "c", "data", nil, errUnreadable},
		{"every namespace includes the failed one", "", "data", nil, errUnreadable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ix.ListByIndex(ctx, grPods, tc.namespace, "claims", podClaims, tc.value)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("error %v, want %v", err, tc.wantErr)
			}
			if err != nil && err.Error() != "pod broken: unreadable volumes" {
				t.Errorf("error %q, want index function's own", err)
			}
			if len(got) != len(tc.want) || (len(got) > 0 && !reflect.DeepEqual(keysOf(got), tc.want)) {
				t.Errorf("got %v, want %v", keysOf(got), tc.want)
			}
			// The same answer as List filtered through the function,
			// when that succeeds.
			if tc.wantErr == nil {
				all, _ := ix.List(ctx, grPods, tc.namespace)
				var scanned []string
				for _, p := range all {
					if cs, _ := podClaims(p); slices.Contains(cs, tc.value) {
						scanned = append(scanned, p.GetNamespace()+"/"+p.GetName())
					}
				}
				if !reflect.DeepEqual(scanned, tc.want) {
					t.Errorf("List scanned gives %v, test wants %v", scanned, tc.want)
				}
			}
		})
	}

	t.Run("built once, rebuilt after Add", func(t *testing.T) {
		var calls atomic.Int32
		counting := func(o *unstructured.Unstructured) ([]string, error) { calls.Add(1); return podClaims(o) }
		for range 3 {
			if _, err := ix.ListByIndex(ctx, grPods, "a", "counted", counting, "data"); err != nil {
				t.Fatal(err)
			}
		}
		if n := calls.Load(); n != 6 {
			t.Errorf("index function called %d times for 6 pods and 3 lists, want 6", n)
		}
		if err := ix.Add(claimPod("a", "web-0", "data")); err != nil {
			t.Fatal(err)
		}
		got, err := ix.ListByIndex(ctx, grPods, "a", "counted", counting, "data")
		if err != nil || !reflect.DeepEqual(keysOf(got), []string{"a/web-0", "a/web-1", "a/web-2"}) {
			t.Errorf("after Add: %v, %v", keysOf(got), err)
		}
		if n := calls.Load(); n != 13 {
			t.Errorf("index function called %d times, want 13 (rebuilt once for 7 pods)", n)
		}
	})

	t.Run("the result is the caller's", func(t *testing.T) {
		got, _ := ix.ListByIndex(ctx, grPods, "a", "claims", podClaims, "data")
		got[0] = nil
		again, _ := ix.ListByIndex(ctx, grPods, "a", "claims", podClaims, "data")
		if again[0] == nil {
			t.Error("modifying a result changed the index")
		}
	})

	t.Run("cancelled context", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := ix.ListByIndex(cctx, grPods, "a", "claims", podClaims, "data"); !errors.Is(err, context.Canceled) {
			t.Errorf("error %v, want context.Canceled", err)
		}
	})
}

// TestListByIndexConcurrent runs lists and adds together (for -race): every
// answer holds at least the pods added before the lists started.
func TestListByIndexConcurrent(t *testing.T) { forEachIndex(t, testListByIndexConcurrent) }

func testListByIndexConcurrent(t *testing.T, newIndex func() testIndex) {
	ix := newIndex()
	if err := ix.Add(claimPod("a", "p0", "data")); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				if g == 0 {
					if err := ix.Add(claimPod("a", fmt.Sprintf("p%d", i+1), "data")); err != nil {
						t.Error(err)
					}
					continue
				}
				got, err := ix.ListByIndex(ctx, grPods, "a", "claims", podClaims, "data")
				if err != nil || len(got) == 0 || got[0].GetName() != "p0" {
					t.Errorf("list: %v, %v", keysOf(got), err)
				}
			}
		}()
	}
	wg.Wait()
	got, err := ix.ListByIndex(ctx, grPods, "a", "claims", podClaims, "data")
	if err != nil || len(got) != 51 {
		t.Errorf("after the adds: %d pods, %v; want 51", len(got), err)
	}
}
