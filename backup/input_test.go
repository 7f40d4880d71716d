package backup_test

import (
	"context"
	"errors"
	"os"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rigging-dev/rigging/archive"
	"github.com/rigging-dev/rigging/archive/archivetest"
	"github.com/rigging-dev/rigging/backup"
	"github.com/rigging-dev/rigging/resources"
)

// TestInputSameAsItems: the objects given encoded (NewInput, as backup
// create --from reads manifests), in memory or spooled to a temporary file
// (resources.Spool), give the files the same objects given as Items give,
// byte for byte, with a namespaced object that has no namespace (put in
// namespace default) and one of a kind nobody defined (an error of the
// backup), with one worker and with several.
func TestInputSameAsItems(t *testing.T) {
	items := append(clusterExport(t),
		obj("v1", "ConfigMap", "", "no-namespace", nil),
		obj("example.com/v1", "Widget", "shop", "w", nil))
	for _, spooled := range []bool{false, true} {
		for _, workers := range []int{1, 3} {
			want := backupFiles(t, backup.Options{Items: items, Plugins: builtins(t), Workers: workers})
			encode := resources.Encode
			if spooled {
				dir := t.TempDir()
				sp, err := resources.NewSpool(dir)
				if err != nil {
					t.Fatal(err)
				}
				defer sp.Close()
				encode = sp.Encode
			}
			in, errs := backup.NewInput(nil, encodeAll(t, items, encode))
			if len(errs) != 1 {
				t.Fatalf("NewInput: %v, want the Widget refused", errs)
			}
			got := backupFiles(t, backup.Options{Input: in, InputErrors: errs, Plugins: builtins(t), Workers: workers})
			what := "encoded input"
			if spooled {
				what = "spooled input"
			}
			sameFiles(t, what, want, got)
		}
	}
}

func encodeAll(t *testing.T, items []*unstructured.Unstructured, encode func(*unstructured.Unstructured) (resources.Encoded, error)) []resources.Encoded {
	t.Helper()
	enc := make([]resources.Encoded, 0, len(items))
	for _, o := range items {
		e, err := encode(o)
		if err != nil {
			t.Fatal(err)
		}
		enc = append(enc, e)
	}
	return enc
}

// TestSpooledInputEnds: a backup of a spooled input that is cancelled
// fails with the context's error, one whose spool is closed under it (every
// read fails) with ErrSpoolClosed; neither leaves a file in the spool's
// directory.
func TestSpooledInputEnds(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range []struct {
		name       string
		ctx        context.Context
		closeFirst bool
		want       error
	}{
		{name: "cancelled", ctx: cancelled, want: context.Canceled},
		{name: "spool closed", ctx: context.Background(), closeFirst: true, want: resources.ErrSpoolClosed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			sp, err := resources.NewSpool(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer sp.Close()
			in, errs := backup.NewInput(nil, encodeAll(t, clusterExport(t), sp.Encode))
			if len(errs) != 0 {
				t.Fatal(errs)
			}
			if tc.closeFirst {
				sp.Close()
			}
			opts := backup.Options{Name: "b1", Input: in, Plugins: builtins(t),
				Store: archive.NewStore(archivetest.NewMemStore(), bucket, "")}
			if _, err := backup.Run(tc.ctx, opts); !errors.Is(err, tc.want) {
				t.Errorf("backup: %v, want %v", err, tc.want)
			}
			if left, _ := os.ReadDir(dir); len(left) != 0 {
				t.Errorf("left in the spool's directory: %v", left)
			}
		})
	}
}
