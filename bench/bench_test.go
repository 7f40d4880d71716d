package bench_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rigging-dev/rigging/bench"
	_ "github.com/rigging-dev/rigging/builtin/all"
	"github.com/rigging-dev/rigging/manifest"
)

func TestMain(m *testing.M) {
	if bench.ServeIfChild() {
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func self(tb testing.TB) string {
	bin, err := os.Executable()
	if err != nil {
		tb.Fatal(err)
	}
	return bin
}

// TestRunAllGroups runs every group once with tiny counts and checks that
// every result and every ratio the main module can measure is there, and
// that the Velero-only ratios say why they are missing.
func TestRunAllGroups(t *testing.T) {
	if testing.Short() {
		t.Skip("starts plugin processes")
	}
	dir := t.TempDir()
	if out, err := exec.Command("bash", "../testdata/manifests/gen-large.sh", "-n", "200", "-s", "2", dir).CombinedOutput(); err != nil {
		t.Fatalf("gen-large.sh: %v\n%s", err, out)
	}
	items, err := manifest.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := bench.Run(context.Background(), bench.Config{
		PluginBinary: self(t), FloorCommand: bench.FloorCommand(self(t)),
		Rounds: 1, Calls: 3, ObjectSize: 1 << 20, Items: items,
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{bench.Direct, bench.InProcess, bench.InMemoryGRPC, bench.RiggingRigging, bench.FloorGRPC, bench.FloorUnix,
		bench.Parallel(bench.RiggingRigging, 64), bench.Parallel(bench.FloorGRPC, 8), bench.Put(bench.RiggingRigging), bench.Get(bench.RiggingRigging), bench.Put(bench.FloorGRPC), bench.Get(bench.FloorUnix),
		bench.DiscoveryCold, bench.DiscoveryWarm, bench.FirstCall, bench.BackupInProcess, bench.BackupRPC}
	for _, name := range want {
		r, ok := rep.Result(name)
		if !ok || r.Ops == 0 || r.NsPerOp <= 0 {
			t.Errorf("result %s missing or empty: %+v", name, r)
		}
	}
	if r, _ := rep.Result(bench.BackupInProcess); r.Ops < 200 {
		t.Errorf("backup counted %d items, want at least the 200 generated", r.Ops)
	}
	// The plugin process's actions read the items as the in-process ones
	// do (bench.EnvLookup), not a cluster: they back up the same items.
	in, _ := rep.Result(bench.BackupInProcess)
	if rpc, _ := rep.Result(bench.BackupRPC); rpc.Ops != in.Ops {
		t.Errorf("backup over RPC counted %d items, in-process %d", rpc.Ops, in.Ops)
	}
	if r, _ := rep.Result(bench.Get(bench.RiggingRigging)); r.MBPerS <= 0 {
		t.Errorf("get has no MB/s: %+v", r)
	}
	for _, k := range []string{"inproc_vs_direct_ns", "inproc_allocs", "rpc_vs_grpc_floor", "backup_items_per_s", "backup_inproc_vs_rpc"} {
		if _, ok := rep.Ratios[k]; !ok {
			t.Errorf("ratio %s missing: %s", k, rep.Missing[k])
		}
	}
	for _, k := range []string{"velero_vs_rpc", "c8_vs_velero", "firstcall_vs_velero"} {
		if !strings.Contains(rep.Missing[k], "interop") {
			t.Errorf("missing[%s] = %q, want a pointer to the interop program", k, rep.Missing[k])
		}
	}
	if len(rep.Ratios)+len(rep.Missing) != len(bench.Targets) {
		t.Errorf("%d ratios + %d missing, want %d keys", len(rep.Ratios), len(rep.Missing), len(bench.Targets))
	}
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var generic map[string]any
	json.Unmarshal(b, &generic)
	for _, k := range []string{"machine", "results", "ratios"} {
		if _, ok := generic[k]; !ok {
			t.Errorf("JSON has no %q", k)
		}
	}
	res := generic["results"].([]any)[0].(map[string]any)
	for _, k := range []string{"name", "ns_per_op", "p50_ns", "p99_ns", "allocs_per_op", "ops_per_s", "mb_per_s"} {
		if _, ok := res[k]; !ok {
			t.Errorf("result JSON has no %q", k)
		}
	}
	md := rep.Markdown()
	for _, s := range []string{"rigging host → rigging plugin", "`backup_inproc_vs_rpc`", "bench-per-call.svg"} {
		if !strings.Contains(md, s) {
			t.Errorf("Markdown lacks %q", s)
		}
	}
	if svg := string(rep.SVG()); !strings.HasPrefix(svg, "<svg") || !strings.Contains(svg, "raw unix-socket round trip") {
		t.Errorf("SVG:\n%s", svg)
	}
}

func TestUpdateDoc(t *testing.T) {
	path := filepath.Join(t.TempDir(), "B.md")
	os.WriteFile(path, []byte("# Benchmarks\n\n## Hand-written\ntext\n"), 0o644)
	if err := bench.UpdateDoc(path, "one\n"); err != nil {
		t.Fatal(err)
	}
	if err := bench.UpdateDoc(path, "two\n"); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	want := "# Benchmarks\n\n## Hand-written\ntext\n\n" + bench.BeginMarker + "\ntwo\n" + bench.EndMarker + "\n"
	if string(got) != want {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}
	os.WriteFile(path, []byte("x\n"+bench.EndMarker+"\n"), 0o644)
	if err := bench.UpdateDoc(path, "y"); err == nil {
		t.Error("unbalanced markers accepted")
	}
}

// TestHostOps drives the operations of a host process against this test
// binary as the plugin.
func TestHostOps(t *testing.T) {
	if testing.Short() {
		t.Skip("starts plugin processes")
	}
	dir := t.TempDir()
	if err := bench.LinkBinary(self(t), filepath.Join(dir, "plugins")); err != nil {
		t.Fatal(err)
	}
	t.Setenv(bench.EnvPlugins, "1")
	ops, closeAll, err := bench.HostOps(context.Background(), dir, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer closeAll()
	for _, op := range []string{"exec", "exec-c1", "exec-c8", "exec-c64", "put", "get"} {
		run, ok := ops[op]
		if !ok {
			t.Errorf("no %s operation", op)
			continue
		}
		s, err := run(2)
		if err != nil || s.N != 2 {
			t.Errorf("%s: %+v %v", op, s, err)
		}
		if (op == "put" || op == "get") && s.Bytes != 2<<20 {
			t.Errorf("%s moved %d bytes, want %d", op, s.Bytes, 2<<20)
		}
	}
}
