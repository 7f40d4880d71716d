package csi

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	"github.com/kubernetes-csi/external-snapshotter/client/v8/clientset/versioned"
	"github.com/kubernetes-csi/external-snapshotter/client/v8/clientset/versioned/fake"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	k8stesting "k8s.io/client-go/testing"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/registry"
)

func TestVolumeSnapshotContentDeleter(t *testing.T) {
	s := loadScenario(t)
	vsc := s.find(t, "VolumeSnapshotContent", "", "snapcontent-0c41a8fe-cf4a-4a9e-a08f-5bef91d950bc")
	ours := vsc.DeepCopy()
	addLabels(ours, map[string]string{LabelBackupName: "nightly-20240314"})
	addAnnotations(ours, map[string]string{AnnotationSnapshotterSecretName: "ebs-snapshotter", AnnotationSnapshotterSecretNamespace: "kube-system"})
	noHandle := ours.DeepCopy()
	delete(noHandle.Object, "status")
	backup := &rigging.Backup{ObjectMeta: metav1.ObjectMeta{Name: "nightly-20240314", Namespace: "velero"}}
	other := &rigging.Backup{ObjectMeta: metav1.ObjectMeta{Name: "weekly-20240310", Namespace: "velero"}}

	tests := []struct {
		name    string
		item    *unstructured.Unstructured
		backup  *rigging.Backup
		calls   []string
		errText string
	}{
		{"content of the deleted backup", ours, backup, []string{"create volumesnapshotcontents", "delete volumesnapshotcontents"}, ""},
		{"content of another backup", ours, other, nil, ""},
		{"content of no backup", vsc, backup, nil, ""},
		{"no snapshot handle", noHandle, backup, nil, "VolumeSnapshotContent snapcontent-0c41a8fe-cf4a-4a9e-a08f-5bef91d950bc: no status.snapshotHandle"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := fake.NewSimpleClientset()
			var created *snapshotv1.VolumeSnapshotContent
			c.PrependReactor("create", "volumesnapshotcontents", func(a k8stesting.Action) (bool, runtimeObject, error) {
				created = a.(k8stesting.CreateAction).GetObject().(*snapshotv1.VolumeSnapshotContent).DeepCopy()
				return false, nil, nil
			})
			a := &volumeSnapshotContentDeleter{base: newBase(VolumeSnapshotContentDeleteName, nil)}
			a.clients = factory(c)
			before := tt.item.DeepCopy()
			err := a.Execute(context.Background(), &rigging.DeleteItemActionExecuteInput{Item: tt.item, Backup: tt.backup})
			if !reflect.DeepEqual(tt.item, before) {
				t.Error("Execute modified its input")
			}
			if tt.errText != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errText) {
					t.Errorf("error %v, want %q", err, tt.errText)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := verbs(c); !reflect.DeepEqual(got, tt.calls) {
				t.Fatalf("calls %v, want %v", got, tt.calls)
			}
			if tt.calls == nil {
				return
			}
			if !regexp.MustCompile(`^vsc-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(created.Name) {
				t.Errorf("temporary name %q", created.Name)
			}
			if deleted := c.Actions()[1].(k8stesting.DeleteAction).GetName(); deleted != created.Name {
				t.Errorf("deleted %s, created %s", deleted, created.Name)
			}
			sp := created.Spec
			if sp.DeletionPolicy != snapshotv1.VolumeSnapshotContentDelete || sp.Driver != "ebs.csi.aws.com" ||
				sp.Source.SnapshotHandle == nil || *sp.Source.SnapshotHandle != "snap-0c1d2e3f4a5b6c7d8" || sp.Source.VolumeHandle != nil ||
				sp.VolumeSnapshotClassName != nil ||
				sp.VolumeSnapshotRef.Namespace != "ns-719b76c3-528f-48ce-a408-bffa8fce3d0b" || sp.VolumeSnapshotRef.Name != "name-719b76c3-528f-48ce-a408-bffa8fce3d0b" {
				t.Errorf("temporary content spec %+v", sp)
			}
			if created.Annotations[AnnotationSnapshotterSecretName] != "ebs-snapshotter" || created.UID != "" || created.ResourceVersion != "" || created.Finalizers != nil {
				t.Errorf("temporary content metadata %+v", created.ObjectMeta)
			}
		})
	}
}

func TestVolumeSnapshotContentDeleterCancelledGap(t *testing.T) {
	s := loadScenario(t)
	vsc := s.find(t, "VolumeSnapshotContent", "", "snapcontent-0c41a8fe-cf4a-4a9e-a08f-5bef91d950bc")
	addLabels(vsc, map[string]string{LabelBackupName: "nightly"})
	c := fake.NewSimpleClientset()
	a := &volumeSnapshotContentDeleter{base: newBase(VolumeSnapshotContentDeleteName, nil), gap: tempContentGap}
	a.clients = factory(c)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// A cancelled context ends the gap at once; the temporary content is
	// still deleted.
	if err := a.Execute(ctx, &rigging.DeleteItemActionExecuteInput{Item: vsc, Backup: &rigging.Backup{ObjectMeta: metav1.ObjectMeta{Name: "nightly"}}}); err == nil {
		if got := verbs(c); !reflect.DeepEqual(got, []string{"create volumesnapshotcontents", "delete volumesnapshotcontents"}) {
			t.Errorf("calls %v", got)
		}
	} else if !strings.Contains(err.Error(), "create temporary") {
		t.Errorf("error %v", err)
	}
}

func TestClientFactory(t *testing.T) {
	t.Cleanup(func() { SetClientFactory(nil) })
	a := &volumeSnapshotContentRestorer{base: newBase(VolumeSnapshotContentRestorerName, nil)}

	calls := 0
	c := fake.NewSimpleClientset()
	SetClientFactory(func() (versioned.Interface, error) { calls++; return c, nil })
	for range 3 {
		got, err := a.client(context.Background(), "x")
		if err != nil || got != c {
			t.Fatalf("client = %v, %v", got, err)
		}
	}
	if calls != 1 {
		t.Errorf("factory called %d times, want 1", calls)
	}

	SetClientFactory(func() (versioned.Interface, error) { return nil, errors.New("cluster unreachable") })
	_, err := a.client(context.Background(), "VolumeSnapshotContent x")
	if !errors.Is(err, ErrNoCluster) || err.Error() != "plugin velero.io/csi-volumesnapshotcontent-restorer: VolumeSnapshotContent x: no Kubernetes cluster available for CSI snapshots: cluster unreachable" {
		t.Errorf("error %v", err)
	}

	// The default reads the kubeconfig lazily: nothing to read is an error
	// at first use...
	dir := t.TempDir()
	t.Setenv("KUBECONFIG", filepath.Join(dir, "missing"))
	t.Setenv("HOME", dir)
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	SetClientFactory(nil)
	if _, err := a.client(context.Background(), "x"); !errors.Is(err, ErrNoCluster) {
		t.Errorf("no kubeconfig: %v", err)
	}
	// ...and a kubeconfig gives a clientset without contacting the server.
	cfg := filepath.Join(dir, "config")
	if err := os.WriteFile(cfg, []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: ctx, context: {cluster: c, user: u}}]
current-context: ctx
`), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KUBECONFIG", cfg)
	if got, err := a.client(context.Background(), "x"); err != nil || got == nil {
		t.Errorf("with kubeconfig: %v, %v", got, err)
	}
}

func TestRegistered(t *testing.T) {
	want := map[rigging.Kind][]string{
		rigging.KindBackupItemActionV2:  {PVCBackupperName, VolumeSnapshotBackupperName, VolumeSnapshotContentBackupperName, VolumeSnapshotClassBackupperName},
		rigging.KindRestoreItemActionV2: {PVCRestorerName, VolumeSnapshotRestorerName, VolumeSnapshotContentRestorerName, VolumeSnapshotClassRestorerName},
		rigging.KindDeleteItemAction:    {VolumeSnapshotContentDeleteName},
	}
	resources := map[string]string{
		PVCBackupperName: "persistentvolumeclaims", PVCRestorerName: "persistentvolumeclaims",
		VolumeSnapshotBackupperName: selVolumeSnapshots, VolumeSnapshotRestorerName: selVolumeSnapshots,
		VolumeSnapshotContentBackupperName: selVolumeSnapshotContents, VolumeSnapshotContentRestorerName: selVolumeSnapshotContents, VolumeSnapshotContentDeleteName: selVolumeSnapshotContents,
		VolumeSnapshotClassBackupperName: selVolumeSnapshotClasses, VolumeSnapshotClassRestorerName: selVolumeSnapshotClasses,
	}
	for kind, names := range want {
		for _, name := range names {
			e, ok := registry.Default.Lookup(kind, rigging.Name(name))
			if !ok {
				t.Errorf("%s %s not registered", kind, name)
				continue
			}
			v, err := e.New(nil)
			if err != nil {
				t.Fatal(err)
			}
			type action interface {
				AppliesTo(context.Context) (rigging.ResourceSelector, error)
			}
			sel, _ := v.(action).AppliesTo(context.Background())
			if !reflect.DeepEqual(sel.IncludedResources, []string{resources[name]}) {
				t.Errorf("%s AppliesTo %v", name, sel.IncludedResources)
			}
			if n, ok := v.(interface{ Name() string }); ok && n.Name() != name {
				t.Errorf("%s Name() = %s", name, n.Name())
			}
		}
	}
}

// TestWithClientFactory: the context's factory comes before the action's
// and the package's, so calls with different contexts reach different
// clusters; ConfigClient builds its clientset once.
func TestWithClientFactory(t *testing.T) {
	t.Cleanup(func() { SetClientFactory(nil) })
	pkgClient, own, inCtx := fake.NewSimpleClientset(), fake.NewSimpleClientset(), fake.NewSimpleClientset()
	SetClientFactory(factory(pkgClient))
	a := &volumeSnapshotContentRestorer{base: newBase(VolumeSnapshotContentRestorerName, nil)}
	withOwn := &volumeSnapshotContentRestorer{base: newBase(VolumeSnapshotContentRestorerName, nil)}
	withOwn.clients = factory(own)
	ctx := WithClientFactory(context.Background(), factory(inCtx))
	tests := []struct {
		name   string
		action *volumeSnapshotContentRestorer
		ctx    context.Context
		want   versioned.Interface
	}{
		{"package", a, context.Background(), pkgClient},
		{"nil factory leaves the context alone", a, WithClientFactory(context.Background(), nil), pkgClient},
		{"action's own", withOwn, context.Background(), own},
		{"context over package", a, ctx, inCtx},
		{"context over action's own", withOwn, ctx, inCtx},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.action.client(tt.ctx, "x")
			if err != nil || got != tt.want {
				t.Errorf("client = %p, %v; want %p", got, err, tt.want)
			}
		})
	}

	failing := WithClientFactory(context.Background(), func() (versioned.Interface, error) { return nil, errors.New("cluster unreachable") })
	if _, err := a.client(failing, "x"); !errors.Is(err, ErrNoCluster) || !strings.Contains(err.Error(), "cluster unreachable") {
		t.Errorf("failing context factory: %v", err)
	}

	f := ConfigClient(&rest.Config{Host: "https://127.0.0.1:1"})
	first, err := f()
	if err != nil {
		t.Fatal(err)
	}
	if again, err := f(); err != nil || again != first {
		t.Errorf("ConfigClient built a second clientset: %p, %v; first %p", again, err, first)
	}
}
