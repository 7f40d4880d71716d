package testcluster

import "k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

// VersionedCRD is the name of the CustomResourceDefinition TwoVersions
// returns: Widgets of group versions.example.com, namespaced, served in v1
// (stored, preferred) and v1beta1, with no conversion webhook (the API
// server returns the same fields under either apiVersion).
const VersionedCRD = "widgets.versions.example.com"

// TwoVersions returns objects to Seed for a resource served in two
// versions (Velero's EnableAPIGroupVersions backs up both): the CRD
// VersionedCRD, Namespace ns, and Widget w1 in it (created in v1, with
// spec.size 3).
func TwoVersions(ns string) []*unstructured.Unstructured {
	version := func(name string, storage bool) map[string]any {
		return map[string]any{"name": name, "served": true, "storage": storage,
			"schema": map[string]any{"openAPIV3Schema": map[string]any{"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}
	}
	return []*unstructured.Unstructured{
		{Object: map[string]any{"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
			"metadata": map[string]any{"name": VersionedCRD},
			"spec": map[string]any{"group": "versions.example.com", "scope": "Namespaced",
				"names":    map[string]any{"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
				"versions": []any{version("v1", true), version("v1beta1", false)}}}},
		{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": ns}}},
		{Object: map[string]any{"apiVersion": "versions.example.com/v1", "kind": "Widget",
			"metadata": map[string]any{"name": "w1", "namespace": ns}, "spec": map[string]any{"size": int64(3)}}},
	}
}
