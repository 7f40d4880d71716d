package cli

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rigging-dev/rigging/internal/proctest"
	"github.com/rigging-dev/rigging/internal/testcluster"
)

// testBinDirs are the directories of binaries built for this test binary,
// removed by TestMain (which runs the tests with a private TMPDIR and
// fails when they leave anything in it).
var (
	testBinMu   sync.Mutex
	testBinDirs []string
)

// buildTestBin builds package pkg as dir/name, in a new directory TestMain
// removes, and returns its path.
func buildTestBin(pkg, name string) (string, error) {
	dir, err := os.MkdirTemp("", "rigging-cli-bin")
	if err != nil {
		return "", err
	}
	testBinMu.Lock()
	testBinDirs = append(testBinDirs, dir)
	testBinMu.Unlock()
	bin := filepath.Join(dir, name)
	if out, err := exec.Command("go", "build", "-o", bin, pkg).CombinedOutput(); err != nil {
		return "", fmt.Errorf("build %s: %w\n%s", pkg, err, out)
	}
	return bin, nil
}

// TestMain runs the tests with a private TMPDIR that must be empty after
// them, and with the package's test API server (seeded with cluster-export)
// for the live-cluster tests.
func TestMain(m *testing.M) {
	run := proctest.RunFunc(func() int {
		return testcluster.Main(m, testcluster.Options{Seed: []string{testcluster.ClusterExport}})
	})
	os.Exit(proctest.RunWithPrivateTempDir(run, func() {
		for _, d := range testBinDirs {
			os.RemoveAll(d)
		}
	}))
}

// riggingBin builds the rigging binary once per test binary. With
// $RIGGING_TEST_BINARY set it uses that binary instead (to check an older
// build against these tests).
var riggingBin = sync.OnceValues(func() (string, error) {
	if bin := os.Getenv("RIGGING_TEST_BINARY"); bin != "" {
		return bin, nil
	}
	return buildTestBin("github.com/rigging-dev/rigging/cmd/rigging", "rigging")
})

// binEnv is an environment for the rigging binary with its own TMPDIR and
// RIGGING_HOME, and none of the RIGGING_PLUGIN_* fallbacks.
func binEnv(tmp, home string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TMPDIR=") && !strings.HasPrefix(kv, "RIGGING_") {
			env = append(env, kv)
		}
	}
	return append(env, "TMPDIR="+tmp, "RIGGING_HOME="+home)
}

// hangingPlugins are plugin scripts that never serve: the shell waits for
// a child that holds its stdout and stderr (the child outlives any kill of
// the shell alone). Each writes the shell's PID to the file %[1]s.
var hangingPlugins = map[string]string{
	"sleeping shell": "#!/bin/sh\necho $$ > %[1]s\nsleep 300\n",
	"fake handshake": "#!/bin/sh\necho $$ > %[1]s\necho '1|2|unix|%[1]s.sock|grpc|'\nsleep 300\n",
}

// hangingPluginDir returns a plugin directory holding script (of
// hangingPlugins) and the file its PID will be written to.
func hangingPluginDir(t *testing.T, script string) (dir, pidFile string) {
	t.Helper()
	pidFile = filepath.Join(t.TempDir(), "pid")
	dir = t.TempDir()
	os.Chmod(dir, 0o755)
	if err := os.WriteFile(filepath.Join(dir, "plugin"), fmt.Appendf(nil, script, pidFile), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir, pidFile
}

// interrupt starts the rigging binary with args, waits until the plugin
// of pidFile runs, sends sig to rigging and returns its exit code, how long
// it took to exit after the signal, its stderr, and the plugin's process
// group.
func interrupt(t *testing.T, env []string, sig syscall.Signal, pidFile string, args ...string) (code int, took time.Duration, stderr string, pgid int) {
	t.Helper()
	bin, err := riggingBin()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pgid = proctest.ReadPID(t, pidFile) // the shell leads its group
	start := time.Now()
	if err := cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	timer := time.AfterFunc(time.Minute, func() { cmd.Process.Kill() })
	defer timer.Stop()
	err = cmd.Wait()
	took = time.Since(start)
	code = cmd.ProcessState.ExitCode()
	if ee, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatalf("wait: %v", err)
	} else if ok && ee.ProcessState.ExitCode() < 0 {
		t.Fatalf("rigging did not exit by itself: %v", err)
	}
	return code, took, errb.String(), pgid
}

// TestSignalStopsDiscovery runs the real binary on plugins that never
// answer: SIGINT and SIGTERM stop it long before the probe timeout (10s),
// with exit code 130 or 143, and no process of the plugin's group
// survives. Before, the command ignored both signals, waited until the
// plugin's child exited (5 minutes), and exited 0.
func TestSignalStopsDiscovery(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("process groups are killed as a whole on Linux only")
	}
	const probeTimeout = 10 * time.Second // external.Options' default
	for name, script := range hangingPlugins {
		for _, s := range []struct {
			sig  syscall.Signal
			code int
		}{{syscall.SIGINT, ExitInterrupted}, {syscall.SIGTERM, ExitTerminated}} {
			t.Run(fmt.Sprintf("%s, %v", name, s.sig), func(t *testing.T) {
				dir, pidFile := hangingPluginDir(t, script)
				tmp := proctest.ShortTempDir(t)
				code, took, stderr, pgid := interrupt(t, binEnv(tmp, t.TempDir()), s.sig, pidFile, "plugins", "--plugin-dir", dir)
				if code != s.code || took >= probeTimeout {
					t.Errorf("exit %d after %s, want %d well within the %s probe timeout; stderr:\n%s", code, took, s.code, probeTimeout, stderr)
				}
				if !strings.Contains(stderr, "rigging: interrupted by SIG") {
					t.Errorf("stderr does not report the interruption:\n%s", stderr)
				}
				proctest.GroupGone(t, pgid)
				assertEmptyDir(t, tmp)
			})
		}
	}
}

// assertEmptyDir fails t when dir holds anything.
func assertEmptyDir(t *testing.T, dir string) {
	t.Helper()
	if names, err := proctest.Entries(dir); err != nil || len(names) > 0 {
		t.Errorf("TMPDIR %s holds %v (%v)", dir, names, err)
	}
}

// TestTempDirUnchanged runs a suite of commands with the real binary and a
// private TMPDIR, and checks after each that TMPDIR is empty again: the
// plugin socket directories, go-plugin's own socket directory, the
// plugins' data sockets and the backup logs are all removed, an
// interrupted command's too.
func TestTempDirUnchanged(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("process groups are killed as a whole on Linux only")
	}
	bin, err := riggingBin()
	if err != nil {
		t.Fatal(err)
	}
	plugin, err := testPluginBin()
	if err != nil {
		t.Fatal(err)
	}
	tmp, home := proctest.ShortTempDir(t), t.TempDir()
	env := binEnv(tmp, home)
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	if err := os.Symlink(plugin, filepath.Join(dir, "testplugin")); err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	item := filepath.Join(work, "pod.yaml")
	os.WriteFile(item, []byte("apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: ns1, labels: {app: web}}\n"), 0o644)
	restored := filepath.Join(work, "restored")
	for _, args := range [][]string{
		{"plugins"},
		{"plugins", "--plugin-dir", dir},
		{"plugins", "--plugin-dir", dir, "--plugin-auto-mtls=false"},
		{"exec", "BackupItemAction", "test.rigging.dev/bia", "--item", item, "--plugin-dir", dir},
		{"store", "put", "k", item},
		{"store", "get", "k"},
		{"store", "--plugin-dir", dir, "--provider", "test.rigging.dev/store", "--bucket", "b", "--config", "root=" + work, "put", "k", item},
		{"backup", "create", "b1", "--from", "../../../testdata/demo"},
		{"backup", "list"},
		{"restore", "create", "r1", "--from-backup", "b1", "--to", restored},
	} {
		cmd := exec.Command(bin, args...)
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("rigging %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		t.Run(strings.Join(args[:min(2, len(args))], " "), func(t *testing.T) { assertEmptyDir(t, tmp) })
	}
	hang, pidFile := hangingPluginDir(t, hangingPlugins["sleeping shell"])
	code, _, stderr, _ := interrupt(t, env, syscall.SIGTERM, pidFile, "plugins", "--plugin-dir", hang)
	if code != ExitTerminated {
		t.Errorf("interrupted: exit %d, stderr:\n%s", code, stderr)
	}
	t.Run("interrupted", func(t *testing.T) { assertEmptyDir(t, tmp) })
}
