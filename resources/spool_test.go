package resources

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/rigging-dev/rigging/internal/ujson"
)

func spoolObj(kind, ns, name string, data map[string]any) *unstructured.Unstructured {
	o := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": kind,
		"metadata": map[string]any{"name": name}}}
	if ns != "" {
		o.SetNamespace(ns)
	}
	if data != nil {
		o.Object["data"] = data
	}
	return o
}

// emptyDir fails unless dir holds no file: a spool leaves no name behind,
// whatever way its process ends.
func emptyDir(t *testing.T, dir, when string) {
	t.Helper()
	left, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 0 {
		t.Errorf("%s: %d files left in the spool's directory: %v", when, len(left), left)
	}
}

// TestSpoolSameAsMemory: objects spooled (Spool.Encode, AddEncoded) give
// the JSON, Gets and Lists the same objects kept in memory give, the
// default namespace put in either way; the spool's file has no name from
// the start; after Close every read of the file fails with ErrSpoolClosed.
// With a memory allowance (SetMemory) the objects that fit are kept in
// memory, the rest (from the first that does not fit) written to the file,
// and the answers are the same.
func TestSpoolSameAsMemory(t *testing.T) {
	for _, tc := range []struct {
		name        string
		memory      int64
		wantSpilled bool
		wantHeld    bool
	}{
		{"all in the file", 0, true, false},
		{"the first in memory", 200, true, true},
		{"all in memory", 1 << 30, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) { testSpoolSameAsMemory(t, tc.memory, tc.wantSpilled, tc.wantHeld) })
	}
}

func testSpoolSameAsMemory(t *testing.T, memory int64, wantSpilled, wantHeld bool) {
	dir := t.TempDir()
	sp, err := NewSpool(dir)
	if err != nil {
		t.Fatal(err)
	}
	sp.SetMemory(memory)
	emptyDir(t, dir, "after NewSpool")
	objs := []*unstructured.Unstructured{
		spoolObj("ConfigMap", "shop", "a", map[string]any{"k": "v"}),
		spoolObj("ConfigMap", "", "no-namespace", map[string]any{"big": string(bytes.Repeat([]byte("x"), 3*spoolBuffer))}),
		spoolObj("Namespace", "", "shop", nil),
		spoolObj("ConfigMap", "shop", "b", nil),
	}
	mem := NewJSONIndex(nil, JSONIndexOptions{DefaultNamespace: "default"})
	spooled := NewJSONIndex(nil, JSONIndexOptions{DefaultNamespace: "default"})
	var encMem, encSpool []Encoded
	for _, o := range objs {
		e, err := Encode(o)
		if err != nil {
			t.Fatal(err)
		}
		encMem = append(encMem, e)
		if e, err = sp.Encode(o); err != nil {
			t.Fatal(err)
		}
		if e.JSON != nil {
			t.Errorf("%s: spooled Encoded holds its JSON in memory", e.Name)
		}
		encSpool = append(encSpool, e)
	}
	if sp.Spilled() != wantSpilled || (sp.InMemory() > 0) != wantHeld || sp.InMemory() > memory {
		t.Errorf("spilled %v, %d bytes in memory (allowance %d); want spilled %v, some in memory %v", sp.Spilled(), sp.InMemory(), memory, wantSpilled, wantHeld)
	}
	if err := mem.AddEncoded(encMem...); err != nil {
		t.Fatal(err)
	}
	if err := spooled.AddEncoded(encSpool...); err != nil {
		t.Fatal(err)
	}
	if mem.Defaulted() != 1 || spooled.Defaulted() != 1 {
		t.Errorf("defaulted %d in memory, %d spooled, want 1", mem.Defaulted(), spooled.Defaulted())
	}
	cm := schema.GroupResource{Resource: "configmaps"}
	ctx := context.Background()
	for _, ns := range []string{"shop", "default"} {
		want, got := mem.Refs(cm, ns), spooled.Refs(cm, ns)
		if len(want) != len(got) || len(got) == 0 {
			t.Fatalf("namespace %s: %d refs spooled, %d in memory", ns, len(got), len(want))
		}
		for i := range want {
			g, err := got[i].ReadJSON()
			if err != nil {
				t.Fatal(err)
			}
			w, _ := want[i].ReadJSON()
			if !bytes.Equal(g, w) || !bytes.Equal(w, want[i].JSON()) || got[i].Size() != len(w) {
				t.Errorf("%s/%s: spooled JSON (size %d) %.200s, in memory %.200s", ns, got[i].Name, got[i].Size(), g, w)
			}
			if memory == 0 && got[i].JSON() != nil {
				t.Errorf("%s/%s: JSON() of a spooled object is not nil", ns, got[i].Name)
			}
			obj, err := spooled.Get(ctx, cm, ns, got[i].Name)
			if err != nil {
				t.Fatal(err)
			}
			if data, _ := ujson.Marshal(obj.Object); !bytes.Equal(data, w) {
				t.Errorf("%s/%s: Get of the spooled object gives %.200s", ns, got[i].Name, data)
			}
		}
	}
	emptyDir(t, dir, "after the reads")
	if err := sp.Close(); err != nil {
		t.Fatal(err)
	}
	if err := sp.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	spooled.dropCache()
	if _, err := spooled.Get(ctx, cm, "shop", "a"); memory == 0 && !errors.Is(err, ErrSpoolClosed) {
		t.Errorf("Get after Close: %v, want ErrSpoolClosed", err)
	}
	if r, _ := spooled.Ref(cm, "shop", "b"); memory == 0 {
		if _, err := r.ReadJSON(); !errors.Is(err, ErrSpoolClosed) {
			t.Errorf("ReadJSON after Close: %v, want ErrSpoolClosed", err)
		}
	}
	if _, err := sp.Encode(objs[0]); !errors.Is(err, ErrSpoolClosed) {
		t.Errorf("Encode after Close: %v, want ErrSpoolClosed", err)
	}
	emptyDir(t, dir, "after Close")
}

// TestSpoolOtherRefused: an index keeps the objects of one spool; an
// object spooled in another is refused, naming it, and the others kept.
func TestSpoolOtherRefused(t *testing.T) {
	one, err := NewSpool(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer one.Close()
	two, err := NewSpool(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer two.Close()
	a, _ := one.Encode(spoolObj("ConfigMap", "x", "a", nil))
	b, _ := two.Encode(spoolObj("ConfigMap", "x", "b", nil))
	ix := NewJSONIndex(nil, JSONIndexOptions{})
	err = ix.AddEncoded(a, b)
	if !errors.Is(err, errOtherSpool) || !bytes.Contains([]byte(err.Error()), []byte(`"b"`)) {
		t.Errorf("AddEncoded of two spools' objects: %v, want errOtherSpool naming b", err)
	}
	if ix.Len() != 1 {
		t.Errorf("%d objects indexed, want 1 (a)", ix.Len())
	}
}

// TestSpoolConcurrent: writers and readers at once (under -race) each get
// back the bytes they wrote.
func TestSpoolConcurrent(t *testing.T) {
	sp, err := NewSpool(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				want := fmt.Appendf(nil, `{"g":%d,"i":%d,"pad":%q}`, g, i, bytes.Repeat([]byte("p"), i*37))
				b, err := sp.put(want)
				if err == nil {
					var got []byte
					if got, err = sp.read(b); err == nil && !bytes.Equal(got, want) {
						err = fmt.Errorf("read %.60s, wrote %.60s", got, want)
					}
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
