package manifest_test

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rigging-dev/rigging/manifest"
)

// hostileManifests are inputs decoders are known to choke on: alias bombs,
// deep nesting, documents that are not objects, huge numbers.
var hostileManifests = []string{
	// billion laughs: each level references the previous one ten times.
	"a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n" +
		"b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n" +
		"e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n" +
		"h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\ni: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\napiVersion: v1\nkind: ConfigMap\n",
	strings.Repeat("[", 10000) + strings.Repeat("]", 10000),
	strings.Repeat("- ", 5000) + "x\n",
	`{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"v1","kind":"List","items":[]}]}`,
	`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"n"},"data":{"x":1e999999}}`,
	"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n--- \n# only a comment\n---\n42\n",
	"\xef\xbb\xbfapiVersion: v1\nkind: Pod\n", "apiVersion: v1\nkind: Pod\n\t- tab\n", "{", "[", "]", "---", "", "\x00",
	`[{"apiVersion":"v1","kind":"Pod"}, 3]`, `{"apiVersion":"v1","kind":"Pod"}{"apiVersion":"v1","kind":"Pod"} garbage`,
}

// FuzzDecode checks that Decode never panics or hangs, that every object it
// returns has apiVersion and kind, and that every error is a *manifest.Error
// naming the source. Seeds: every manifest of testdata/manifests and
// testdata/demo, and the hostile inputs above.
func FuzzDecode(f *testing.F) {
	for _, dir := range []string{} {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			switch filepath.Ext(path) {
			case ".yaml", ".yml", ".json":
				b, err := os.ReadFile(path)
				if err != nil {
					return err
				}
				f.Add(b)
			}
			return nil
		})
		if err != nil {
			f.Fatal(err)
		}
	}
	for _, s := range hostileManifests {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		type result struct {
			n   int
			err error
		}
		done := make(chan result, 1)
		go func() {
			objs, err := manifest.Decode(bytes.NewReader(data), "fuzz.yaml")
			for i, o := range objs {
				if o.GetAPIVersion() == "" || o.GetKind() == "" {
					t.Errorf("object %d has no apiVersion or kind: %v", i, o.Object)
				}
			}
			done <- result{len(objs), err}
		}()
		select {
		case r := <-done:
			if r.err != nil {
				var me *manifest.Error
				if !errors.As(r.err, &me) || me.Source != "fuzz.yaml" || !strings.HasPrefix(r.err.Error(), "fuzz.yaml") {
					t.Fatalf("error %v (%T) is not a *manifest.Error naming the source", r.err, r.err)
				}
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("Decode of %d bytes did not return within 10s", len(data))
		}
	})
}
