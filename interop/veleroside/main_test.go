package veleroside

import (
	"os"
	"testing"

	"github.com/rigging-dev/rigging/internal/testcluster"
	"github.com/rigging-dev/rigging/interop/internal/testbin"
	"github.com/rigging-dev/rigging/interop/internal/velerofw"
)

func TestMain(m *testing.M) {
	// Velero's host runs "os.Args[0] run-plugins <its args>" to list its
	// compiled-in plugins, and go-plugin marks every plugin process with
	// VELERO_PLUGIN=hello: this binary then serves the Velero-framework test
	// plugins instead of running tests.
	if (len(os.Args) > 1 && os.Args[1] == "run-plugins") || os.Getenv("VELERO_PLUGIN") == "hello" {
		velerofw.NewServer().Serve()
		os.Exit(0)
	}
	// The test API server (started by the first testcluster.Get) holds
	// the cluster-export objects.
	code := testcluster.Main(m, testcluster.Options{Seed: []string{testcluster.ClusterExport}})
	testbin.Cleanup()
	os.Exit(code)
}
