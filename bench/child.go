package bench

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/external/plugin"
	"github.com/rigging-dev/rigging/manifest"
	"github.com/rigging-dev/rigging/registry"
	"github.com/rigging-dev/rigging/resources"
)

// EnvPluginProfile, set to a path prefix, makes a plugin process served by
// ServeIfChild write a CPU profile to PREFIX.PID until it is shut down
// (the plugin side of the RPC profiles in docs/BENCHMARKS.md).
const EnvPluginProfile = "RIGGING_BENCH_PLUGIN_CPUPROFILE"

// EnvFloor, set to a directory, makes ServeIfChild run ServeFloor there.
const EnvFloor = "RIGGING_BENCH_FLOOR"

// EnvLookup, set to manifest files or directories (separated by the OS
// path-list separator), makes the plugins served by ServeIfChild find a
// Lookup over their objects (plugin.ServeOptions.Lookup) instead of a
// cluster's: a plugin process then sees the objects an in-process run
// over the same manifests sees.
const EnvLookup = "RIGGING_BENCH_LOOKUP"

// ServeIfChild serves what the harness starts this binary for and reports
// whether it did: the floors when EnvFloor is set (until stdin closes), or
// the plugins of registry.Default (plus the benchmark plugins when
// EnvPlugins=1) when a plugin host started it. A test binary's TestMain or
// a benchmark program's main calls it first and exits when it returns true.
func ServeIfChild() bool {
	if os.Getenv(EnvRSSLauncher) == "1" {
		os.Exit(launch(os.Args[1:]))
	}
	if dir := os.Getenv(EnvFloor); dir != "" {
		if err := ServeFloor(dir, os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return true
	}
	if os.Getenv(plugin.Handshake.MagicCookieKey) != plugin.Handshake.MagicCookieValue {
		return false
	}
	if os.Getenv(EnvPlugins) == "1" {
		RegisterPlugins(registry.Default)
	}
	if path := os.Getenv(EnvPluginProfile); path != "" {
		if f, err := os.Create(fmt.Sprintf("%s.%d", path, os.Getpid())); err == nil {
			if pprof.StartCPUProfile(f) == nil {
				defer pprof.StopCPUProfile()
			}
		}
	}
	plugin.Serve(ChildServeOptions())
	return true
}

// ChildServeOptions returns the options a plugin process that a benchmark
// starts serves with (ServeIfChild, and `rigging run-plugins` for `rigging
// bench`): with EnvLookup set, its plugins' Lookup holds those manifests'
// objects, the ones the in-process run's Lookup holds, so that both sides
// do the same work and the benchmark reads no cluster; otherwise the
// defaults.
func ChildServeOptions() plugin.ServeOptions {
	var opts plugin.ServeOptions
	if paths := os.Getenv(EnvLookup); paths != "" {
		opts.Lookup = func() (rigging.Lookup, error) { return manifestLookup(filepath.SplitList(paths)) }
	}
	return opts
}

// manifestLookup returns a Lookup over the objects of the manifests at paths.
func manifestLookup(paths []string) (rigging.Lookup, error) {
	objs, err := manifest.Load(paths...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", EnvLookup, err)
	}
	index := resources.NewIndex(resources.NewMapper())
	if err := index.Add(objs...); err != nil {
		return nil, fmt.Errorf("%s: %w", EnvLookup, err)
	}
	return index, nil
}

// FloorCommand returns a Config.FloorCommand starting bin with args and
// EnvFloor set to the directory (bin must call ServeIfChild, or ServeFloor
// for those args).
func FloorCommand(bin string, args ...string) func(dir string) *exec.Cmd {
	return func(dir string) *exec.Cmd {
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), EnvFloor+"="+dir)
		return cmd
	}
}
