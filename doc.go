// Package rigging is the contract between plugins and hosts: the plugin kinds,
// plugin names, one interface per kind, the value types those interfaces
// exchange, and the sentinel errors callers branch on.
//
// It plays the role database/sql/driver plays for database/sql: a vendor who
// writes a plugin imports this package and nothing heavier (no gRPC, no cloud
// SDK). Hosts obtain plugins through manager.Manager, which hands out these
// same interfaces whether the plugin runs in-process or as a go-plugin
// subprocess speaking Velero v1.18's wire protocol.
//
// Every interface method takes a context.Context first. In-process plugins
// receive the caller's deadline and cancellation directly; external plugins
// receive them as gRPC deadlines. Items are *unstructured.Unstructured, exactly
// the JSON objects Velero exchanges with its plugins.
package rigging
