package manifest

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// testManifests returns the shared test manifests: the in-repo copy, or the
// read-only copy of shared/ that CI places beside the clone.
func testManifests(t *testing.T) string {
	t.Helper()
	for _, dir := range []string{"../testdata/manifests", "../../shared/testdata/manifests"} {
		if fi, err := os.Stat(filepath.Join(dir, "cluster-export")); err == nil && fi.IsDir() {
			return dir
		}
	}
	t.Fatal("test manifests not found in ../testdata/manifests or ../../shared/testdata/manifests")
	return ""
}

func countKinds(objs []*unstructured.Unstructured) map[string]int {
	n := map[string]int{}
	for _, o := range objs {
		n[o.GetKind()]++
	}
	return n
}

func TestLoadClusterExport(t *testing.T) {
	dir := filepath.Join(testManifests(t), "cluster-export")
	tests := []struct {
		path  string
		count int
		kinds map[string]int
	}{
		{path: dir, count: 131, kinds: map[string]int{"Pod": 15, "PersistentVolumeClaim": 5, "PersistentVolume": 5, "Secret": 16, "FeatureFlag": 3, "ServiceAccount": 12}},
		{path: filepath.Join(dir, "shop.yaml"), count: 50},           // YAML kind: List
		{path: filepath.Join(dir, "monitoring.json"), count: 27},     // JSON kind: List
		{path: filepath.Join(dir, "cluster-scoped.yaml"), count: 32}, // multi-document YAML
		{path: filepath.Join(dir, "kube-system.yaml"), count: 22},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.path), func(t *testing.T) {
			objs, err := Load(tt.path)
			if err != nil {
				t.Fatal(err)
			}
			if len(objs) != tt.count {
				t.Fatalf("got %d objects, want %d", len(objs), tt.count)
			}
			got := countKinds(objs)
			for k, want := range tt.kinds {
				if got[k] != want {
					t.Errorf("%s: got %d, want %d", k, got[k], want)
				}
			}
			for _, o := range objs {
				if strings.HasSuffix(o.GetKind(), "List") {
					t.Errorf("list %s was not expanded", o.GetKind())
				}
			}
		})
	}
}

func TestLoadExamples(t *testing.T) {
	objs, err := Load(filepath.Join(testManifests(t), "examples"))
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 66 {
		t.Fatalf("got %d objects, want 66", len(objs))
	}
	// The Velero examples start with a comment-only document, which is skipped.
	minio, err := Load(filepath.Join(testManifests(t), "examples", "velero", "minio-deployment.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, o := range minio {
		kinds = append(kinds, o.GetKind())
	}
	if got, want := strings.Join(kinds, ","), "Namespace,Deployment,Service,Job"; got != want {
		t.Errorf("kinds = %s, want %s", got, want)
	}
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		names []string // kind/name of each object, in order
	}{
		{name: "empty", in: ""},
		{name: "only comments and separators", in: "# nothing\n---\n---\n# more\n"},
		{name: "single YAML", in: "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n", names: []string{"ConfigMap/a"}},
		{name: "multi-document with empty documents", in: "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n\n--- # comment\napiVersion: v1\nkind: Secret\nmetadata: {name: b}\n...\n",
			names: []string{"ConfigMap/a", "Secret/b"}},
		{name: "YAML List", in: "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata: {name: p}\n- apiVersion: v1\n  kind: Pod\n  metadata: {name: q}\n",
			names: []string{"Pod/p", "Pod/q"}},
		{name: "typed list", in: `{"apiVersion":"v1","kind":"ConfigMapList","items":[{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"}}]}`,
			names: []string{"ConfigMap/c"}},
		{name: "empty list", in: "apiVersion: v1\nkind: List\nitems: null\n"},
		{name: "JSON object", in: `  {"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"}}`, names: []string{"Pod/p"}},
		{name: "concatenated JSON", in: `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"}}` + "\n" + `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"q"}}`,
			names: []string{"Pod/p", "Pod/q"}},
		{name: "JSON array", in: `[{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"}}]`, names: []string{"Pod/p"}},
		{name: "kind ending in List without items is an object", in: "apiVersion: example.com/v1\nkind: AllowList\nmetadata: {name: x}\n", names: []string{"AllowList/x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs, err := Decode(strings.NewReader(tt.in), "in.yaml")
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, o := range objs {
				got = append(got, o.GetKind()+"/"+o.GetName())
			}
			if strings.Join(got, " ") != strings.Join(tt.names, " ") {
				t.Errorf("got %v, want %v", got, tt.names)
			}
		})
	}
}

func TestDecodeIntegers(t *testing.T) {
	objs, err := Decode(strings.NewReader("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  priority: 1000000\n  ratio: 0.5\n"), "p.yaml")
	if err != nil {
		t.Fatal(err)
	}
	spec := objs[0].Object["spec"].(map[string]any)
	if _, ok := spec["priority"].(int64); !ok {
		t.Errorf("priority is %T, want int64", spec["priority"])
	}
	if _, ok := spec["ratio"].(float64); !ok {
		t.Errorf("ratio is %T, want float64", spec["ratio"])
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string // the whole error text
	}{
		{name: "bad YAML in the second document",
			in:   "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: [unclosed\n",
			want: "bad.yaml: document 2 (line 5): invalid YAML: "},
		// The parser's line is a line of the file, not of the document.
		{name: "bad YAML, the parser's line",
			in:   "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n  bad: : [\n",
			want: "bad.yaml: document 2 (line 5): invalid YAML: yaml: line 9: mapping values are not allowed"},
		{name: "missing kind", in: "apiVersion: v1\nmetadata: {name: a}\n", want: "bad.yaml: document 1 (line 1): object has no kind"},
		{name: "missing apiVersion", in: "kind: Pod\nmetadata: {name: a}\n", want: `bad.yaml: document 1 (line 1): Pod "a" has no apiVersion`},
		{name: "scalar document", in: "---\nhello\n", want: "bad.yaml: document 1 (line 2): document is a string, not an object"},
		{name: "list item without kind", in: "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Pod\n- apiVersion: v1\n", want: "bad.yaml: document 1 (line 1): items[1]: object has no kind"},
		{name: "bad JSON", in: `{"apiVersion":"v1","kind":"Pod"} {"kind":`, want: "bad.yaml: document 2: invalid JSON: "},
		{name: "list item not an object", in: `{"apiVersion":"v1","kind":"List","items":[3]}`, want: "bad.yaml: document 1: items[0]: not an object (a int64)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode(strings.NewReader(tt.in), "bad.yaml")
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("error %q, want prefix %q", err, tt.want)
			}
			var me *Error
			if !errors.As(err, &me) || me.Source != "bad.yaml" {
				t.Errorf("error %v is not a *manifest.Error naming the source", err)
			}
		})
	}
}

func TestLoadFrom(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("b/z.yml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: z}\n")
	write("a.json", `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"}}`)
	write("notes.txt", "not a manifest")
	write(".hidden/x.yaml", "broken: [")
	write("empty/README.md", "nothing")

	stdin := strings.NewReader("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: s}\n")
	objs, err := LoadFrom(stdin, dir, Stdin)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, o := range objs {
		names = append(names, o.GetName())
	}
	if got := strings.Join(names, ","); got != "a,z,s" {
		t.Errorf("names = %s, want a,z,s (lexical order, then stdin)", got)
	}

	if _, err := LoadFrom(strings.NewReader(""), Stdin, Stdin); err == nil {
		t.Error("stdin twice: no error")
	}
	if _, err := Load(filepath.Join(dir, "empty")); !errors.Is(err, ErrNoManifests) {
		t.Errorf("directory without manifests: error %v, want ErrNoManifests", err)
	}
	if _, err := Load(filepath.Join(dir, "missing.yaml")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: error %v, want os.ErrNotExist", err)
	}
	// A file named explicitly is decoded whatever its extension.
	if _, err := Load(filepath.Join(dir, "notes.txt")); err == nil || !strings.Contains(err.Error(), "notes.txt: document 1") {
		t.Errorf("explicit non-manifest file: error %v, want one naming notes.txt and document 1", err)
	}
}
