package csi

import (
	"context"
	"sync"
	"testing"

	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	"github.com/kubernetes-csi/external-snapshotter/client/v8/clientset/versioned"
	"github.com/kubernetes-csi/external-snapshotter/client/v8/clientset/versioned/fake"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/builtin/internal/actiontest"
	"github.com/rigging-dev/rigging/builtin/internal/testmanifest"
	"github.com/rigging-dev/rigging/registry"
)

// scenario is the cluster-export objects plus the external-snapshotter
// examples.
type scenario struct {
	objs []*unstructured.Unstructured
}

var (
	scenarioOnce   sync.Once
	sharedScenario *scenario
)

// loadScenario loads the objects once per test binary; find and ctx hand
// out copies, so tests cannot disturb each other.
func loadScenario(t testing.TB) *scenario {
	t.Helper()
	scenarioOnce.Do(func() {
		s := &scenario{objs: actiontest.ClusterExport(t)}
		for _, f := range []string{"pvc.yaml", "restore.yaml", "snapshot-v1.yaml", "snapshotclass-v1.yaml", "storageclass.yaml"} {
			s.objs = append(s.objs, testmanifest.Load(t, "testdata/"+f)...)
		}
		sharedScenario = s
	})
	if sharedScenario == nil {
		t.Fatal("scenario failed to load")
	}
	return sharedScenario
}

func (s *scenario) find(t testing.TB, kind, ns, name string) *unstructured.Unstructured {
	t.Helper()
	return testmanifest.Find(t, s.objs, kind, ns, name)
}

// ctx carries a Lookup over the scenario plus extra objects.
func (s *scenario) ctx(extra ...*unstructured.Unstructured) context.Context {
	return actiontest.Context(append(append([]*unstructured.Unstructured{}, s.objs...), extra...)...)
}

// typed converts u into a new T.
func typed[T any](t testing.TB, u *unstructured.Unstructured) *T {
	t.Helper()
	out := new(T)
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, out); err != nil {
		t.Fatalf("decode %s %s: %v", u.GetKind(), u.GetName(), err)
	}
	return out
}

// newFake returns a fake snapshot clientset holding objs that, like an API
// server, fills in the name of a VolumeSnapshot created with generateName.
func newFake(objs ...runtime.Object) *fake.Clientset {
	c := fake.NewSimpleClientset(objs...)
	var mu sync.Mutex
	n := 0
	c.PrependReactor("create", "volumesnapshots", func(a k8stesting.Action) (bool, runtime.Object, error) {
		vs := a.(k8stesting.CreateAction).GetObject().(*snapshotv1.VolumeSnapshot)
		if vs.Name == "" && vs.GenerateName != "" {
			mu.Lock()
			n++
			vs.Name = vs.GenerateName + string(rune('a'+n-1)) + "x7k2q"
			mu.Unlock()
		}
		return false, nil, nil
	})
	return c
}

func factory(c versioned.Interface) ClientFactory {
	return func() (versioned.Interface, error) { return c, nil }
}

// verbs lists the fake's recorded actions as "verb resource".
func verbs(c *fake.Clientset) []string {
	var out []string
	for _, a := range c.Actions() {
		out = append(out, a.GetVerb()+" "+a.GetResource().Resource)
	}
	return out
}

// newSecretRefAction builds a registered secret-reference backupper through
// the registry's factory, as a host would.
func newSecretRefAction(t *testing.T, name string) rigging.BackupItemActionV2 {
	t.Helper()
	e, ok := registry.Default.Lookup(rigging.KindBackupItemActionV2, rigging.Name(name))
	if !ok {
		t.Fatalf("%s not registered", name)
	}
	v, err := e.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return v.(rigging.BackupItemActionV2)
}

func runtimeToUnstructured(obj any) (map[string]any, error) {
	return runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
}

type runtimeObject = runtime.Object
