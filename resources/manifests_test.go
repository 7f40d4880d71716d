package resources

import (
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rigging-dev/rigging/manifest"
)

// manifestsDir is the shared copy of ../shared/testdata/manifests.
const manifestsDir = "../testdata/manifests"

// loadedObject is one object read from a manifest file.
type loadedObject struct {
	file string // relative to the loaded directory, "/"-separated
	obj  *unstructured.Unstructured
}

// loadManifests reads every manifest file under dir with package manifest.
func loadManifests(t testing.TB, dir string) []loadedObject {
	t.Helper()
	files, err := manifest.Files(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []loadedObject
	for _, f := range files {
		objs, err := manifest.Load(f)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(dir, f)
		for _, o := range objs {
			out = append(out, loadedObject{file: filepath.ToSlash(rel), obj: o})
		}
	}
	return out
}

// objectsIn returns the loaded objects of files under sub (a path prefix).
func objectsIn(all []loadedObject, sub string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, lo := range all {
		if strings.HasPrefix(lo.file, sub) {
			out = append(out, lo.obj)
		}
	}
	return out
}
