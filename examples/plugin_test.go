package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/external"
	"github.com/rigging-dev/rigging/external/conformance"
	"github.com/rigging-dev/rigging/registry"
)

// TestConformance builds this plugin binary and runs rigging's parity suite
// on every plugin it serves: directly, over in-memory gRPC and across the
// binary, as a host would run it. The same check from the command line:
//
//	rigging verify --plugin-dir DIR --kind ObjectStore --name example.com/dir --config root=/tmp/x
func TestConformance(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	bin := filepath.Join(dir, "rigging-example-plugin")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cat, err := external.Discover(ctx, external.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	if n := len(cat.Plugins()); n != 6 || len(cat.Problems()) != 0 {
		t.Fatalf("discovered %d plugins (%v), problems %v", n, cat.Plugins(), cat.Problems())
	}
	reg := registry.New()
	register(reg)
	for _, e := range reg.All() {
		t.Run(string(e.Kind)+"/"+string(e.Name), func(t *testing.T) {
			mem, stop, err := conformance.InMemory(reg, e.Kind, e.Name, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer stop()
			var cfg map[string]string
			if e.Kind == rigging.KindObjectStore || e.Kind == rigging.KindVolumeSnapshotter {
				cfg = map[string]string{"root": t.TempDir()}
			}
			rep, err := conformance.Run(ctx, conformance.Options{Kind: e.Kind, Name: e.Name, Config: cfg},
				conformance.Direct(reg, e.Kind, e.Name, nil), mem, conformance.Subprocess(cat, e.Kind, e.Name))
			if err != nil {
				t.Fatal(err)
			}
			if !rep.OK() {
				t.Error(rep)
			}
		})
	}
	_ = os.Remove(bin)
}
