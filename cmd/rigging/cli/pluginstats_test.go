package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// testPluginDir returns a plugin directory holding external's test plugin,
// with a private RIGGING_HOME and none of the RIGGING_PLUGIN_* fallbacks
// set.
func testPluginDir(t *testing.T) string {
	t.Helper()
	t.Setenv("RIGGING_HOME", t.TempDir())
	for _, e := range []string{envStrict, envAllowWritable, envAutoMTLS, envEnvAllow, envGrace, envChecksums, envMemoryLimit} {
		t.Setenv(e, "")
	}
	bin, err := testPluginBin()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	if err := os.Symlink(bin, filepath.Join(dir, "testplugin")); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestPluginsStats: `plugins --stats` starts the process of each binary in
// --plugin-dir and prints its stats, as a table or JSON; a binary that
// cannot start under --plugin-memory-limit is shown not running and fails
// the command with the limit named; without --plugin-dir it is a usage
// error.
func TestPluginsStats(t *testing.T) {
	dir := testPluginDir(t)
	bin := filepath.Join(dir, "testplugin")

	out := runOK(t, "", "plugins", "--stats", "--plugin-dir", dir)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || strings.Join(strings.Fields(lines[0]), " ") != "BINARY PID RSS CPU RESTARTS OPEN CALLS UPTIME" {
		t.Fatalf("table:\n%s", out)
	}
	row := strings.Fields(lines[1])
	if len(row) != 7 || row[0] != bin || row[1] == "-" || !strings.HasSuffix(row[2], "Mi") || row[4] != "0" || row[5] != "0" {
		t.Errorf("row %q", row)
	}

	var got []map[string]any
	if err := json.Unmarshal([]byte(runOK(t, "", "plugins", "--stats", "-o", "json", "--plugin-dir", dir)), &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0]["binary"] != bin || got[0]["running"] != true || got[0]["pid"].(float64) <= 0 ||
		got[0]["rss_bytes"].(float64) < 1<<20 || got[0]["restarts"] != 0.0 || got[0]["open_calls"] != 0.0 {
		t.Errorf("json: %v", got)
	}

	out, errs, code := run(t, "", "plugins", "--stats", "--plugin-dir", dir, "--plugin-memory-limit", "20Mi")
	if code != ExitFailure || !strings.Contains(errs, "memory limit of 20Mi") || !strings.Contains(out, bin+"  -  ") {
		t.Errorf("too small a limit: exit %d\nstdout %s\nstderr %s", code, out, errs)
	}

	if _, errs, code := run(t, "", "plugins", "--stats"); code != ExitUsage || !strings.Contains(errs, "--plugin-dir") {
		t.Errorf("no --plugin-dir: exit %d, %s", code, errs)
	}
}

// TestBackupPluginMemoryLimit: under --plugin-memory-limit, the item whose
// backup makes the plugin allocate past the limit fails with an error
// naming the plugin, its binary and the limit; the plugin is restarted and
// the next item's call to it succeeds; at the end, --log-level debug logs
// the plugin process's stats: one restart per call that died (the item
// block action and the backup item action of the test plugin both
// allocate). 384Mi leaves an idle plugin room to start its threads on a
// loaded machine (at 256Mi a restarted one could fail its pthread_create,
// a third restart) and is still far below the 512 MiB the item asks for.
func TestBackupPluginMemoryLimit(t *testing.T) {
	dir := testPluginDir(t)
	bin := filepath.Join(dir, "testplugin")
	const pods = `apiVersion: v1
kind: Pod
metadata: {name: alloc-512, namespace: ns1, labels: {app: web}}
---
apiVersion: v1
kind: Pod
metadata: {name: zz-after, namespace: ns1, labels: {app: web}}
`
	out, errs, code := run(t, pods, "backup", "create", "mem", "--from", "-", "--workers", "1",
		"--plugin-dir", dir, "--plugin-memory-limit", "384Mi", "--log-level", "debug")
	if code != ExitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	desc := runOK(t, "", "backup", "describe", "mem", "--details")
	want := "pods/ns1/alloc-512: plugin test.rigging.dev/bia: Execute: "
	limit := "plugin binary " + bin + " exceeded its memory limit of 384Mi"
	if !strings.Contains(desc, want) || !strings.Contains(desc, limit) {
		t.Errorf("describe --details lacks %q ... %q:\n%s", want, limit, desc)
	}
	// The next pod got past the test plugin (the test binary's own failing
	// actions, which follow it, fail it).
	if strings.Contains(desc, "pods/ns1/zz-after: plugin test.rigging.dev/bia") || !strings.Contains(desc, "pods/ns1/zz-after: plugin test.rigging.dev/fails") {
		t.Errorf("the call after the restart failed:\n%s", desc)
	}
	if !strings.Contains(errs, `msg="plugin process stats" binary=`+bin+" running=true") || !regexp.MustCompile(`restarts=[1-9][0-9]* open_calls=0`).MatchString(errs) {
		t.Errorf("debug log lacks the process stats:\n%s", errs)
	}
}
