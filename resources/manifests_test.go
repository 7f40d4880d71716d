package resources

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// manifestsDir is the shared copy of ../shared/testdata/manifests.
const manifestsDir = "../testdata/manifests"

// loadedObject is one object read from a manifest file.
type loadedObject struct {
	file string // relative to manifestsDir
	obj  *unstructured.Unstructured
}

// loadManifests reads every .yaml/.yml/.json file under dir: multi-document
// YAML, single JSON objects, and "kind: List" (expanded into its items).
// Empty documents are skipped.
func loadManifests(t testing.TB, dir string) []loadedObject {
	t.Helper()
	var out []loadedObject
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		switch filepath.Ext(path) {
		case ".yaml", ".yml", ".json":
		default:
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		objs, err := decodeManifest(data)
		if err != nil {
			return fmt.Errorf("%s: %w", rel, err)
		}
		for _, o := range objs {
			out = append(out, loadedObject{file: rel, obj: o})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func decodeManifest(data []byte) ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var out []*unstructured.Unstructured
	for doc := 1; ; doc++ {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, fmt.Errorf("document %d: %w", doc, err)
		}
		if len(m) == 0 {
			continue
		}
		u := &unstructured.Unstructured{Object: m}
		if u.IsList() {
			err := u.EachListItem(func(o runtime.Object) error {
				out = append(out, o.(*unstructured.Unstructured))
				return nil
			})
			if err != nil {
				return nil, fmt.Errorf("document %d: %w", doc, err)
			}
			continue
		}
		out = append(out, u)
	}
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
