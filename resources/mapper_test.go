package resources

import (
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// TestManifestsMap maps every object of the shared manifests: each one must
// map to a resource once the CRDs among them are known, and the counts must
// be those the READMEs give.
func TestManifestsMap(t *testing.T) {
	all := loadManifests(t, manifestsDir)
	if n := len(objectsIn(all, "examples/")); n != 66 {
		t.Errorf("examples/: loaded %d objects, README says 66", n)
	}
	if n := len(objectsIn(all, "cluster-export/")); n != 131 {
		t.Errorf("cluster-export/: loaded %d objects, README says 131", n)
	}

	m := NewMapper()
	for _, lo := range all {
		if IsCRD(lo.obj) {
			if err := m.AddCRD(lo.obj); err != nil {
				t.Fatalf("%s: AddCRD: %v", lo.file, err)
			}
		}
	}
	for _, lo := range all {
		r, err := m.ForObject(lo.obj)
		if err != nil {
			t.Errorf("%s: %v", lo.file, err)
			continue
		}
		if r.Kind != lo.obj.GetKind() || r.Group != lo.obj.GroupVersionKind().Group || r.Version != lo.obj.GroupVersionKind().Version {
			t.Errorf("%s: %s %s mapped to %+v", lo.file, lo.obj.GetAPIVersion(), lo.obj.GetKind(), r)
		}
		if r.Plural == "" || r.Singular == "" {
			t.Errorf("%s: %s: empty names in %+v", lo.file, lo.obj.GetKind(), r)
		}
		// A namespaced object in a cluster dump always has a namespace; a
		// cluster-scoped one never does.
		if strings.HasPrefix(lo.file, "cluster-export/") && r.Namespaced != (lo.obj.GetNamespace() != "") {
			t.Errorf("%s: %s %q: namespaced=%v but namespace %q", lo.file, lo.obj.GetKind(), lo.obj.GetName(), r.Namespaced, lo.obj.GetNamespace())
		}
	}
}

// TestManifestsOddObjects pins what the odd objects of the corpus map to.
func TestManifestsOddObjects(t *testing.T) {
	all := loadManifests(t, manifestsDir)
	m := NewMapper()
	for _, lo := range all {
		if IsCRD(lo.obj) {
			if err := m.AddCRD(lo.obj); err != nil {
				t.Fatal(err)
			}
		}
	}
	find := func(file, kind, name string) *unstructured.Unstructured {
		for _, lo := range all {
			if lo.file == file && lo.obj.GetKind() == kind && lo.obj.GetName() == name {
				return lo.obj
			}
		}
		t.Fatalf("%s: no %s %q", file, kind, name)
		return nil
	}
	tests := []struct {
		file, kind, name string
		want             string // group resource
		namespaced       bool
	}{
		{"examples/kubernetes-examples/newrelic-infra-daemonset.yaml", "DaemonSet", "newrelic-infra-agent", "daemonsets.extensions", true},
		{"examples/kubernetes-examples/cockroachdb-statefulset.yaml", "PodDisruptionBudget", "cockroachdb-budget", "poddisruptionbudgets.policy", true},
		{"cluster-export/shop.yaml", "CronJob", "orders-report", "cronjobs.batch", true},
		{"examples/kubernetes-examples/prometheus-adapter.yaml", "APIService", "v1beta1.custom.metrics.k8s.io", "apiservices.apiregistration.k8s.io", false},
		{"examples/sample-controller/example-foo.yaml", "Foo", "example-foo", "foos.samplecontroller.k8s.io", true},
		{"cluster-export/shop.yaml", "FeatureFlag", "dark-mode", "featureflags.shop.example.com", true},
		{"examples/external-snapshotter/snapshot-v1.yaml", "VolumeSnapshot", "new-snapshot-demo-v1", "volumesnapshots.snapshot.storage.k8s.io", true},
		{"examples/external-snapshotter/snapshotclass-v1.yaml", "VolumeSnapshotClass", "csi-hostpath-snapclass-v1", "volumesnapshotclasses.snapshot.storage.k8s.io", false},
		{"cluster-export/cluster-scoped.yaml", "VolumeSnapshotContent", "snapcontent-0c41a8fe-cf4a-4a9e-a08f-5bef91d950bc", "volumesnapshotcontents.snapshot.storage.k8s.io", false},
		{"cluster-export/shop.yaml", "Event", "", "events", true},
		{"cluster-export/kube-system.yaml", "Endpoints", "kube-dns", "endpoints", true},
	}
	for _, tt := range tests {
		t.Run(tt.kind+"/"+tt.name, func(t *testing.T) {
			var obj *unstructured.Unstructured
			if tt.name == "" { // any object of the kind
				for _, lo := range all {
					if lo.file == tt.file && lo.obj.GetKind() == tt.kind {
						obj = lo.obj
						break
					}
				}
			} else {
				obj = find(tt.file, tt.kind, tt.name)
			}
			r, err := m.ForObject(obj)
			if err != nil {
				t.Fatal(err)
			}
			if got := r.String(); got != tt.want || r.Namespaced != tt.namespaced {
				t.Errorf("got %s namespaced=%v, want %s namespaced=%v", got, r.Namespaced, tt.want, tt.namespaced)
			}
		})
	}

	// Without its CRD a custom resource is a clear error.
	_, err := NewMapper().ForObject(find("examples/sample-controller/example-foo.yaml", "Foo", "example-foo"))
	if !errors.Is(err, ErrUnknownKind) {
		t.Fatalf("Foo without CRD: err = %v, want ErrUnknownKind", err)
	}
	for _, want := range []string{`"samplecontroller.k8s.io/v1alpha1"`, `"Foo"`, `"example-foo"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}

func TestResolve(t *testing.T) {
	m := NewMapper()
	tests := []struct {
		in   string
		want string // group resource; "" for ErrUnknownResource
	}{
		{"pods", "pods"}, {"pod", "pods"}, {"po", "pods"}, {"Pod", "pods"}, {"PODS", "pods"}, {" pods ", "pods"},
		{"deployments", "deployments.apps"}, {"deployment", "deployments.apps"}, {"deploy", "deployments.apps"},
		{"Deployment", "deployments.apps"}, {"deployments.apps", "deployments.apps"}, {"deploy.apps", "deployments.apps"},
		{"Deployment.apps", "deployments.apps"}, {"deployments.extensions", "deployments.extensions"},
		{"ds", "daemonsets.apps"}, {"rs", "replicasets.apps"}, {"sts", "statefulsets.apps"},
		{"pvc", "persistentvolumeclaims"}, {"pv", "persistentvolumes"}, {"ns", "namespaces"}, {"no", "nodes"},
		{"svc", "services"}, {"sa", "serviceaccounts"}, {"cm", "configmaps"}, {"ep", "endpoints"}, {"endpoints", "endpoints"},
		{"cs", "componentstatuses"}, {"limits", "limitranges"}, {"quota", "resourcequotas"}, {"rc", "replicationcontrollers"},
		{"bindings", "bindings"}, {"podtemplates", "podtemplates"}, {"secrets", "secrets"},
		{"events", "events"}, {"ev", "events"}, {"events.events.k8s.io", "events.events.k8s.io"}, {"ev.events.k8s.io", "events.events.k8s.io"},
		{"crd", "customresourcedefinitions.apiextensions.k8s.io"}, {"crds", "customresourcedefinitions.apiextensions.k8s.io"},
		{"apiservices", "apiservices.apiregistration.k8s.io"},
		{"hpa", "horizontalpodautoscalers.autoscaling"}, {"cj", "cronjobs.batch"}, {"jobs", "jobs.batch"}, {"job", "jobs.batch"},
		{"pdb", "poddisruptionbudgets.policy"}, {"psp", ""}, {"podsecuritypolicies.policy", "podsecuritypolicies.policy"},
		{"clusterrolebindings", "clusterrolebindings.rbac.authorization.k8s.io"}, {"Role", "roles.rbac.authorization.k8s.io"},
		{"sc", "storageclasses.storage.k8s.io"}, {"csidrivers", "csidrivers.storage.k8s.io"}, {"vac", "volumeattributesclasses.storage.k8s.io"},
		{"ing", "ingresses.networking.k8s.io"}, {"netpol", "networkpolicies.networking.k8s.io"}, {"ingressclasses", "ingressclasses.networking.k8s.io"},
		{"pc", "priorityclasses.scheduling.k8s.io"}, {"leases", "leases.coordination.k8s.io"}, {"endpointslices", "endpointslices.discovery.k8s.io"},
		{"csr", "certificatesigningrequests.certificates.k8s.io"}, {"runtimeclasses", "runtimeclasses.node.k8s.io"},
		{"flowschemas", "flowschemas.flowcontrol.apiserver.k8s.io"}, {"resourceclaims", "resourceclaims.resource.k8s.io"},
		{"mutatingwebhookconfigurations", "mutatingwebhookconfigurations.admissionregistration.k8s.io"},
		{"vs", "volumesnapshots.snapshot.storage.k8s.io"}, {"VolumeSnapshot", "volumesnapshots.snapshot.storage.k8s.io"},
		{"volumesnapshots.snapshot.storage.k8s.io", "volumesnapshots.snapshot.storage.k8s.io"},
		{"vsc", "volumesnapshotcontents.snapshot.storage.k8s.io"}, {"vscs", "volumesnapshotcontents.snapshot.storage.k8s.io"},
		{"vsclass", "volumesnapshotclasses.snapshot.storage.k8s.io"},
		{"backups", "backups.velero.io"}, {"bsl", "backupstoragelocations.velero.io"}, {"vsl", "volumesnapshotlocations.velero.io"},
		{"ssr", "serverstatusrequests.velero.io"}, {"datauploads", "datauploads.velero.io"}, {"DataDownload", "datadownloads.velero.io"},
		{"podvolumebackups.velero.io", "podvolumebackups.velero.io"}, {"backuprepositories", "backuprepositories.velero.io"},
		{"", ""}, {"nosuchthing", ""}, {"pods.apps", ""}, {"deployments.", ""}, {".apps", ""}, {"foos", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			r, err := m.Resolve(tt.in)
			if tt.want == "" {
				if !errors.Is(err, ErrUnknownResource) {
					t.Fatalf("Resolve(%q) = %v, %v; want ErrUnknownResource", tt.in, r, err)
				}
				if !strings.Contains(err.Error(), `"`+tt.in+`"`) {
					t.Errorf("error %q does not name %q", err, tt.in)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := r.String(); got != tt.want {
				t.Errorf("Resolve(%q) = %s, want %s", tt.in, got, tt.want)
			}
		})
	}
}

func TestBuiltinTableConsistent(t *testing.T) {
	seenGK := map[schema.GroupKind]bool{}
	seenGR := map[schema.GroupResource]bool{}
	for _, r := range append(append([]Resource{}, builtin...), legacy...) {
		if r.Kind == "" || r.Plural == "" || r.Version == "" || r.Plural != strings.ToLower(r.Plural) {
			t.Errorf("bad entry %+v", r)
		}
		gk := schema.GroupKind{Group: r.Group, Kind: r.Kind}
		if seenGK[gk] || seenGR[r.GroupResource()] {
			t.Errorf("duplicate entry %+v", r)
		}
		seenGK[gk], seenGR[r.GroupResource()] = true, true
	}
	// Resources lists every entry once.
	if got, want := len(NewMapper().Resources()), len(builtin)+len(legacy); got != want {
		t.Errorf("Resources() has %d entries, want %d", got, want)
	}
}

func TestForGVK(t *testing.T) {
	m := NewMapper()
	tests := []struct {
		gvk        schema.GroupVersionKind
		want       string
		version    string
		namespaced bool
		err        error
	}{
		{gvk: schema.GroupVersionKind{Version: "v1", Kind: "Pod"}, want: "pods", version: "v1", namespaced: true},
		{gvk: schema.GroupVersionKind{Kind: "Pod"}, want: "pods", version: "v1", namespaced: true},
		{gvk: schema.GroupVersionKind{Version: "v1", Kind: "PersistentVolume"}, want: "persistentvolumes", version: "v1"},
		{gvk: schema.GroupVersionKind{Group: "batch", Version: "v1beta1", Kind: "CronJob"}, want: "cronjobs.batch", version: "v1beta1", namespaced: true},
		{gvk: schema.GroupVersionKind{Group: "autoscaling", Version: "v1", Kind: "HorizontalPodAutoscaler"}, want: "horizontalpodautoscalers.autoscaling", version: "v1", namespaced: true},
		{gvk: schema.GroupVersionKind{Group: "events.k8s.io", Version: "v1", Kind: "Event"}, want: "events.events.k8s.io", version: "v1", namespaced: true},
		{gvk: schema.GroupVersionKind{Group: "velero.io", Version: "v2alpha1", Kind: "DataUpload"}, want: "datauploads.velero.io", version: "v2alpha1", namespaced: true},
		{gvk: schema.GroupVersionKind{Version: "v1", Kind: "pod"}, err: ErrUnknownKind},
		{gvk: schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Pod"}, err: ErrUnknownKind},
		{gvk: schema.GroupVersionKind{Group: "example.com", Version: "v1", Kind: "Widget"}, err: ErrUnknownKind},
	}
	for _, tt := range tests {
		t.Run(tt.gvk.String(), func(t *testing.T) {
			r, err := m.ForGVK(tt.gvk)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("err = %v, want %v", err, tt.err)
				}
				if !strings.Contains(err.Error(), `"`+tt.gvk.Kind+`"`) || !strings.Contains(err.Error(), `"`+tt.gvk.GroupVersion().String()+`"`) {
					t.Errorf("error %q does not name apiVersion and kind", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.String() != tt.want || r.Version != tt.version || r.Namespaced != tt.namespaced {
				t.Errorf("got %s %s namespaced=%v, want %s %s namespaced=%v", r, r.Version, r.Namespaced, tt.want, tt.version, tt.namespaced)
			}
			// Round trip through the group resource.
			back, err := m.ForGroupResource(r.GroupResource())
			if err != nil || back.Kind != r.Kind {
				t.Errorf("ForGroupResource(%s) = %+v, %v", r.GroupResource(), back, err)
			}
		})
	}
	if _, err := m.ForGroupResource(schema.GroupResource{Group: "apps", Resource: "pods"}); !errors.Is(err, ErrUnknownResource) || !strings.Contains(err.Error(), "pods.apps") {
		t.Errorf("ForGroupResource(pods.apps) err = %v", err)
	}
	obj := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "metadata": map[string]any{"name": "x", "namespace": "ns"}}}
	if _, err := m.ForObject(obj); !errors.Is(err, ErrUnknownKind) || !strings.Contains(err.Error(), `"ns/x"`) {
		t.Errorf("ForObject without kind: err = %v", err)
	}
	bad := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "x/v1/y", "kind": "Pod", "metadata": map[string]any{"name": "p"}}}
	if _, err := m.ForObject(bad); !errors.Is(err, ErrUnknownKind) || !strings.Contains(err.Error(), "x/v1/y") {
		t.Errorf("ForObject with a malformed apiVersion: err = %v", err)
	}
	if _, err := m.ForObject(nil); !errors.Is(err, ErrUnknownKind) {
		t.Errorf("ForObject(nil): err = %v", err)
	}
}

func crd(apiVersion string, spec map[string]any) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": apiVersion, "kind": "CustomResourceDefinition",
		"metadata": map[string]any{"name": "widgets.example.com"},
		"spec":     spec,
	}}
}

func TestAddCRD(t *testing.T) {
	names := map[string]any{"kind": "Widget", "plural": "widgets", "singular": "widget", "shortNames": []any{"wg", "wgt"}}
	tests := []struct {
		name       string
		obj        *unstructured.Unstructured
		version    string
		namespaced bool
		errText    string
	}{
		{name: "v1 namespaced, storage v1 served, v2beta1 served, v3 not served", obj: crd("apiextensions.k8s.io/v1", map[string]any{
			"group": "example.com", "names": names, "scope": "Namespaced",
			"versions": []any{
				map[string]any{"name": "v1", "served": true, "storage": true},
				map[string]any{"name": "v2beta1", "served": true, "storage": false},
				map[string]any{"name": "v3", "served": false, "storage": false},
			}}), version: "v1", namespaced: true},
		{name: "v1 cluster, only v1alpha1", obj: crd("apiextensions.k8s.io/v1", map[string]any{
			"group": "example.com", "names": names, "scope": "Cluster",
			"versions": []any{map[string]any{"name": "v1alpha1", "served": true, "storage": true}}}), version: "v1alpha1"},
		{name: "v1beta1 with spec.version", obj: crd("apiextensions.k8s.io/v1beta1", map[string]any{
			"group": "example.com", "names": names, "scope": "Namespaced", "version": "v1beta1"}), version: "v1beta1", namespaced: true},
		{name: "not a CRD", obj: &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "widgets.example.com"}}}, errText: `"v1" kind "ConfigMap"`},
		{name: "no group", obj: crd("apiextensions.k8s.io/v1", map[string]any{"names": names, "scope": "Cluster", "versions": []any{map[string]any{"name": "v1", "served": true}}}), errText: "spec.group is missing"},
		{name: "no plural", obj: crd("apiextensions.k8s.io/v1", map[string]any{"group": "example.com", "names": map[string]any{"kind": "Widget"}, "scope": "Cluster", "versions": []any{map[string]any{"name": "v1", "served": true}}}), errText: "spec.names.plural is missing"},
		{name: "bad scope", obj: crd("apiextensions.k8s.io/v1", map[string]any{"group": "example.com", "names": names, "scope": "Galaxy", "versions": []any{map[string]any{"name": "v1", "served": true}}}), errText: `spec.scope is "Galaxy"`},
		{name: "nothing served", obj: crd("apiextensions.k8s.io/v1", map[string]any{"group": "example.com", "names": names, "scope": "Cluster", "versions": []any{map[string]any{"name": "v1", "served": false}}}), errText: "no served version"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewMapper()
			err := m.AddCRD(tt.obj)
			if tt.errText != "" {
				if !errors.Is(err, ErrInvalidCRD) || !strings.Contains(err.Error(), tt.errText) || !strings.Contains(err.Error(), "widgets.example.com") {
					t.Fatalf("err = %v, want ErrInvalidCRD naming the CRD and %q", err, tt.errText)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, name := range []string{"widgets", "widget", "Widget", "wg", "WGT", "widgets.example.com", "wg.example.com"} {
				r, err := m.Resolve(name)
				if err != nil {
					t.Fatalf("Resolve(%q): %v", name, err)
				}
				if r.String() != "widgets.example.com" || r.Version != tt.version || r.Namespaced != tt.namespaced || r.Kind != "Widget" {
					t.Errorf("Resolve(%q) = %+v", name, r)
				}
			}
			if r, err := m.ForGVK(schema.GroupVersionKind{Group: "example.com", Version: "v9", Kind: "Widget"}); err != nil || r.Plural != "widgets" {
				t.Errorf("ForGVK(Widget) = %+v, %v", r, err)
			}
		})
	}
}

func TestAddCRDShadowsAndReplaces(t *testing.T) {
	m := NewMapper()
	// A CRD claiming built-in short names does not take them over.
	err := m.AddCRD(crd("apiextensions.k8s.io/v1", map[string]any{
		"group": "example.com", "scope": "Namespaced",
		"names":    map[string]any{"kind": "Pod", "plural": "pods", "shortNames": []any{"po"}},
		"versions": []any{map[string]any{"name": "v1", "served": true}}}))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"pods", "po", "Pod"} {
		if r, _ := m.Resolve(name); r.String() != "pods" {
			t.Errorf("Resolve(%q) = %s, want the core pods", name, r)
		}
	}
	if r, _ := m.Resolve("pods.example.com"); r.String() != "pods.example.com" {
		t.Errorf("Resolve(pods.example.com) = %s", r)
	}
	// Re-adding the CRD with another scope and version replaces it.
	n := len(m.Resources())
	err = m.AddCRD(crd("apiextensions.k8s.io/v1", map[string]any{
		"group": "example.com", "scope": "Cluster",
		"names":    map[string]any{"kind": "Pod", "plural": "pods"},
		"versions": []any{map[string]any{"name": "v2", "served": true}}}))
	if err != nil {
		t.Fatal(err)
	}
	if got := len(m.Resources()); got != n {
		t.Errorf("re-adding a CRD changed the count from %d to %d", n, got)
	}
	r, _ := m.ForGroupResource(schema.GroupResource{Group: "example.com", Resource: "pods"})
	if r.Namespaced || r.Version != "v2" {
		t.Errorf("replaced CRD = %+v", r)
	}
	// A cluster's CRD for a built-in custom kind replaces the static entry.
	err = m.AddCRD(crd("apiextensions.k8s.io/v1", map[string]any{
		"group": "snapshot.storage.k8s.io", "scope": "Namespaced",
		"names":    map[string]any{"kind": "VolumeSnapshot", "plural": "volumesnapshots", "shortNames": []any{"vs"}},
		"versions": []any{map[string]any{"name": "v1beta1", "served": true}, map[string]any{"name": "v1", "served": true, "storage": true}}}))
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := m.Resolve("vs"); r.Version != "v1" || r.String() != "volumesnapshots.snapshot.storage.k8s.io" {
		t.Errorf("Resolve(vs) = %+v", r)
	}
}

func TestMapperConcurrent(t *testing.T) {
	m := NewMapper()
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			for j := range 50 {
				if i%2 == 0 {
					_ = m.AddCRD(crd("apiextensions.k8s.io/v1", map[string]any{
						"group": "example.com", "scope": "Namespaced",
						"names":    map[string]any{"kind": "Widget", "plural": "widgets"},
						"versions": []any{map[string]any{"name": "v1", "served": true}}}))
				}
				if _, err := m.Resolve("pods"); err != nil {
					t.Error(err)
				}
				_, _ = m.Resolve("widgets")
				_ = j
			}
		})
	}
	wg.Wait()
	if _, err := m.Resolve("widgets"); err != nil {
		t.Fatal(err)
	}
}

// TestAdd: a resource discovery reports (here an aggregated API, which no
// CRD describes) maps by kind and by every name, its singular defaulting to
// the lower-case kind; adding it again replaces it in place.
func TestAdd(t *testing.T) {
	m := NewMapper()
	n := len(m.Resources())
	r := Resource{Group: "metrics.k8s.io", Version: "v1beta1", Kind: "PodMetrics", Plural: "pods", Namespaced: true}
	m.Add(r)
	want := r
	want.Singular = "podmetrics"
	for _, name := range []string{"pods.metrics.k8s.io", "podmetrics.metrics.k8s.io"} {
		if got, err := m.Resolve(name); err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("Resolve(%q) = %+v, %v; want %+v", name, got, err, want)
		}
	}
	if got, err := m.ForGVK(r.GroupVersionKind()); err != nil || got.GroupResource() != r.GroupResource() {
		t.Errorf("ForGVK = %+v, %v", got, err)
	}
	if got, _ := m.Resolve("pods"); got.Group != "" {
		t.Errorf(`Resolve("pods") = %+v, want the core pods`, got)
	}
	r.Version = "v1"
	m.Add(r)
	if got, _ := m.ForGroupResource(r.GroupResource()); got.Version != "v1" || len(m.Resources()) != n+1 {
		t.Errorf("after a second Add: %+v, %d resources (want %d)", got, len(m.Resources()), n+1)
	}
}
