package faults

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var full = flag.Bool("faults.full", false, "run the full-size fault and load tests (10 000 items per SIGKILL run, 64 x 10 000 calls)")

// faultPlugin is the binary built from testdata/faultplugin by TestMain.
var faultPlugin string

func TestMain(m *testing.M) {
	flag.Parse()
	if dir := os.Getenv(hostHelperEnv); dir != "" {
		hostHelper(dir) // a child process of TestHostKilled; never returns
	}
	dir, err := os.MkdirTemp("", "rigging-faults")
	if err != nil {
		panic(err)
	}
	faultPlugin = filepath.Join(dir, "faultplugin")
	// CGO_ENABLED=0: a pure-Go binary, as plugins are shipped, whose threads
	// do not take glibc's 8 MiB stacks (the leaky plugin runs under a tight
	// RLIMIT_DATA).
	build := exec.Command("go", "build", "-o", faultPlugin, "./testdata/faultplugin")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := build.CombinedOutput()
	if err != nil {
		os.RemoveAll(dir)
		panic("build testdata/faultplugin: " + err.Error() + "\n" + string(out))
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// pluginDir returns a new plugin directory holding the fault plugin under
// each of names (hard links, or copies where links fail).
func pluginDir(t testing.TB, names ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, n := range names {
		installAs(t, dir, n)
	}
	return dir
}

func installAs(t testing.TB, dir, name string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.Link(faultPlugin, p); err != nil {
		b, err := os.ReadFile(faultPlugin)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// logBuffer is a slog handler target that tests read and grep.
type logBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// newLogger returns a debug-level text logger writing into a logBuffer,
// and to the test log as well when -v is given.
func newLogger(t testing.TB) (*slog.Logger, *logBuffer) {
	lb := &logBuffer{}
	var w io.Writer = lb
	if testing.Verbose() && os.Getenv("FAULTS_LOG") != "" {
		w = io.MultiWriter(lb, os.Stderr)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug})), lb
}

// children returns the PIDs of this process's live (non-zombie) children.
func children(t testing.TB) []int {
	t.Helper()
	self := os.Getpid()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, e := range ents {
		var pid int
		if _, err := fmt.Sscan(e.Name(), &pid); err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...; comm may hold spaces and parentheses.
		rest := string(b[strings.LastIndexByte(string(b), ')')+2:])
		var state string
		var ppid int
		if _, err := fmt.Sscan(rest, &state, &ppid); err != nil {
			continue
		}
		if ppid == self && state != "Z" {
			out = append(out, pid)
		}
	}
	return out
}

// openFDs counts this process's open file descriptors.
func openFDs(t testing.TB) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}
