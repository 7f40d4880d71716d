package cli

import (
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/archive"
	"github.com/rigging-dev/rigging/internal/testcluster"
	"github.com/rigging-dev/rigging/manifest"
)

// dryRunObject is an object of a restore written to manifests (--to DIR):
// what the same restore creates in a cluster.
type dryRunObject struct {
	gvr schema.GroupVersionResource
	obj *unstructured.Unstructured
}

func (d dryRunObject) String() string {
	return d.gvr.Resource + " " + d.obj.GetNamespace() + "/" + d.obj.GetName()
}

// dryRun restores backup into DIR with args and returns its objects.
func dryRun(t *testing.T, name, backup string, args ...string) []dryRunObject {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "out")
	runOK(t, "", append([]string{"restore", "create", name, "--from-backup", backup, "--to", dir, "--no-progress"}, args...)...)
	var out []dryRunObject
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		folder, _, _ := strings.Cut(rel, string(filepath.Separator))
		_, gr, _ := strings.Cut(folder, "-") // NNN-resource.group
		objs, err := manifest.Load(path)
		if err != nil {
			return err
		}
		for _, o := range objs {
			gv, err := schema.ParseGroupVersion(o.GetAPIVersion())
			if err != nil {
				return err
			}
			out = append(out, dryRunObject{gv.WithResource(schema.ParseGroupResource(gr).Resource), o})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// contains reports where got lacks a value of want: maps key by key, lists
// of named objects by name (the API server adds some: a pod's service
// account token volume), other lists element by element; "" when got has
// all of want.
func contains(want, got any, path string) string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return path + ": not an object"
		}
		for k, v := range w {
			if d := contains(v, g[k], path+"."+k); d != "" {
				return d
			}
		}
		return ""
	case []any:
		g, ok := got.([]any)
		if !ok {
			return path + ": not a list"
		}
		named := func(l []any, name any) any {
			for _, e := range l {
				if m, ok := e.(map[string]any); ok && m["name"] == name {
					return e
				}
			}
			return nil
		}
		for i, e := range w {
			if m, ok := e.(map[string]any); ok && m["name"] != nil {
				if d := contains(e, named(g, m["name"]), fmt.Sprintf("%s[%v]", path, m["name"])); d != "" {
					return d
				}
				continue
			}
			if len(g) != len(w) {
				return fmt.Sprintf("%s: %d elements, want %d", path, len(g), len(w))
			}
			if d := contains(e, g[i], fmt.Sprintf("%s[%d]", path, i)); d != "" {
				return d
			}
		}
		return ""
	default:
		if fmt.Sprint(want) != fmt.Sprint(got) {
			return fmt.Sprintf("%s: %v, want %v", path, got, want)
		}
		return ""
	}
}

// checkRestored compares want with the cluster's object: every field but
// metadata and status is there with want's value (the API server may add
// defaults), labels (Velero's restore labels, of restore restoreName, among
// them) and annotations are want's.
func checkRestored(t *testing.T, dyn dynamic.Interface, want dryRunObject, restoreName string) {
	t.Helper()
	labels := want.obj.GetLabels()
	if want.gvr.Resource == "namespaces" {
		// The API server names a namespace in this label.
		labels["kubernetes.io/metadata.name"] = want.obj.GetName()
	} else {
		labels[rigging.LabelRestoreName] = restoreName
	}
	var ri dynamic.ResourceInterface = dyn.Resource(want.gvr)
	if ns := want.obj.GetNamespace(); ns != "" {
		ri = dyn.Resource(want.gvr).Namespace(ns)
	}
	got, err := ri.Get(context.Background(), want.obj.GetName(), metav1.GetOptions{})
	if err != nil {
		t.Errorf("%s: %v", want, err)
		return
	}
	for k, v := range want.obj.Object {
		if k == "metadata" || k == "status" {
			continue
		}
		if d := contains(v, got.Object[k], k); d != "" {
			t.Errorf("%s: %s", want, d)
		}
	}
	if fmt.Sprint(got.GetLabels()) != fmt.Sprint(labels) {
		t.Errorf("%s: labels %v, want %v", want, got.GetLabels(), labels)
	}
	if fmt.Sprint(got.GetAnnotations()) != fmt.Sprint(want.obj.GetAnnotations()) {
		t.Errorf("%s: annotations %v, want %v", want, got.GetAnnotations(), want.obj.GetAnnotations())
	}
}

// restoreFile returns restores/NAME/'s file f from the default location.
func restoreFile(t *testing.T, home, name string, f archive.RestoreFile) string {
	t.Helper()
	rf, err := os.Open(filepath.Join(home, "rigging", archive.Layout{}.RestoreKey(name, f)))
	if err != nil {
		t.Fatal(err)
	}
	defer rf.Close()
	zr, err := gzip.NewReader(rf)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func dynamicClient(t *testing.T, c *testcluster.Cluster) dynamic.Interface {
	t.Helper()
	dyn, err := dynamic.NewForConfig(c.Config())
	if err != nil {
		t.Fatal(err)
	}
	return dyn
}

// TestRestoreToClusterRoundTrip (issue 12 §5): namespaces shop and
// monitoring of the seeded cluster, backed up from it, restored with
// --to-cluster into mapped namespaces: every object is in the cluster as
// the same restore writes it to manifests (the API server's defaults
// aside), labels and annotations equal; the two Services whose node ports
// the originals hold are refused, each an error naming it, and the rest go
// on (PartiallyFailed); the claims' status is restored
// (--status-include-resources). Then, in the restored namespaces, objects deleted
// one by one come back with a restore into the same namespaces, and the
// others are skipped or warned about.
func TestRestoreToClusterRoundTrip(t *testing.T) {
	c := testcluster.Get(t)
	home := t.TempDir()
	t.Setenv("RIGGING_HOME", home)
	t.Setenv("KUBECONFIG", c.Kubeconfig())
	dyn := dynamicClient(t, c)
	runOK(t, "", "backup", "create", "rt", "--include-namespaces", "shop,monitoring", "--no-progress")
	mapping := []string{"--namespace-mappings", "shop:rt-shop,monitoring:rt-mon"}
	want := dryRun(t, "rt-dry", "rt", mapping...)

	out, errs, code := run(t, "", append([]string{"--log-level", "debug", "restore", "create", "rt-live", "--from-backup", "rt", "--to-cluster", "--no-progress", "--workers", "3",
		"--status-include-resources", "persistentvolumeclaims"}, mapping...)...)
	if code != ExitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	// The requests by verb, at debug level: creates, patches (the
	// managedFields of objects backed up from a cluster), status updates
	// (the claims').
	if !regexp.MustCompile(`msg="API requests" restore=rt-live workers=3 items=\d+ create=\d+ .*patch=\d+ update=\d+ total=\d+ "per item"=\d+\.\d\d`).MatchString(errs) {
		t.Errorf("no API requests line at debug level:\n%s", errs)
	}
	first, _, _ := strings.Cut(out, "\n")
	if w := "Restoring into the cluster of context testcluster, server " + c.Config().Host; first != w {
		t.Errorf("first line %q, want %q", first, w)
	}
	if !strings.Contains(out, "Restore rt-live of backup rt: PartiallyFailed.") || !strings.Contains(out, " 2 errors") {
		t.Errorf("summary:\n%s\n%s", out, errs)
	}
	for _, svc := range []string{"Service rt-shop/storefront:", "Service rt-shop/storefront-admin:"} {
		if !strings.Contains(errs, "error restoring "+svc) || !strings.Contains(errs, "provided port is already allocated") {
			t.Errorf("stderr does not name the refused %s\n%s", svc, errs)
		}
	}
	checked := 0
	for _, w := range want {
		switch {
		case w.gvr.Resource == "services" && strings.HasPrefix(w.obj.GetName(), "storefront"):
			continue // refused above
		case w.obj.GetNamespace() == "" && w.gvr.Resource != "namespaces":
			continue // a cluster-scoped object of the original exists (a warning)
		}
		checkRestored(t, dyn, w, "rt-live")
		checked++
	}
	if checked < 40 {
		t.Errorf("only %d objects compared", checked)
	}
	// Claims' status restored (--status-include-resources), others' not.
	claim, err := dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "persistentvolumeclaims"}).Namespace("rt-shop").Get(context.Background(), "data-postgres-0", metav1.GetOptions{})
	if phase, _, _ := unstructured.NestedString(claim.Object, "status", "phase"); err != nil || phase != "Bound" {
		t.Errorf("claim rt-shop/data-postgres-0: phase %q (%v), want Bound (restored status)", phase, err)
	}

	// Deleted one by one, restored into the same namespaces.
	runOK(t, "", "backup", "create", "rt2", "--include-namespaces", "rt-shop,rt-mon", "--no-progress")
	want2 := dryRun(t, "rt2-dry", "rt2")
	// (Not claims: without a controller, a deleted claim keeps its
	// protection finalizer and never goes.)
	victims := map[string]bool{"configmaps": true, "deployments": true, "serviceaccounts": true, "roles": true, "featureflags": true, "services": true}
	n := 0
	for _, w := range want2 {
		if !victims[w.gvr.Resource] || w.obj.GetNamespace() != "rt-shop" {
			continue
		}
		victims[w.gvr.Resource] = false
		n++
		var ri dynamic.ResourceInterface = dyn.Resource(w.gvr).Namespace("rt-shop")
		if err := ri.Delete(context.Background(), w.obj.GetName(), metav1.DeleteOptions{}); err != nil {
			t.Fatalf("delete %s: %v", w, err)
		}
		name := fmt.Sprintf("rt2-again-%d", n)
		out := runOK(t, "", "restore", "create", name, "--from-backup", "rt2", "--include-namespaces", "rt-shop", "--to-cluster", "--no-progress")
		if !strings.Contains(out, " 0 errors") {
			t.Errorf("%s: %s", name, out)
		}
		checkRestored(t, dyn, w, name)
		if list := restoreFile(t, home, name, archive.RestoreResourceList); !strings.Contains(list, `"rt-shop/`+w.obj.GetName()+`(created)"`) {
			t.Errorf("%s: resource list does not record %s created: %s", name, w, list)
		}
	}
	if n != 6 {
		t.Errorf("%d objects deleted, want 6", n)
	}
}

// TestRestoreToClusterServerGone: an API server that goes away mid-restore
// fails the restore, with its log and results (what was done, the
// failure) in restores/NAME/; a second restore with
// --existing-resource-policy update converges.
func TestRestoreToClusterServerGone(t *testing.T) {
	c := testcluster.Get(t)
	home := t.TempDir()
	t.Setenv("RIGGING_HOME", home)
	t.Setenv("KUBECONFIG", c.Kubeconfig())
	runOK(t, "", "backup", "create", "gone", "--include-namespaces", "monitoring", "--no-progress")
	mapping := []string{"--namespace-mappings", "monitoring:gone-mon"}
	var creates atomic.Int64
	_, kc := c.FaultProxy(t, func(r *http.Request, n int) (int, http.Header, string, bool) {
		if r.Method == http.MethodPost && creates.Add(1) > 8 {
			panic(http.ErrAbortHandler) // the server is gone from the 9th create on
		}
		return 0, nil, "", false
	})
	out, errs, code := run(t, "", append([]string{"restore", "create", "gone-1", "--from-backup", "gone", "--to-cluster", "--kubeconfig", kc, "--no-progress", "--workers", "2"}, mapping...)...)
	if code != ExitFailure || !strings.Contains(errs, "restore gone-1:") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	log := restoreFile(t, home, "gone-1", archive.RestoreLog)
	results := restoreFile(t, home, "gone-1", archive.RestoreResults)
	list := restoreFile(t, home, "gone-1", archive.RestoreResourceList)
	if !strings.Contains(log, `msg="restore failed"`) || !strings.Contains(results, "restore failed") || !strings.Contains(list, "(created)") {
		t.Errorf("restores/gone-1/ lacks what was done and the failure:\nlog %s\nresults %s\nlist %s", log, results, list)
	}

	out = runOK(t, "", append([]string{"restore", "create", "gone-2", "--from-backup", "gone", "--to-cluster", "--existing-resource-policy", "update", "--no-progress"}, mapping...)...)
	if !strings.Contains(out, "Restore gone-2 of backup gone: Completed.") || !strings.Contains(out, " 0 errors") {
		t.Errorf("second run:\n%s", out)
	}
	dyn := dynamicClient(t, c)
	for _, w := range dryRun(t, "gone-dry", "gone", mapping...) {
		if w.obj.GetNamespace() == "" && w.gvr.Resource != "namespaces" {
			continue
		}
		checkRestored(t, dyn, w, "gone-2")
	}
}

// TestRestoreToClusterRefusals: the target is explicit (--to or
// --to-cluster, not both); an API server that does not answer is an error
// before anything is written to the store.
func TestRestoreToClusterRefusals(t *testing.T) {
	home := t.TempDir()
	t.Setenv("RIGGING_HOME", home)
	runOK(t, "", "backup", "create", "b", "--from", clusterExportDir, "--include-namespaces", "monitoring", "--no-progress")
	ln, err := listenFree(t)
	if err != nil {
		t.Fatal(err)
	}
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kc, []byte(`apiVersion: v1
kind: Config
clusters: [{name: gone, cluster: {server: "http://`+ln+`"}}]
users: [{name: u, user: {}}]
contexts: [{name: gone, context: {cluster: gone, user: u}}]
current-context: gone
`), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"both targets", []string{"--to", t.TempDir(), "--to-cluster"}, ExitUsage, "--to and --to-cluster exclude each other"},
		{"no target", nil, ExitUsage, "--to or --to-cluster is required"},
		{"bad policy", []string{"--to-cluster", "--existing-resource-policy", "merge"}, ExitUsage, `--existing-resource-policy "merge"`},
		{"server unreachable", []string{"--to-cluster", "--kubeconfig", kc}, ExitFailure, "connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errs, code := run(t, "", append([]string{"restore", "create", "r", "--from-backup", "b", "--no-progress"}, tt.args...)...)
			if code != tt.code || !strings.Contains(errs, tt.want) {
				t.Errorf("exit %d, want %d; stderr lacks %q:\n%s\n%s", code, tt.code, tt.want, out, errs)
			}
			if _, err := os.Stat(filepath.Join(home, "rigging", "restores")); !os.IsNotExist(err) {
				t.Errorf("restores/ written: %v", err)
			}
		})
	}
}

// listenFree returns a loopback address nothing listens on.
func listenFree(t *testing.T) (string, error) {
	t.Helper()
	var lc net.ListenConfig
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := ln.Addr().String()
	return addr, ln.Close()
}
