package crd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/builtin/internal/actiontest"
	"github.com/rigging-dev/rigging/builtin/internal/testmanifest"
	"github.com/rigging-dev/rigging/registry"
)

func loadCRDs(t *testing.T) map[string]*unstructured.Unstructured {
	t.Helper()
	out := map[string]*unstructured.Unstructured{}
	objs := actiontest.ClusterExport(t)
	for _, f := range []string{"testdata/upgraded-crds.yaml", "testdata/crd-status-subresource.yaml"} {
		objs = append(objs, testmanifest.Load(t, f)...)
	}
	for _, o := range objs {
		if o.GetKind() == "CustomResourceDefinition" {
			out[o.GetName()] = o
		}
	}
	if len(out) != 5 {
		t.Fatalf("loaded %d CRDs, want 5", len(out))
	}
	return out
}

func fromYAML(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := yaml.Unmarshal([]byte(s), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// plainJSON returns v as encoding/json decodes it (numbers as float64), to
// compare with fromYAML.
func plainJSON(t *testing.T, v any) map[string]any {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestPreserveFields(t *testing.T) {
	crds := loadCRDs(t)
	tests := []struct {
		name          string
		item          *unstructured.Unstructured
		wantPreserved []bool // x-kubernetes-preserve-unknown-fields per version
	}{
		{"no schema: flag dropped, nothing to mark", crds["crontabs.stable.example.com"], []bool{false}},
		{"two schemas marked", crds["certificates.certmanager.k8s.io"], []bool{true, true}},
		{"structural CRD", crds["featureflags.shop.example.com"], []bool{false}},
		{"upstream example", crds["foos.samplecontroller.k8s.io"], []bool{false}},
		{"flag false", crds["widgets.example.com"], []bool{false, false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := tt.item.DeepCopy()
			out, err := NewPreserveFieldsAction(nil).Execute(context.Background(), &rigging.RestoreItemActionExecuteInput{Item: tt.item, ItemFromBackup: before, Restore: &rigging.Restore{}})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(tt.item, before) {
				t.Error("Execute modified its input")
			}
			got := plainJSON(t, out.UpdatedItem.Object)
			if _, found, _ := unstructured.NestedFieldNoCopy(got, "spec", "preserveUnknownFields"); found {
				t.Error("spec.preserveUnknownFields still set")
			}
			versions, _, _ := unstructured.NestedSlice(got, "spec", "versions")
			var marks []bool
			for _, v := range versions {
				b, _, _ := unstructured.NestedBool(v.(map[string]any), "schema", "openAPIV3Schema", "x-kubernetes-preserve-unknown-fields")
				marks = append(marks, b)
			}
			if !reflect.DeepEqual(marks, tt.wantPreserved) {
				t.Errorf("x-kubernetes-preserve-unknown-fields = %v, want %v", marks, tt.wantPreserved)
			}
			// Apart from those two, the spec is the input's.
			want := plainJSON(t, before.Object)
			unstructured.RemoveNestedField(want, "spec", "preserveUnknownFields")
			wantVersions, _, _ := unstructured.NestedSlice(want, "spec", "versions")
			for i, v := range wantVersions {
				if tt.wantPreserved[i] {
					_ = unstructured.SetNestedField(v.(map[string]any), true, "schema", "openAPIV3Schema", "x-kubernetes-preserve-unknown-fields")
				}
			}
			_ = unstructured.SetNestedSlice(want, wantVersions, "spec", "versions")
			if !reflect.DeepEqual(got["spec"], want["spec"]) || !reflect.DeepEqual(got["metadata"], want["metadata"]) {
				t.Errorf("spec or metadata =\n%v\nwant\n%v", got, want)
			}
		})
	}
}

// TestPreserveFieldsTypedRoundTrip checks that a v1 CRD comes back as
// Velero's typed round trip returns it, whether or not it is changed:
// zero values and empty collections with omitempty dropped (labels: {},
// required: [], nullable: false), those without omitempty kept
// (status.conditions: []), unknown fields dropped, required fields added at
// their zero value (status.acceptedNames).
func TestPreserveFieldsTypedRoundTrip(t *testing.T) {
	const zeros = `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: zeros.example.com, labels: {}, annotations: {}, finalizers: []}
spec:
  group: example.com
  names: {kind: Zero, plural: zeros, shortNames: [], categories: []}
  scope: Namespaced
  preserveUnknownFields: %s
  notAField: dropped
  versions:
  - name: v1
    served: false
    storage: true
    deprecated: false
    additionalPrinterColumns: []
    subresources: {}
    schema:
      openAPIV3Schema:
        type: object
        nullable: false
        required: []
        properties:
          size: {type: integer, minimum: 1, default: 0, enum: []}
  - name: v0
    served: true
    storage: false
status:
  conditions: []
  storedVersions: []
`
	// Velero's result for zeros, with %s the schema's mark.
	const normalised = `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: zeros.example.com}
spec:
  group: example.com
  names: {kind: Zero, plural: zeros}
  scope: Namespaced
  versions:
  - name: v1
    served: false
    storage: true
    subresources: {}
    schema:
      openAPIV3Schema:
        type: object
        %s
        properties:
          size: {type: integer, minimum: 1, default: 0}
  - {name: v0, served: true, storage: false}
status:
  acceptedNames: {kind: "", plural: ""}
  conditions: []
  storedVersions: []
`
	tests := []struct {
		name, item, want string
	}{
		{"flag false: normalised only", fmt.Sprintf(zeros, "false"), fmt.Sprintf(normalised, "")},
		{"flag true: moved into the schema", fmt.Sprintf(zeros, "true"), fmt.Sprintf(normalised, "x-kubernetes-preserve-unknown-fields: true")},
		{"v1beta1 untouched", strings.Replace(fmt.Sprintf(zeros, "true"), "/v1\n", "/v1beta1\n", 1), strings.Replace(fmt.Sprintf(zeros, "true"), "/v1\n", "/v1beta1\n", 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			item := &unstructured.Unstructured{Object: fromYAML(t, tt.item)}
			out, err := NewPreserveFieldsAction(nil).Execute(context.Background(), &rigging.RestoreItemActionExecuteInput{Item: item, Restore: &rigging.Restore{}})
			if err != nil {
				t.Fatal(err)
			}
			if got, want := plainJSON(t, out.UpdatedItem.Object), fromYAML(t, tt.want); !reflect.DeepEqual(got, want) {
				g, _ := yaml.Marshal(got)
				t.Errorf("got\n%s\nwant\n%s", g, tt.want)
			}
		})
	}
}

func TestPreserveFieldsErrors(t *testing.T) {
	tests := []struct{ name, item string }{
		{"versions not a list", `{apiVersion: apiextensions.k8s.io/v1, kind: CustomResourceDefinition, metadata: {name: bad.example.com}, spec: {versions: v1}}`},
		{"served not a bool", `{apiVersion: apiextensions.k8s.io/v1, kind: CustomResourceDefinition, metadata: {name: bad.example.com}, spec: {versions: [{name: v1, served: "yes"}]}}`},
		{"apiVersion not a string", `{apiVersion: 1, kind: CustomResourceDefinition, metadata: {name: bad.example.com}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			item := &unstructured.Unstructured{Object: fromYAML(t, tt.item)}
			_, err := NewPreserveFieldsAction(nil).Execute(context.Background(), &rigging.RestoreItemActionExecuteInput{Item: item})
			if err == nil || !strings.Contains(err.Error(), PreserveFieldsName) || !strings.Contains(err.Error(), "bad.example.com") {
				t.Errorf("err = %v, want one naming the plugin and the CRD", err)
			}
		})
	}
}

func TestRemapVersion(t *testing.T) {
	crds := loadCRDs(t)
	wantSpecs := map[string]string{
		"crontabs.stable.example.com": `
conversion: {strategy: None}
group: stable.example.com
names: {kind: CronTab, listKind: CronTabList, plural: crontabs, shortNames: [ct], singular: crontab}
preserveUnknownFields: true
scope: Namespaced
version: v1
versions:
- {name: v1, served: true, storage: true}
`,
		"certificates.certmanager.k8s.io": `
additionalPrinterColumns:
- {JSONPath: '.status.conditions[?(@.type=="Ready")].status', name: Ready, type: string}
- {JSONPath: .spec.secretName, name: Secret, type: string}
conversion:
  strategy: Webhook
  conversionReviewVersions: [v1beta1]
  webhookClientConfig:
    caBundle: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==
    service: {name: cert-manager-webhook, namespace: cert-manager, path: /convert, port: 443}
group: certmanager.k8s.io
names: {kind: Certificate, listKind: CertificateList, plural: certificates, shortNames: [cert], singular: certificate}
preserveUnknownFields: true
scope: Namespaced
subresources: {status: {}}
validation:
  openAPIV3Schema:
    type: object
    properties:
      spec:
        type: object
        required: [secretName]
        properties: {secretName: {type: string}}
version: v1alpha1
versions:
- {name: v1alpha1, served: true, storage: false}
- {name: v1alpha2, served: true, storage: true}
`,
		"widgets.example.com": `
conversion: {strategy: None}
group: example.com
names: {kind: Widget, listKind: WidgetList, plural: widgets, singular: widget}
preserveUnknownFields: false
scope: Cluster
validation:
  openAPIV3Schema:
    properties: {spec: {properties: {size: {minimum: 1}}}}
version: v1
versions:
- name: v1
  served: true
  storage: true
  additionalPrinterColumns:
  - {JSONPath: .spec.size, name: Size, type: integer}
- name: v2
  served: true
  storage: false
  additionalPrinterColumns:
  - {JSONPath: .spec.size, name: Size, type: integer}
  - {JSONPath: .spec.color, name: Color, priority: 1, type: string}
`,
	}
	for _, serves := range []bool{false, true} {
		for name, crd := range crds {
			t.Run(name, func(t *testing.T) {
				a := NewRemapVersionAction(nil)
				if serves {
					if err := a.Configure(map[string]string{ConfigServesV1beta1: "true"}); err != nil {
						t.Fatal(err)
					}
				}
				before := crd.DeepCopy()
				got, extra, err := a.Execute(context.Background(), crd, &rigging.Backup{})
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(crd, before) {
					t.Error("Execute modified its input")
				}
				if len(extra) != 0 {
					t.Errorf("additional items %v", extra)
				}
				want, remapped := wantSpecs[name]
				if !serves || !remapped {
					if got != crd {
						t.Errorf("servesV1beta1=%v: CRD changed", serves)
					}
					return
				}
				if got.GetAPIVersion() != V1beta1 || got.GetKind() != "CustomResourceDefinition" {
					t.Errorf("apiVersion/kind = %s/%s", got.GetAPIVersion(), got.GetKind())
				}
				if spec := plainJSON(t, got.Object["spec"]); !reflect.DeepEqual(spec, fromYAML(t, want)) {
					y, _ := yaml.Marshal(spec)
					t.Errorf("spec =\n%s\nwant\n%s", y, want)
				}
				for _, f := range []string{"metadata", "status"} {
					if !reflect.DeepEqual(got.Object[f], before.Object[f]) {
						t.Errorf("%s changed", f)
					}
				}
			})
		}
	}

	// A CRD already saved as v1beta1 is left alone.
	a := NewRemapVersionAction(nil)
	_ = a.Configure(map[string]string{ConfigServesV1beta1: "1"})
	beta, _ := Convert(crds["crontabs.stable.example.com"])
	if got, _, err := a.Execute(context.Background(), beta, &rigging.Backup{}); err != nil || got != beta {
		t.Errorf("v1beta1 input: %v, %v", got, err)
	}
}

// TestRemapVersionTypedShape checks that a remapped CRD comes back as
// Velero saves the v1beta1 CRD it fetches, decoded into the typed struct and
// converted back: zero values with omitempty and unknown fields dropped,
// required fields present.
func TestRemapVersionTypedShape(t *testing.T) {
	item := &unstructured.Unstructured{Object: fromYAML(t, `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: olds.example.com, labels: {}, finalizers: []}
spec:
  group: example.com
  names: {kind: Old, plural: olds, shortNames: [], categories: []}
  scope: Namespaced
  preserveUnknownFields: true
  notAField: dropped
  versions:
  - {name: v1, served: true, storage: true, deprecated: false, additionalPrinterColumns: []}
status:
  storedVersions: [v1]
`)}
	a := NewRemapVersionAction(nil)
	if err := a.Configure(map[string]string{ConfigServesV1beta1: "true"}); err != nil {
		t.Fatal(err)
	}
	got, _, err := a.Execute(context.Background(), item, &rigging.Backup{})
	if err != nil {
		t.Fatal(err)
	}
	const want = `
apiVersion: apiextensions.k8s.io/v1beta1
kind: CustomResourceDefinition
metadata: {name: olds.example.com}
spec: {group: example.com, names: {kind: Old, plural: olds}, scope: Namespaced, preserveUnknownFields: true,
  version: v1, versions: [{name: v1, served: true, storage: true}]}
status: {acceptedNames: {kind: "", plural: ""}, conditions: null, storedVersions: [v1]}
`
	if g := plainJSON(t, got.Object); !reflect.DeepEqual(g, fromYAML(t, want)) {
		y, _ := yaml.Marshal(g)
		t.Errorf("got\n%s\nwant\n%s", y, want)
	}
}

func TestRemapVersionConfigure(t *testing.T) {
	for _, tt := range []struct {
		config  map[string]string
		wantErr string
	}{
		{map[string]string{ConfigServesV1beta1: "false"}, ""},
		{map[string]string{}, ""},
		{map[string]string{ConfigServesV1beta1: "sometimes"}, `"sometimes" is not a boolean`},
		{map[string]string{"servesv1beta1": "true"}, `unknown key "servesv1beta1"`},
	} {
		err := NewRemapVersionAction(nil).Configure(tt.config)
		if tt.wantErr == "" {
			if err != nil {
				t.Errorf("%v: %v", tt.config, err)
			}
			continue
		}
		if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%v: %v, want ErrInvalidConfig with %q", tt.config, err, tt.wantErr)
		}
	}
}

func TestErrorsNameTheCRD(t *testing.T) {
	bad := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": V1, "kind": "CustomResourceDefinition",
		"metadata": map[string]any{"name": "bad.example.com"},
		"spec":     map[string]any{"versions": "v1", "preserveUnknownFields": true},
	}}
	a := NewRemapVersionAction(nil)
	_ = a.Configure(map[string]string{ConfigServesV1beta1: "true"})
	if _, _, err := a.Execute(context.Background(), bad, &rigging.Backup{}); err == nil || !strings.HasPrefix(err.Error(), "plugin velero.io/crd-remap-version: CustomResourceDefinition bad.example.com: ") {
		t.Errorf("remap error = %v", err)
	}
	if _, err := NewPreserveFieldsAction(nil).Execute(context.Background(), &rigging.RestoreItemActionExecuteInput{Item: bad}); err == nil || !strings.HasPrefix(err.Error(), "plugin velero.io/crd-preserve-fields: CustomResourceDefinition bad.example.com: ") {
		t.Errorf("preserve error = %v", err)
	}
}

func TestRegistered(t *testing.T) {
	if _, ok := registry.Default.Lookup(rigging.KindBackupItemAction, RemapVersionName); !ok {
		t.Error("remap not registered")
	}
	if _, ok := registry.Default.Lookup(rigging.KindRestoreItemAction, PreserveFieldsName); !ok {
		t.Error("preserve not registered")
	}
}
