package faults

import (
	"bufio"
	"context"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rigging-dev/rigging/external"
)

// TestChecksumPinning: with checksums pinned, a binary whose digest differs,
// or that has no entry, is refused, naming the file; the pinned one runs.
func TestChecksumPinning(t *testing.T) {
	dir := pluginDir(t, "echo", "junk")
	if err := os.WriteFile(filepath.Join(dir, "unpinned"), []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(faultPlugin)
	if err != nil {
		t.Fatal(err)
	}
	good := sha256.Sum256(b)
	bad := sha256.Sum256([]byte("not the binary"))
	log, _ := newLogger(t)
	cat, err := external.Discover(context.Background(), external.Options{Dir: dir, Logger: log,
		Checksums: map[string][]byte{filepath.Join(dir, "echo"): good[:], filepath.Join(dir, "junk"): bad[:]}})
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	problems := map[string]string{}
	for _, p := range cat.Problems() {
		problems[filepath.Base(p.Path)] = p.Error()
		t.Logf("problem: %v", p)
	}
	if !strings.Contains(problems["junk"], filepath.Join(dir, "junk")) || !strings.Contains(strings.ToLower(problems["junk"]), "checksum") {
		t.Errorf("mismatching binary: problem %q, want a checksum error naming the file", problems["junk"])
	}
	if !strings.Contains(problems["unpinned"], "checksum") {
		t.Errorf("unpinned binary: problem %q, want a refusal", problems["unpinned"])
	}
	if len(cat.Plugins()) == 0 || filepath.Base(cat.Plugins()[0].Source) != "echo" {
		t.Errorf("the pinned binary's plugins: %v", cat.Plugins())
	}
}

// TestWritablePlugins: a plugin directory or binary writable by other users
// is refused unless AllowWritable says otherwise.
func TestWritablePlugins(t *testing.T) {
	// A copy, not a hard link: chmod would change the shared binary.
	dir := t.TempDir()
	b, err := os.ReadFile(faultPlugin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "echo"), b, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dir, "echo"), 0o777); err != nil {
		t.Fatal(err)
	}
	log, _ := newLogger(t)
	cat, err := external.Discover(context.Background(), external.Options{Dir: dir, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	if len(cat.Plugins()) != 0 || len(cat.Problems()) != 1 || !strings.Contains(cat.Problems()[0].Error(), "writable") {
		t.Errorf("world-writable binary: plugins %v, problems %v", cat.Plugins(), cat.Problems())
	}
	cat.Close()
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if _, err := external.Discover(context.Background(), external.Options{Dir: dir, Logger: log}); err == nil || !strings.Contains(err.Error(), "writable") {
		t.Errorf("world-writable directory: err = %v", err)
	}
	cat, err = external.Discover(context.Background(), external.Options{Dir: dir, Logger: log, AllowWritable: true})
	if err != nil || len(cat.Plugins()) == 0 {
		t.Errorf("AllowWritable: %v, %v", cat, err)
	}
	if cat != nil {
		cat.Close()
	}
}

// TestPluginTransport looks at a running plugin from the outside: it must
// hold no TCP or UDP socket, listen on a unix socket other users cannot
// connect to, in a directory private to the owner (the rule; a
// sticky /tmp is not private).
func TestPluginTransport(t *testing.T) {
	h := newHost(t, external.Options{}, nil, "echo")
	if _, err := execute(h.action(t, "echo"), "x"); err != nil {
		t.Fatal(err)
	}
	pids := pidsOf(t, "echo")
	if len(pids) != 1 {
		t.Fatalf("echo processes: %v", pids)
	}
	pid := strconv.Itoa(pids[0])
	inodes := map[string]bool{}
	fds, err := os.ReadDir(filepath.Join("/proc", pid, "fd"))
	if err != nil {
		t.Fatal(err)
	}
	for _, fd := range fds {
		l, err := os.Readlink(filepath.Join("/proc", pid, "fd", fd.Name()))
		if err == nil && strings.HasPrefix(l, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]")] = true
		}
	}
	for _, table := range []string{"tcp", "tcp6", "udp", "udp6"} {
		f, err := os.Open(filepath.Join("/proc", pid, "net", table))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) > 9 && inodes[fields[9]] {
				t.Errorf("plugin holds an IP socket (%s): %s", table, sc.Text())
			}
		}
		f.Close()
	}
	// The unix socket the plugin listens on, from /proc/net/unix (path column).
	f, err := os.Open(filepath.Join("/proc", pid, "net", "unix"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	found := 0
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 8 || !inodes[fields[6]] || fields[5] != "01" && fields[3] != "00010000" {
			continue
		}
		path := fields[7]
		st, err := os.Stat(path)
		if err != nil {
			continue
		}
		found++
		dirSt, _ := os.Stat(filepath.Dir(path))
		t.Logf("plugin listens on unix socket %s (mode %v) in %s (mode %v)", path, st.Mode(), filepath.Dir(path), dirSt.Mode())
		if st.Mode().Perm()&0o022 != 0 { // connect(2) needs write permission
			t.Errorf("socket %s can be connected to by other users: mode %v", path, st.Mode().Perm())
		}
		if dirSt.Mode().Perm()&0o077 != 0 {
			t.Errorf("socket %s lives in %s, which other users can access (mode %v): not a private directory", path, filepath.Dir(path), dirSt.Mode().Perm())
		}
	}
	if found == 0 {
		t.Errorf("no listening unix socket found for plugin %s", pid)
	}
}
