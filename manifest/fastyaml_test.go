package manifest

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	utiljson "k8s.io/apimachinery/pkg/util/json"
	"sigs.k8s.io/yaml"

	"github.com/rigging-dev/rigging/internal/ujson"
)

// general decodes doc as the general path does: YAMLToJSON, then
// Kubernetes' JSON decoding.
func general(doc string) (any, error) {
	js, err := yaml.YAMLToJSON([]byte(doc))
	if err != nil {
		return nil, err
	}
	var v any
	err = utiljson.Unmarshal(js, &v)
	return v, err
}

// checkBlockYAML fails if decodeBlockYAML takes doc and gives anything but
// what the general path gives; it reports whether it took it.
func checkBlockYAML(t *testing.T, doc string) bool {
	t.Helper()
	got, ok := decodeBlockYAML(doc, &ujson.Boxer{})
	if !ok {
		return false
	}
	want, err := general(doc)
	if err != nil {
		t.Errorf("block decoder took a document the parser refuses (%v):\n%s", err, doc)
		return true
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("block decoder differs:\n got %#v\nwant %#v\ndoc:\n%s", got, want, doc)
	}
	return true
}

// yamlDocs splits r into documents as eachDocument does.
func yamlDocs(t testing.TB, data []byte) []string {
	var out []string
	s := newDocScanner(bufio.NewReader(bytes.NewReader(data)))
	for {
		d, _, err := s.next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(d))
	}
}

// TestBlockYAMLMatchesParser: on every YAML test manifest and on
// gen-large.sh's output, what the block decoder takes it decodes as the
// general parser does; it takes every document gen-large.sh writes.
func TestBlockYAMLMatchesParser(t *testing.T) {
	var files []string
	for _, dir := range []string{"../testdata", "../../shared/testdata/manifests"} {
		_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && (strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")) {
				files = append(files, p)
			}
			return nil
		})
	}
	taken, all := 0, 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range yamlDocs(t, data) {
			all++
			if checkBlockYAML(t, d) {
				taken++
			}
		}
	}
	t.Logf("%d files: the block decoder took %d of %d documents", len(files), taken, all)

	dir := t.TempDir()
	if out, err := exec.Command("bash", "../testdata/manifests/gen-large.sh", "-n", "300", "-s", "2", dir).CombinedOutput(); err != nil {
		t.Fatalf("gen-large.sh: %v\n%s", err, out)
	}
	gen, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	for _, f := range gen {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range yamlDocs(t, data) {
			if !checkBlockYAML(t, d) {
				t.Errorf("%s: the block decoder left a document to the parser:\n%s", f, d)
			}
		}
	}
}

// blockYAMLCases are documents at the edges of the block decoder's subset:
// each is either taken and decoded as the parser decodes it, or left.
var blockYAMLCases = []string{
	"a: 1\nb: -2\nc: 0\nd: 012\ne: 0x1f\nf: 1.5\ng: 1e3\nh: +1\ni: 1_000\n",
	"a: 9223372036854775807\nb: 9223372036854775808\nc: -9223372036854775808\n",
	"a: yes\nb: No\nc: on\nd: OFF\ne: y\nf: n\ng: true\nh: ~\ni: null\nj:\nk: Null\n",
	"u: 0bb87ce4-9f4a\nv: 0x1g\nw: 0b102\nx: 0o18\ny: 0xff\nz: 0o17\nzz: 0b11\n",
	"a: 20Gi\nb: 100m\nc: 10.0.0.1\nd: 2024-01-02\ne: 2024-01-02T03:04:05Z\nf: 1:20\ng: .inf\nh: .5\ni: -.inf\nj: .nan\nk: 0b101\nl: 1.2.3-rc\n",
	"a: \"x\\ty\\u00e9\\\"\"\nb: 'it''s'\nc: 'plain'\nd: \"\"\ne: ''\nf: \"a # b\" # c\n",
	"a: plain # comment\nb: with: colon\nc: url://x:1\nd: a#b\n# whole line\ne: [1]\nf: {}\ng: []\nh: {a: 1}\n",
	"s: |\n  line 1\n    more\n\n  line 3\nt: |-\n  x\n  y\n\nu: |+\n  k\n\nv: >\n  folded\n  text\nw: |2\n   x\n",
	"s: |\n  a\n# comment at the key's level\nt: |\n\n  b\n",
	"l:\n- a\n- b: 1\n  c: 2\n- - x\n  - y\n-\n  k: v\n- |\n  lit\n-\nm:\n  - 1\n  -   2\n",
	"a:\n  b:\n    c: d\n  e: f\ng: h\n",
	"a: &x 1\nb: *x\nc: !!str 1\n<<: {d: 1}\n",
	"a: b\na: c\n",
	"a: multi\n  line\n",
	"a:\n  b: 1\n   c: 2\n",
	"a: 1\n- b\n",
	"- a\n- b\n",
	"? a\n: b\n",
	"1: a\ntrue: b\n",
	"key with spaces: v\n-dash: v\n\"quoted\": v\n",
	"a: \"unclosed\n  b\"\n",
	"a: 'x\n  y'\n",
	"a: - b\n",
	"a: b\n  # indented comment\nc: d\n",
	"a:    spaced   \nb:\t1\n",
	"%YAML 1.1\n---\na: 1\n",
	"a: |\n   x\n  y\n",
	"a: |\n  \n  x\n",
	"a: |\n    \n  x\n",
	"a: |\n  x\n   \nb: 1\n",
	"a: |\n",
	"a: |-\n",
	"a: \"\\x41\"\nb: \"\\ud800\"\n",
	"a: 'x' y\n",
	"a: [] x\n",
}

// TestBlockYAMLEdges runs blockYAMLCases.
func TestBlockYAMLEdges(t *testing.T) {
	for _, doc := range blockYAMLCases {
		checkBlockYAML(t, doc)
	}
}

// FuzzBlockYAML: what the block decoder takes, it decodes as the parser.
func FuzzBlockYAML(f *testing.F) {
	for _, doc := range blockYAMLCases {
		f.Add(doc)
	}
	f.Fuzz(func(t *testing.T, doc string) {
		checkBlockYAML(t, doc)
	})
}
