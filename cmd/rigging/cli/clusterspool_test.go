package cli

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/rigging-dev/rigging/internal/testcluster"
)

// openSpools returns the files of dir that this process holds open, by
// the names /proc gives them (" (deleted)" appended once unlinked).
func openSpools(t *testing.T, dir string) []string {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, fd := range fds {
		if target, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name())); err == nil && strings.HasPrefix(target, dir+string(filepath.Separator)) {
			out = append(out, target)
		}
	}
	return out
}

// TestBackupCreateClusterCancelledSpool: backup create from a cluster
// spools the listed objects to a file of $TMPDIR that is unlinked while it
// is in use; cancelled during the lists, the command fails with the
// context's error and leaves nothing in $TMPDIR, and no backup.
func TestBackupCreateClusterCancelledSpool(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc/self/fd")
	}
	c := testcluster.Get(t)
	home, tmp := t.TempDir(), t.TempDir()
	t.Setenv("RIGGING_HOME", home)
	t.Setenv("TMPDIR", tmp)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var (
		once sync.Once
		open []string
	)
	_, kc := c.FaultProxy(t, func(r *http.Request, n int) (int, http.Header, string, bool) {
		if r.URL.Path == "/api/v1/secrets" {
			once.Do(func() {
				open = openSpools(t, tmp)
				cancel()
			})
		}
		return 0, nil, "", false
	})
	var out, errb bytes.Buffer
	code := Run(ctx, []string{"backup", "create", "b", "--kubeconfig", kc, "--no-progress"}, strings.NewReader(""), &out, &errb)
	if code == ExitOK || !strings.Contains(errb.String(), "context canceled") {
		t.Errorf("cancelled during the lists: exit %d, stderr:\n%s", code, errb.String())
	}
	if len(open) != 1 || !strings.Contains(open[0], "rigging-spool-") || !strings.HasSuffix(open[0], " (deleted)") {
		t.Errorf("files of TMPDIR open during the lists: %q, want one unlinked spool", open)
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("left in TMPDIR: %v", left)
	}
	if left := openSpools(t, tmp); len(left) != 0 {
		t.Errorf("still open after the command: %q", left)
	}
	if _, err := os.Stat(filepath.Join(home, "rigging", "backups", "b")); !os.IsNotExist(err) {
		t.Errorf("a cancelled backup left backups/b: %v", err)
	}
}
