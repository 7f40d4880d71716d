// Package actiontest gives the tests of rigging's built-in item actions the
// cluster-export scenario: a copy of shared/testdata/manifests/cluster-export
// (its README describes the objects and how they relate), loaded with
// testmanifest. It is for tests only.
package actiontest

import (
	"context"
	"path/filepath"
	"runtime"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/rigging-dev/rigging"

	"github.com/rigging-dev/rigging/builtin/internal/testmanifest"
)

// ClusterExportFiles are the files of the cluster-export scenario.
var ClusterExportFiles = []string{"cluster-scoped.yaml", "kube-system.yaml", "monitoring.json", "shop.yaml"}

// ClusterExport returns the 131 objects of the cluster-export scenario,
// decoded afresh on every call, so callers may modify them.
func ClusterExport(t testing.TB) []*unstructured.Unstructured {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(file), "testdata", "cluster-export")
	var all []*unstructured.Unstructured
	for _, f := range ClusterExportFiles {
		all = append(all, testmanifest.Load(t, filepath.Join(dir, f))...)
	}
	return all
}

// Context returns a background context carrying a testmanifest.Lookup over
// objs, as a host carries the items of a backup to the actions it calls.
func Context(objs ...*unstructured.Unstructured) context.Context {
	return testmanifest.NewLookup(objs...).Context(context.Background())
}

// FailingLookup is a rigging.Lookup whose every call fails with Err, for
// testing that actions report Lookup errors.
type FailingLookup struct{ Err error }

var _ rigging.Lookup = FailingLookup{}

// Get implements rigging.Lookup.
func (f FailingLookup) Get(context.Context, schema.GroupResource, string, string) (*unstructured.Unstructured, error) {
	return nil, f.Err
}

// List implements rigging.Lookup.
func (f FailingLookup) List(context.Context, schema.GroupResource, string) ([]*unstructured.Unstructured, error) {
	return nil, f.Err
}

// FailingContext returns a background context carrying FailingLookup{err}.
func FailingContext(err error) context.Context {
	return rigging.WithLookup(context.Background(), FailingLookup{Err: err})
}
