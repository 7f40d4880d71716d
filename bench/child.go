package bench

import (
	"fmt"
	"os"
	"os/exec"
	"runtime/pprof"

	"github.com/rigging-dev/rigging/external/plugin"
	"github.com/rigging-dev/rigging/registry"
)

// EnvPluginProfile, set to a path prefix, makes a plugin process served by
// ServeIfChild write a CPU profile to PREFIX.PID until it is shut down
// (the plugin side of the RPC profiles in docs/BENCHMARKS.md).
const EnvPluginProfile = "RIGGING_BENCH_PLUGIN_CPUPROFILE"

// EnvFloor, set to a directory, makes ServeIfChild run ServeFloor there.
const EnvFloor = "RIGGING_BENCH_FLOOR"

// ServeIfChild serves what the harness starts this binary for and reports
// whether it did: the floors when EnvFloor is set (until stdin closes), or
// the plugins of registry.Default (plus the benchmark plugins when
// EnvPlugins=1) when a plugin host started it. A test binary's TestMain or
// a benchmark program's main calls it first and exits when it returns true.
func ServeIfChild() bool {
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
	plugin.Serve(plugin.ServeOptions{})
	return true
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
