// Package proctest helps tests check that what a command started is gone:
// its processes (process groups, read from /proc on Linux) and its
// temporary files.
package proctest

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// stat returns the fields of /proc/PID/stat after the command name: state,
// ppid, pgrp, ...; nil when pid does not exist.
func stat(pid string) []string {
	b, err := os.ReadFile(filepath.Join("/proc", pid, "stat"))
	if err != nil {
		return nil
	}
	_, rest, _ := strings.Cut(string(b), ") ")
	return strings.Fields(rest)
}

// Group returns the process group of pid, or -1 when pid does not run.
func Group(pid int) int {
	f := stat(strconv.Itoa(pid))
	if len(f) < 3 {
		return -1
	}
	g, err := strconv.Atoi(f[2])
	if err != nil {
		return -1
	}
	return g
}

// Members lists the live (not zombie) processes of process group pgid.
func Members(pgid int) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	want := strconv.Itoa(pgid)
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if f := stat(e.Name()); len(f) > 2 && f[2] == want && f[0] != "Z" && f[0] != "X" {
			out = append(out, pid)
		}
	}
	return out
}

// Gone fails t unless process pid is gone (or a zombie) within 5s: a
// SIGKILL is delivered asynchronously, so a process killed a moment ago may
// still be running. A survivor is killed.
func Gone(t testing.TB, pid int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		f := stat(strconv.Itoa(pid))
		if len(f) == 0 || f[0] == "Z" || f[0] == "X" {
			return
		}
		if time.Now().After(deadline) {
			if p, err := os.FindProcess(pid); err == nil {
				_ = p.Kill()
			}
			t.Fatalf("process %d survived (state %s)", pid, f[0])
		}
		time.Sleep(10 * time.Millisecond) // polling another process's state
	}
}

// GroupGone fails t unless every process of group pgid is gone within 5s
// (a SIGKILL is delivered asynchronously); survivors are killed. A pgid
// equal to the test's own group fails at once: the plugin was not given a
// group of its own.
func GroupGone(t testing.TB, pgid int) {
	t.Helper()
	if pgid == Group(os.Getpid()) {
		t.Fatalf("the plugin runs in the test's own process group %d", pgid)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		left := Members(pgid)
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			for _, pid := range left {
				if p, err := os.FindProcess(pid); err == nil {
					_ = p.Kill()
				}
			}
			t.Fatalf("processes %v of plugin group %d survived", left, pgid)
		}
		time.Sleep(10 * time.Millisecond) // polling other processes' state
	}
}

// ReadPID waits (up to 30s) for a process to write its PID to file.
func ReadPID(t testing.TB, file string) int {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, err := os.ReadFile(file)
		if pid, perr := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && perr == nil {
			return pid
		}
		if time.Now().After(deadline) {
			t.Fatalf("no PID in %s after 30s", file)
		}
		time.Sleep(10 * time.Millisecond) // polling another process's output
	}
}

// Runner runs a package's tests and returns their exit code: a *testing.M,
// or a RunFunc that wraps one in another harness (such as testcluster.Main).
type Runner interface{ Run() int }

// RunFunc is a func that is a Runner.
type RunFunc func() int

// Run calls f.
func (f RunFunc) Run() int { return f() }

// RunWithPrivateTempDir runs m's tests with TMPDIR set to a new empty
// directory, then cleanup (if not nil), and returns the tests' exit code,
// or 1 when anything is left in that directory (named on stderr): every
// temporary file and socket the tests' code creates must be removed. The
// directory is removed.
func RunWithPrivateTempDir(m Runner, cleanup func()) int {
	tmp, err := os.MkdirTemp("", "rigging-test-tmp")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(tmp)
	old, had := os.LookupEnv("TMPDIR")
	os.Setenv("TMPDIR", tmp)
	code := m.Run()
	if cleanup != nil {
		cleanup()
	}
	if had {
		os.Setenv("TMPDIR", old)
	} else {
		os.Unsetenv("TMPDIR")
	}
	if names, err := Entries(tmp); err != nil || len(names) > 0 {
		fmt.Fprintf(os.Stderr, "FAIL: the tests left %v in TMPDIR (%v)\n", names, err)
		return 1
	}
	return code
}

// Entries lists the names in directory dir.
func Entries(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names, err
}

// ShortTempDir returns a new directory in TMPDIR, removed when t ends, to
// be the TMPDIR of a rigging process a test runs: short enough that
// rigging's plugin socket directory stays inside it (under a directory as
// deep as t.TempDir's, rigging makes that directory in /tmp instead, where
// neither the test's clean-up nor its checks that TMPDIR is left empty see
// it).
func ShortTempDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "t")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}
