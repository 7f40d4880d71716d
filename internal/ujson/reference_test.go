package ujson

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/rigging-dev/rigging/bench/fixture"
)

// manifestDocs returns every object of the shared test manifests (and the
// benchmark fixtures) as JSON, named by file and document number.
func manifestDocs(t testing.TB) map[string][]byte {
	t.Helper()
	docs := map[string][]byte{
		"fixture pod":    []byte(fixture.PodJSON),
		"fixture backup": []byte(fixture.BackupJSON),
	}
	sep := regexp.MustCompile(`(?m)^---[ \t]*$`)
	root := filepath.Join("..", "..", "testdata", "manifests")
	err := filepath.WalkDir(root, func(path string, de fs.DirEntry, err error) error {
		if err != nil || de.IsDir() {
			return err
		}
		ext := filepath.Ext(path)
		if ext != ".json" && ext != ".yaml" && ext != ".yml" {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if ext == ".json" {
			docs[path] = data
			return nil
		}
		for i, doc := range sep.Split(string(data), -1) {
			if strings.TrimSpace(doc) == "" {
				continue
			}
			j, err := yaml.YAMLToJSON([]byte(doc))
			if err != nil {
				t.Fatalf("%s document %d: %v", path, i, err)
			}
			if string(j) == "null" {
				continue // only comments
			}
			docs[fmt.Sprintf("%s#%d", path, i)] = j
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) < 40 {
		t.Fatalf("found only %d documents under %s", len(docs), root)
	}
	t.Logf("%d documents", len(docs))
	return docs
}

// TestManifestsMatchReference decodes every test manifest with ujson and
// with unstructured.UnmarshalJSON (compact and indented forms), and encodes
// the result with ujson and encoding/json.
func TestManifestsMatchReference(t *testing.T) {
	for name, doc := range manifestDocs(t) {
		var indented bytes.Buffer
		if err := json.Indent(&indented, doc, "", "  "); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, in := range [][]byte{doc, indented.Bytes()} {
			var u unstructured.Unstructured
			if err := u.UnmarshalJSON(in); err != nil {
				t.Fatalf("%s: reference: %v", name, err)
			}
			got, err := Unmarshal(in)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if !reflect.DeepEqual(got, u.Object) {
				t.Fatalf("%s: decoded differently from unstructured.UnmarshalJSON", name)
			}
			want, err := json.Marshal(u.Object)
			if err != nil {
				t.Fatal(err)
			}
			enc, err := Marshal(got)
			if err != nil || !bytes.Equal(enc, want) {
				t.Fatalf("%s: Marshal differs from encoding/json (%v)\n got %s\nwant %s", name, err, enc, want)
			}
		}
	}
}
