package veleroserver

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
)

// notRestored are the resources Velero's restore never creates (its
// non-restorable resources that a namespace holds).
var notRestored = map[string]bool{"events": true, "events.events.k8s.io": true}

// serverSet are fields of a restored object that the API server assigns
// anew on create, by resource: they cannot equal the original's.
var serverSet = map[string][][]string{
	"services": {{"spec", "clusterIP"}, {"spec", "clusterIPs"}},
}

// nodePorts are allocated by the API server unless the restore keeps them.
func withoutNodePorts(o map[string]any) {
	ports, ok, _ := unstructured.NestedSlice(o, "spec", "ports")
	if !ok {
		return
	}
	for _, p := range ports {
		if m, ok := p.(map[string]any); ok {
			delete(m, "nodePort")
		}
	}
	_ = unstructured.SetNestedSlice(o, ports, "spec", "ports")
}

// live are fields the API server itself keeps changing (its identity
// lease in kube-system is renewed every few seconds): two reads of the
// same object at different times differ there.
var live = map[string][][]string{
	"leases.coordination.k8s.io": {{"spec", "renewTime"}},
}

// veleroLabels are the labels every restore (Velero's and rigging's) puts on
// the objects it creates.
var veleroLabels = []string{"velero.io/backup-name", "velero.io/restore-name"}

// comparable is the part of a live object the restore checks compare: its
// labels (without the restore's own), annotations and every field but
// metadata and status, without the fields the API server assigns.
func comparable(resource string, o *unstructured.Unstructured) map[string]any {
	out := map[string]any{}
	for k, v := range o.Object {
		if k != "metadata" && k != "status" {
			out[k] = v
		}
	}
	labels := o.GetLabels()
	for _, l := range veleroLabels {
		delete(labels, l)
	}
	out = runtime.DeepCopyJSON(out)
	if len(labels) > 0 {
		out["labels"] = stringMapAny(labels)
	}
	if a := o.GetAnnotations(); len(a) > 0 {
		out["annotations"] = stringMapAny(a)
	}
	for _, path := range append(serverSet[resource], live[resource]...) {
		unstructured.RemoveNestedField(out, path...)
	}
	if resource == "services" {
		withoutNodePorts(out)
	}
	return out
}

// namespacedResources lists the namespaced resources of the cluster that
// can be listed and created, in their preferred versions, keyed by
// resource.group.
func namespacedResources(t *testing.T, e *env) map[string]schema.GroupVersionResource {
	t.Helper()
	dc, err := discovery.NewDiscoveryClientForConfig(e.cluster.Config())
	if err != nil {
		t.Fatal(err)
	}
	lists, err := dc.ServerPreferredNamespacedResources()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]schema.GroupVersionResource{}
	for _, l := range lists {
		gv, err := schema.ParseGroupVersion(l.GroupVersion)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range l.APIResources {
			if strings.Contains(r.Name, "/") || !slices.Contains(r.Verbs, "list") || !slices.Contains(r.Verbs, "create") {
				continue
			}
			gvr := gv.WithResource(r.Name)
			out[gvr.GroupResource().String()] = gvr
		}
	}
	return out
}

// objects are the objects of a set of namespaces, read at one moment, by
// "resource.group NAMESPACE/NAME" where NAMESPACE is the namespace they were
// backed up from (restored copies are keyed by their original namespace).
type objects map[string]*unstructured.Unstructured

// restorable returns the namespaced resources of the cluster a restore
// creates (not events, not Velero's own), by resource.group.
func restorable(t *testing.T, e *env) map[string]schema.GroupVersionResource {
	t.Helper()
	out := namespacedResources(t, e)
	for gr := range out {
		if notRestored[gr] || strings.HasSuffix(gr, ".velero.io") {
			delete(out, gr)
		}
	}
	return out
}

// read reads every restorable object of the namespaces m maps to, keyed by
// the namespace m maps from.
func (e *env) read(t *testing.T, m map[string]string) objects {
	t.Helper()
	out := objects{}
	for gr, gvr := range restorable(t, e) {
		for src, dst := range m {
			l, err := e.dyn.Resource(gvr).Namespace(dst).List(context.Background(), metav1.ListOptions{})
			if err != nil {
				t.Fatalf("list %s in %s: %v", gr, dst, err)
			}
			for i := range l.Items {
				unmapSubjects(&l.Items[i], m)
				out[fmt.Sprintf("%s %s/%s", gr, src, l.Items[i].GetName())] = &l.Items[i]
			}
		}
	}
	return out
}

// unmapSubjects puts back the original namespaces of the subjects of a
// restored RoleBinding, which a restore maps as it maps the binding's own.
func unmapSubjects(o *unstructured.Unstructured, m map[string]string) {
	subjects, ok, _ := unstructured.NestedSlice(o.Object, "subjects")
	if !ok {
		return
	}
	for _, s := range subjects {
		sm, _ := s.(map[string]any)
		ns, _ := sm["namespace"].(string)
		for src, dst := range m {
			if ns == dst && ns != "" {
				sm["namespace"] = src
				break
			}
		}
	}
	_ = unstructured.SetNestedSlice(o.Object, subjects, "subjects")
}

// identity maps every backed-up namespace to itself.
func identity() map[string]string {
	m := map[string]string{}
	for _, ns := range namespaces {
		m[ns] = ns
	}
	return m
}

// diffObjects lists, by item, how objects b differ from objects a (both
// compared as comparable), named la and lb.
func diffObjects(a, b objects, la, lb string) []string {
	var out []string
	for _, k := range union(a, b) {
		x, y := a[k], b[k]
		gr := strings.SplitN(k, " ", 2)[0]
		switch {
		case y == nil:
			out = append(out, k+": only in "+la)
		case x == nil:
			out = append(out, k+": only in "+lb)
		default:
			if d := diff(comparable(gr, x), comparable(gr, y), la, lb); d != "" {
				out = append(out, k+": "+d)
			}
		}
	}
	return out
}

// freeNodePorts deletes every Service of the cluster that holds node
// ports. Velero keeps the node ports a Service's last-applied
// configuration names, and a node port is allocated cluster-wide: a copy
// restored next to them would be refused. What the checks compare was
// read into memory before.
func (e *env) freeNodePorts(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	svc := e.dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "services"})
	l, err := svc.List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range l.Items {
		ports, _, _ := unstructured.NestedSlice(s.Object, "spec", "ports")
		for _, p := range ports {
			if n, _ := p.(map[string]any)["nodePort"].(int64); n != 0 {
				if err := svc.Namespace(s.GetNamespace()).Delete(ctx, s.GetName(), metav1.DeleteOptions{}); err != nil {
					t.Fatalf("delete service %s/%s: %v", s.GetNamespace(), s.GetName(), err)
				}
				break
			}
		}
	}
}

// withoutPodWork removes from the pods of nss the annotations that ask a
// backup for work in a running pod (exec hooks, file-system backup of
// volumes): the test API server runs no pod and no node agent, so Velero's
// backup would fail those items, and rigging does neither.
func (e *env) withoutPodWork(t *testing.T, nss []string) {
	t.Helper()
	ctx := context.Background()
	pods := e.dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "pods"})
	for _, ns := range nss {
		l, err := pods.Namespace(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range l.Items {
			drop := map[string]any{}
			for k := range p.GetAnnotations() {
				if strings.Contains(k, "hook.backup.velero.io/") || k == "backup.velero.io/backup-volumes" {
					drop[k] = nil
				}
			}
			if len(drop) == 0 {
				continue
			}
			patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": drop}})
			if _, err := pods.Namespace(ns).Patch(ctx, p.GetName(), types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
				t.Fatalf("patch pod %s/%s: %v", ns, p.GetName(), err)
			}
		}
	}
}

// diff returns "" when a and b are equal, else the top-level keys that
// differ with both values, named la and lb.
func diff(a, b map[string]any, la, lb string) string {
	if reflect.DeepEqual(a, b) {
		return ""
	}
	var out []string
	for _, k := range union(a, b) {
		if !reflect.DeepEqual(a[k], b[k]) {
			ja, _ := json.Marshal(a[k])
			jb, _ := json.Marshal(b[k])
			out = append(out, fmt.Sprintf("%s: %s %s, %s %s", k, la, ja, lb, jb))
		}
	}
	return strings.Join(out, "; ")
}

// union returns the keys of a and b, sorted.
func union[V any](a, b map[string]V) []string {
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	return slices.Sorted(maps.Keys(keys))
}

// object returns the bytes of key in the bucket, or nil if it cannot be
// read.
func (e *env) object(t *testing.T, key string) []byte {
	t.Helper()
	out, err := e.bucket.Client().GetObject(context.Background(), &s3.GetObjectInput{Bucket: &e.bucket.Bucket, Key: &key})
	if err != nil {
		t.Logf("read %s: %v", key, err)
		return nil
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Logf("read %s: %v", key, err)
		return nil
	}
	return b
}

func gunzipString(b []byte) string {
	if b == nil {
		return "(none)"
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return err.Error()
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		return err.Error()
	}
	return string(out)
}

// serverSetMetadata are the metadata fields the API server sets, which two
// backups of the same object taken at different times may hold differently.
var serverSetMetadata = []string{"resourceVersion", "managedFields", "generation"}

// backupItems reads the items of backup name's tarball in the bucket:
// normalised bodies keyed by their path under resources/
// (resource.group/[version-dir/]namespaces/NS/NAME.json or .../cluster/NAME.json).
func (e *env) backupItems(t *testing.T, name string) map[string]map[string]any {
	t.Helper()
	key := "backups/" + name + "/" + name + ".tar.gz"
	b := e.object(t, key)
	if b == nil {
		t.Fatalf("backup %s: no %s in the bucket", name, key)
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("%s: %v", key, err)
	}
	tr := tar.NewReader(zr)
	items := map[string]map[string]any{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		path, ok := strings.CutPrefix(h.Name, "resources/")
		if !ok || h.Typeflag != tar.TypeReg {
			continue
		}
		var body map[string]any
		if err := json.NewDecoder(tr).Decode(&body); err != nil {
			t.Fatalf("%s: %s: %v", key, h.Name, err)
		}
		if md, ok := body["metadata"].(map[string]any); ok {
			for _, f := range serverSetMetadata {
				delete(md, f)
			}
		}
		for _, f := range live[strings.SplitN(path, "/", 2)[0]] {
			unstructured.RemoveNestedField(body, f...)
		}
		items[path] = body
	}
	return items
}

// diffItems lists, by item, what differs between two backups' items.
func diffItems(a, b map[string]map[string]any) []string {
	var out []string
	for _, p := range union(a, b) {
		x, inA := a[p]
		y, inB := b[p]
		switch {
		case !inA:
			out = append(out, p+": only in Velero's backup")
		case !inB:
			out = append(out, p+": only in rigging's backup")
		default:
			if d := diff(x, y, "rigging's", "Velero's"); d != "" {
				out = append(out, p+": "+d)
			}
		}
	}
	return out
}
