package testcluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/rigging-dev/rigging/manifest"
)

func TestMain(m *testing.M) {
	os.Exit(Main(m, Options{Seed: []string{ClusterExport}}))
}

// TestStartWithoutBinaries: a directory without the binaries is
// ErrNoBinaries naming the missing file, and nothing is started or left.
func TestStartWithoutBinaries(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name  string
		files []string
		want  string
	}{
		{"empty", nil, filepath.Join(dir, "empty", "kube-apiserver")},
		{"no etcd", []string{"kube-apiserver"}, filepath.Join(dir, "no etcd", "etcd")},
		{"not executable", []string{"kube-apiserver", "etcd:0644"}, filepath.Join(dir, "not executable", "etcd")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := filepath.Join(dir, tt.name)
			if err := os.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
			for _, f := range tt.files {
				mode := os.FileMode(0o755)
				if name, ok := strings.CutSuffix(f, ":0644"); ok {
					f, mode = name, 0o644
				}
				if err := os.WriteFile(filepath.Join(d, f), []byte("#!/bin/sh\n"), mode); err != nil {
					t.Fatal(err)
				}
			}
			c, err := Start(context.Background(), Config{BinDir: d})
			if !errors.Is(err, ErrNoBinaries) {
				t.Fatalf("Start = %v, %v; want ErrNoBinaries", c, err)
			}
			if got := err.Error(); !strings.HasPrefix(got, tt.want) {
				t.Errorf("error %q does not start with %q", got, tt.want)
			}
		})
	}
}

// TestSkipOrFail: without binaries a cluster test skips with the way to get
// them, except under CI where it fails; any other start error fails.
func TestSkipOrFail(t *testing.T) {
	other := errors.New("etcd did not start")
	tests := []struct {
		name     string
		err      error
		ci       string
		wantSkip bool
		wantFail bool
	}{
		{"no binaries", ErrNoBinaries, "", true, false},
		{"no binaries, CI=false", ErrNoBinaries, "false", true, false},
		{"no binaries under CI", ErrNoBinaries, "true", false, true},
		{"start failed", other, "", false, true},
		{"start failed under CI", other, "true", false, true},
		{"running", nil, "true", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			skip, fail, msg := decide(tt.err, tt.ci)
			if skip != tt.wantSkip || fail != tt.wantFail {
				t.Fatalf("decide = skip %v fail %v; want %v %v", skip, fail, tt.wantSkip, tt.wantFail)
			}
			if errors.Is(tt.err, ErrNoBinaries) && !(strings.Contains(msg, "make testcluster") && strings.Contains(msg, BinDirEnv)) {
				t.Errorf("message %q does not say how to get the binaries", msg)
			}
		})
	}
}

// TestSeededClusterExport: every object of cluster-export is in the API
// server after seeding, with the status a controller would have set, the
// snapshot CRDs serve, Services keep their cluster IPs, and the kubeconfig
// reaches the server as the admin.
func TestSeededClusterExport(t *testing.T) {
	c := Get(t)
	ctx := context.Background()
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	objs, err := manifest.Load(filepath.Join(root, ClusterExport))
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(c.Config())
	if err != nil {
		t.Fatal(err)
	}
	mapper, err := newMapper(c.Config())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range objs {
		gvk := want.GroupVersionKind()
		m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if meta.IsNoMatchError(err) { // an old version: in today's
			m, err = mapper.RESTMapping(gvk.GroupKind())
		}
		if err != nil {
			t.Errorf("%s %s: %v", gvk, objectName(want), err)
			continue
		}
		ri := dyn.Resource(m.Resource)
		var got *unstructured.Unstructured
		if m.Scope.Name() == meta.RESTScopeNameNamespace {
			got, err = ri.Namespace(want.GetNamespace()).Get(ctx, want.GetName(), metav1.GetOptions{})
		} else {
			got, err = ri.Get(ctx, want.GetName(), metav1.GetOptions{})
		}
		if err != nil {
			t.Errorf("%s %s: %v", gvk.Kind, objectName(want), err)
			continue
		}
		if got.GetUID() == want.GetUID() {
			t.Errorf("%s %s: uid %s kept; the server assigns its own", gvk.Kind, objectName(want), got.GetUID())
		}
		for k, v := range want.GetLabels() {
			if got.GetLabels()[k] != v {
				t.Errorf("%s %s: label %s = %q, want %q", gvk.Kind, objectName(want), k, got.GetLabels()[k], v)
			}
		}
	}

	tests := []struct {
		gvr             schema.GroupVersionResource
		namespace, name string
		field           []string
		want            string
	}{
		{schema.GroupVersionResource{Version: "v1", Resource: "pods"}, "monitoring", "prometheus-0", []string{"status", "phase"}, "Running"},
		{schema.GroupVersionResource{Version: "v1", Resource: "pods"}, "shop", "postgres-0", []string{"spec", "nodeName"}, "ip-10-0-1-23.eu-west-1.compute.internal"},
		{schema.GroupVersionResource{Version: "v1", Resource: "persistentvolumeclaims"}, "shop", "redis-data", []string{"status", "phase"}, "Bound"},
		{schema.GroupVersionResource{Version: "v1", Resource: "persistentvolumes"}, "", "shop-assets-nfs", []string{"status", "phase"}, "Bound"},
		{schema.GroupVersionResource{Version: "v1", Resource: "services"}, "shop", "postgres", []string{"spec", "clusterIP"}, "10.100.142.9"},
		{schema.GroupVersionResource{Group: "snapshot.storage.k8s.io", Version: "v1", Resource: "volumesnapshots"}, "shop", "data-postgres-0-snap-20240313", []string{"spec", "volumeSnapshotClassName"}, "ebs-csi-snapclass"},
		{schema.GroupVersionResource{Group: "snapshot.storage.k8s.io", Version: "v1", Resource: "volumesnapshots"}, "shop", "data-postgres-0-snap-20240313", []string{"status", "readyToUse"}, "true"},
		{schema.GroupVersionResource{Group: "shop.example.com", Version: "v1", Resource: "featureflags"}, "shop", "checkout-v2", []string{"spec", "owner"}, "payments"},
		{schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}, "", "kube-system", []string{"metadata", "labels", "kubernetes.io/metadata.name"}, "kube-system"},
	}
	for _, tt := range tests {
		ri := dyn.Resource(tt.gvr)
		var got *unstructured.Unstructured
		if tt.namespace != "" {
			got, err = ri.Namespace(tt.namespace).Get(ctx, tt.name, metav1.GetOptions{})
		} else {
			got, err = ri.Get(ctx, tt.name, metav1.GetOptions{})
		}
		if err != nil {
			t.Errorf("get %s %s/%s: %v", tt.gvr, tt.namespace, tt.name, err)
			continue
		}
		v, _, _ := unstructured.NestedFieldNoCopy(got.Object, tt.field...)
		if s := fmt.Sprint(v); s != tt.want {
			t.Errorf("%s %s/%s %v = %q, want %q", tt.gvr.Resource, tt.namespace, tt.name, tt.field, s, tt.want)
		}
	}

	kcfg, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig())
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(kcfg)
	if err != nil {
		t.Fatal(err)
	}
	ns, err := cs.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatalf("list namespaces through the kubeconfig: %v", err)
	}
	names := map[string]bool{}
	for _, n := range ns.Items {
		names[n.Name] = true
	}
	for _, n := range []string{"shop", "monitoring", "kube-system"} {
		if !names[n] {
			t.Errorf("namespace %s missing; have %v", n, names)
		}
	}
}
