package veleroserver

import (
	"os"
	"testing"

	"github.com/rigging-dev/rigging/internal/testcluster"
	"github.com/rigging-dev/rigging/interop/internal/testbin"
)

// TestMain runs the tests with the package's test API server, seeded with
// testdata/manifests/cluster-export.
func TestMain(m *testing.M) {
	code := testcluster.Main(m, testcluster.Options{Seed: []string{testcluster.ClusterExport}})
	testbin.Cleanup()
	os.Exit(code)
}
