package cli

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/rigging-dev/rigging/cluster"
	"github.com/rigging-dev/rigging/internal/testcluster"
)

// resourceList returns the "Resource List:" section of backup describe
// --details.
func resourceList(t *testing.T, name string) string {
	t.Helper()
	desc := runOK(t, "", "backup", "describe", name, "--details")
	i := strings.Index(desc, "Resource List:")
	if i < 0 {
		t.Fatalf("describe %s has no resource list:\n%s", name, desc)
	}
	return desc[i:]
}

// TestBackupCreateFromCluster: without --from, backup create backs up the
// cluster of --kubeconfig, names it on the first line, and backs up of
// namespace shop exactly the items a backup of the same objects, dumped to
// a manifest file, holds: the built-ins found the same related items
// through the cluster Lookup as through the manifest Lookup.
func TestBackupCreateFromCluster(t *testing.T) {
	c := testcluster.Get(t)
	t.Setenv("RIGGING_HOME", t.TempDir())
	t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "no-such-kubeconfig"))

	out := runOK(t, "", "backup", "create", "live", "--kubeconfig", c.Kubeconfig(), "--include-namespaces", "shop", "--page-size", "3", "--no-progress")
	first, _, _ := strings.Cut(out, "\n")
	if want := "Backing up the cluster of context testcluster, server " + c.Config().Host; first != want {
		t.Errorf("first line %q, want %q", first, want)
	}
	// The 6 errors are the failing test actions on shop's pods
	// (failing_test.go), the warning postgres-0's pre hook, not run. Which
	// items are in it is checked below.
	if !strings.Contains(out, "Backup live: PartiallyFailed.") || !strings.Contains(out, " 1 warnings, 6 errors") {
		t.Errorf("create from the cluster:\n%s\n%s", out, resourceList(t, "live"))
	}

	l, err := cluster.NewLookup(c.Config(), cluster.LookupOptions{})
	if err != nil {
		t.Fatal(err)
	}
	objs, warnings, err := l.Collect(context.Background(), cluster.CollectOptions{})
	if err != nil || len(warnings) > 0 {
		t.Fatalf("Collect: %v %v", warnings, err)
	}
	list, err := json.Marshal(map[string]any{"apiVersion": "v1", "kind": "List", "items": objs})
	if err != nil {
		t.Fatal(err)
	}
	dump := filepath.Join(t.TempDir(), "dump.json")
	if err := os.WriteFile(dump, list, 0o600); err != nil {
		t.Fatal(err)
	}
	runOK(t, "", "backup", "create", "manifests", "--from", dump, "--include-namespaces", "shop", "--no-progress")
	if live, files := resourceList(t, "live"), resourceList(t, "manifests"); live != files {
		t.Errorf("backup of the cluster holds\n%s\nbackup of its manifests holds\n%s", live, files)
	}
}

// TestBackupCreateClusterUnreachable: an API server that does not answer
// (or a context the kubeconfig lacks) is a clear error, and nothing is
// uploaded.
func TestBackupCreateClusterUnreachable(t *testing.T) {
	home := t.TempDir()
	t.Setenv("RIGGING_HOME", home)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	kubeconfig := `apiVersion: v1
kind: Config
clusters:
- name: gone
  cluster: {server: "https://` + addr + `", insecure-skip-tls-verify: true}
users:
- name: u
  user: {token: t}
contexts:
- name: gone
  context: {cluster: gone, user: u}
current-context: gone
`
	if err := os.WriteFile(kc, []byte(kubeconfig), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"no server", []string{"--kubeconfig", kc}, []string{"discovery", addr, "connection refused"}},
		{"no such context", []string{"--kubeconfig", kc, "--context", "nope"}, []string{`context "nope"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, errs, code := run(t, "", append([]string{"backup", "create", "b", "--no-progress"}, tt.args...)...)
			if code != ExitFailure {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, ExitFailure, errs)
			}
			for _, w := range tt.want {
				if !strings.Contains(errs, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errs)
				}
			}
			if _, err := os.Stat(filepath.Join(home, "rigging", "backups", "b")); !os.IsNotExist(err) {
				t.Errorf("a failed backup left backups/b: %v", err)
			}
		})
	}
}

// TestBackupCreateClusterGoneMidBackup: an API server that goes away while
// the backup reads it fails the backup with an error naming what was being
// read; nothing is uploaded and no backup is listed.
func TestBackupCreateClusterGoneMidBackup(t *testing.T) {
	c := testcluster.Get(t)
	home := t.TempDir()
	t.Setenv("RIGGING_HOME", home)
	_, kc := c.FaultProxy(t, func(r *http.Request, n int) (int, http.Header, string, bool) {
		if r.URL.Path == "/api/v1/secrets" {
			panic(http.ErrAbortHandler) // the connection drops, every time
		}
		return 0, nil, "", false
	})
	_, errs, code := run(t, "", "backup", "create", "b", "--kubeconfig", kc, "--no-progress")
	if code != ExitFailure || !strings.Contains(errs, "list secrets in all namespaces") {
		t.Fatalf("exit %d, stderr:\n%s", code, errs)
	}
	if _, err := os.Stat(filepath.Join(home, "rigging", "backups", "b")); !os.IsNotExist(err) {
		t.Errorf("a failed backup left backups/b: %v", err)
	}
	if out := runOK(t, "", "backup", "list", "-o", "json"); strings.Contains(out, `"b"`) {
		t.Errorf("a failed backup is listed: %s", out)
	}
}

// TestBackupCreatePageSize: --page-size (and its alias --client-page-size,
// Velero's server flag name) is the limit of every list request; 0 lists
// without one; a negative size, or the two flags with different sizes, is
// a usage error.
func TestBackupCreatePageSize(t *testing.T) {
	c := testcluster.Get(t)
	tests := []struct {
		name  string
		args  []string
		limit string // of every list request; "" none
		code  int
	}{
		{"default", nil, "500", ExitOK},
		{"page-size", []string{"--page-size", "4"}, "4", ExitOK},
		{"alias", []string{"--client-page-size", "6"}, "6", ExitOK},
		{"both, the same", []string{"--page-size", "7", "--client-page-size", "7"}, "7", ExitOK},
		{"no pagination", []string{"--page-size", "0"}, "", ExitOK},
		{"negative", []string{"--page-size", "-1"}, "", ExitUsage},
		{"both, different", []string{"--page-size", "7", "--client-page-size", "8"}, "", ExitUsage},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("RIGGING_HOME", t.TempDir())
			var (
				mu     sync.Mutex
				limits []string
			)
			_, kc := c.FaultProxy(t, func(r *http.Request, _ int) (int, http.Header, string, bool) {
				// A list of a resource in namespace shop:
				// /api/v1/namespaces/shop/R or /apis/G/V/namespaces/shop/R.
				p := r.URL.Path
				list := strings.HasPrefix(p, "/api/v1/namespaces/shop/") && strings.Count(p, "/") == 5 ||
					strings.HasPrefix(p, "/apis/") && strings.Contains(p, "/namespaces/shop/") && strings.Count(p, "/") == 6
				if r.Method == http.MethodGet && list {
					mu.Lock()
					limits = append(limits, r.URL.Query().Get("limit"))
					mu.Unlock()
				}
				return 0, nil, "", false
			})
			args := append([]string{"backup", "create", "p" + string(rune('a'+i)), "--kubeconfig", kc, "--include-namespaces", "shop", "--no-progress"}, tt.args...)
			_, errs, code := run(t, "", args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, tt.code, errs)
			}
			if code != ExitOK {
				if len(limits) > 0 {
					t.Errorf("%d list requests sent after a usage error", len(limits))
				}
				return
			}
			if len(limits) == 0 || slices.ContainsFunc(limits, func(l string) bool { return l != tt.limit }) {
				t.Errorf("limits of the list requests %v, want all %q", limits, tt.limit)
			}
		})
	}
}
