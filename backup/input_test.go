package backup_test

import (
	"testing"

	"github.com/rigging-dev/rigging/backup"
	"github.com/rigging-dev/rigging/resources"
)

// TestInputSameAsItems: the objects given encoded (NewInput, as backup
// create --from reads manifests) give the files the same objects given as
// Items give, with a namespaced object that has no namespace (put in
// namespace default) and one of a kind nobody defined (an error of the
// backup), with one worker and with several.
func TestInputSameAsItems(t *testing.T) {
	items := append(clusterExport(t),
		obj("v1", "ConfigMap", "", "no-namespace", nil),
		obj("example.com/v1", "Widget", "shop", "w", nil))
	for _, workers := range []int{1, 3} {
		want := backupFiles(t, backup.Options{Items: items, Plugins: builtins(t), Workers: workers})
		enc := make([]resources.Encoded, 0, len(items))
		for _, o := range items {
			e, err := resources.Encode(o)
			if err != nil {
				t.Fatal(err)
			}
			enc = append(enc, e)
		}
		in, errs := backup.NewInput(nil, enc)
		if len(errs) != 1 {
			t.Fatalf("NewInput: %v, want the Widget refused", errs)
		}
		got := backupFiles(t, backup.Options{Input: in, InputErrors: errs, Plugins: builtins(t), Workers: workers})
		sameFiles(t, "encoded input", want, got)
	}
}
