package faults

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/external"
	"github.com/rigging-dev/rigging/manager"
	"github.com/rigging-dev/rigging/registry"
)

// TestHostilePluginDir discovers a plugin directory full of broken and
// hostile binaries next to one good plugin. Discovery must return within a
// bound set by ProbeTimeout, report every bad binary by path with the
// reason, register none of their plugins, and the good plugin must work.
func TestHostilePluginDir(t *testing.T) {
	dir := pluginDir(t, "exit", "silent", "cookie", "version", "netrpc", "junk", "badnames", "dupnames", "echo", "zz-dup", "many")
	if err := os.WriteFile(filepath.Join(dir, "not-executable"), []byte("#!/bin/sh\necho hi\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "a-directory", "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("loop-b", filepath.Join(dir, "loop-a")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("loop-a", filepath.Join(dir, "loop-b")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("does-not-exist", filepath.Join(dir, "dangling")); err != nil {
		t.Fatal(err)
	}
	log, logs := newLogger(t)
	const probe = 3 * time.Second
	before := children(t)
	start := time.Now()
	cat, err := external.Discover(context.Background(), external.Options{Dir: dir, ProbeTimeout: probe, StartTimeout: probe, Logger: log})
	elapsed := time.Since(start)
	if err != nil {
		t.Fatalf("Discover: %v", err)
	}
	defer cat.Close()
	t.Logf("discovery of %s took %v", dir, elapsed.Round(time.Millisecond))
	// The silent binary costs one ProbeTimeout; everything else starts in
	// well under a second. Probes run GOMAXPROCS at a time.
	if bound := 2*probe + 10*time.Second; elapsed > bound {
		t.Errorf("discovery took %v, more than %v", elapsed, bound)
	}

	problems := map[string]string{}
	for _, p := range cat.Problems() {
		problems[filepath.Base(p.Path)] = p.Err.Error()
		t.Logf("problem: %s: %v", filepath.Base(p.Path), p.Err)
	}
	want := map[string]string{ // binary -> text its reason must contain
		"exit":     "Failed to read any lines from plugin's stdout",
		"silent":   "timeout while waiting for plugin to start",
		"cookie":   "Failed to read any lines from plugin's stdout",
		"version":  "incompatible API version with plugin. Plugin version: 5",
		"netrpc":   "netrpc",
		"junk":     "starting up, please wait",
		"badnames": "ListPlugins",
		"dupnames": "listed twice",
		"zz-dup":   "already provided by " + filepath.Join(dir, "echo"),
		"loop-a":   "too many levels of symbolic links",
		"loop-b":   "too many levels of symbolic links",
		"dangling": "no such file",
	}
	for bin, reason := range want {
		got, ok := problems[bin]
		if !ok {
			t.Errorf("%s: not reported as a problem", bin)
			continue
		}
		if !strings.Contains(got, reason) {
			t.Errorf("%s: reason %q does not contain %q", bin, got, reason)
		}
	}
	if !strings.Contains(logs.String(), "not-executable") {
		t.Errorf("the non-executable file is not named in the logs")
	}
	for _, p := range cat.Plugins() {
		switch b := filepath.Base(p.Source); b {
		case "echo", "many", "zz-dup": // zz-dup: none of its plugins, all duplicates
		default:
			t.Errorf("plugin %s %s registered from bad binary %s", p.Kind, p.Name, b)
		}
	}
	var many int
	for _, p := range cat.Plugins() {
		if filepath.Base(p.Source) == "many" {
			many++
		}
	}
	t.Logf("the binary listing 100 000 plugins: %d registered", many)
	if many != 0 && many != 100_000 {
		t.Errorf("the binary listing 100 000 plugins got %d registered: all or none", many)
	}

	// The good plugin works, through the Manager as the CLI uses it.
	m := manager.New(manager.Options{Registry: registry.New(), External: cat, Logger: log})
	defer m.Close()
	start = time.Now()
	a, err := m.BackupItemAction(context.Background(), "faults.rigging.dev/echo")
	if err != nil {
		t.Fatal(err)
	}
	out, _, err := a.Execute(context.Background(), configMap("ns", "c", 0), &rigging.Backup{})
	if err != nil || out.GetAnnotations()["faults.rigging.dev/seen-by"] != "echo" {
		t.Fatalf("good plugin: %v, %v", out, err)
	}
	t.Logf("first call of the good plugin (process start included): %v", time.Since(start).Round(time.Millisecond))
	if err := m.Close(); err != nil {
		t.Error(err)
	}
	if err := cat.Close(); err != nil {
		t.Error(err)
	}
	if after := children(t); len(after) > len(before) {
		t.Errorf("child processes left after discovery and close: %v (before: %v)", after, before)
	}
}

// configMap returns a ConfigMap whose data holds size bytes.
func configMap(ns, name string, size int) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": name, "namespace": ns},
		"data":     map[string]any{"blob": strings.Repeat("b", size)},
	}}
	return u
}
