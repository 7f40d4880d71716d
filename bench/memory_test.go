package bench_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/rigging-dev/rigging/bench"
)

func TestPeakRSS(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range []struct {
		name    string
		ctx     context.Context
		script  string
		wantErr string // substring; "" means success
		is      error
	}{
		{name: "ok", ctx: context.Background(), script: "exit 0"},
		{name: "failure carries stderr", ctx: context.Background(), script: "echo broken manifest >&2; exit 3", wantErr: "broken manifest"},
		{name: "cancelled", ctx: cancelled, script: "exec sleep 60", is: context.Canceled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kib, err := bench.PeakRSS(tc.ctx, exec.Command("sh", "-c", tc.script))
			switch {
			case tc.is != nil:
				if !errors.Is(err, tc.is) {
					t.Fatalf("err = %v, want %v", err, tc.is)
				}
			case tc.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
			case err != nil:
				t.Fatal(err)
			case kib <= 0:
				t.Fatalf("peak RSS %d KiB, want > 0", kib)
			}
		})
	}
}

// TestPeakRSSNotTheParents: a small command's peak RSS is its own, not the
// peak of the process measuring it (Linux counts the memory a vforked
// child starts from in its ru_maxrss).
func TestPeakRSSNotTheParents(t *testing.T) {
	big := make([]byte, 256<<20)
	for i := 0; i < len(big); i += 4096 {
		big[i] = 1
	}
	kib, err := bench.PeakRSS(context.Background(), exec.Command("sh", "-c", "exit 0"))
	runtime.KeepAlive(big)
	if err != nil {
		t.Fatal(err)
	}
	if kib > 160<<10 { // the launcher (this binary, under -race: about 80 MiB) is the floor
		t.Errorf("peak RSS of sh -c 'exit 0' = %d KiB, want under 160 MiB (this process holds 256 MiB)", kib)
	}
}

// TestMeasureMemory runs a stand-in for rigging that checks its arguments
// and writes into the store it is given: one row per set, the baseline
// measured, the temporary stores removed.
func TestMeasureMemory(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	bin := filepath.Join(t.TempDir(), "rigging")
	script := `#!/bin/sh
[ "$1 $2" = "backup --config" ] || { echo "args: $*" >&2; exit 2; }
root=${3#root=}; mkdir -p "$root" && : > "$root/x"
`
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	items := t.TempDir()
	rows, err := bench.MeasureMemory(context.Background(), bin, []bench.MemorySet{{Dir: items, Items: 10}}, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 {
		t.Fatalf("%d rows, want 1", len(rows))
	}
	r := rows[0]
	if r.Name != "rss-manifests-10" || r.Items != 10 || r.Runs != 3 || r.PeakRSSKiB <= 0 || r.BaselineKiB <= 0 ||
		!strings.Contains(r.Command, "--from "+items) {
		t.Errorf("row %+v", r)
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("left in TMPDIR: %v", left)
	}
	if _, err := bench.MeasureMemory(context.Background(), bin, []bench.MemorySet{{Dir: items, Items: 1}}, 1); err == nil {
		t.Error("a one-item set was accepted")
	}
}
